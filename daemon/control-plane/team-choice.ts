import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { silentLogger, type Logger } from "../../shared/logger.js";
import type { Vault } from "../vault/vault.js";
import { writeFileAtomic } from "../vault/atomic-file.js";

/**
 * Remembers which team the user switched to, per config source, so a restart keeps it.
 * A team id is not a secret, but a cloud team id belongs to the signed-in account: it is
 * kept in the vault as `cloud.current-team`, which `logout` wipes with the rest of the
 * account (`cloud.*`). The file source's choice is a small plain file,
 * `$DEPLOYSTACK_HOME/current-team.json`, usable even when the vault cannot be opened.
 */

/** The config sources a choice is kept for. */
export type ChoiceSource = "file" | "deploystack";

/** The persisted choices. */
export interface TeamChoiceStore {
  /** The team id chosen last for `source`, if any. */
  read(source: ChoiceSource): Promise<string | undefined>;
  write(source: ChoiceSource, teamId: string): Promise<void>;
  /** Forgets the choice of `source`. */
  clear(source: ChoiceSource): Promise<void>;
}

/** The vault record of the cloud source's choice (`cloud.` so that logout wipes it). */
export const CLOUD_TEAM_CHOICE_RECORD = "cloud.current-team";

/** Inputs of `createTeamChoiceStore`. */
export interface TeamChoiceStoreOptions {
  readonly home: string;
  readonly vault?: Vault;
  readonly logger?: Logger;
}

/** Creates the store; read failures are logged and read as "no choice" (the default team applies). */
export function createTeamChoiceStore(options: TeamChoiceStoreOptions): TeamChoiceStore {
  const logger = options.logger ?? silentLogger;
  const filePath = join(options.home, "current-team.json");
  return {
    async read(source) {
      try {
        if (source === "deploystack") {
          const record = await options.vault?.read(CLOUD_TEAM_CHOICE_RECORD);
          return typeof record?.team === "string" ? record.team : undefined;
        }
        const parsed = JSON.parse(await readFile(filePath, "utf8")) as { team?: unknown };
        return typeof parsed.team === "string" ? parsed.team : undefined;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
          logger.warn({ source, reason: (error as Error).message }, "cannot read the remembered team; using the default team");
        }
        return undefined;
      }
    },
    async write(source, teamId) {
      if (source === "deploystack") {
        await options.vault?.write(CLOUD_TEAM_CHOICE_RECORD, { team: teamId });
        return;
      }
      await writeFileAtomic(filePath, `${JSON.stringify({ version: 1, team: teamId })}\n`);
    },
    async clear(source) {
      if (source === "deploystack") await options.vault?.remove(CLOUD_TEAM_CHOICE_RECORD);
      else await rm(filePath, { force: true });
    },
  };
}
