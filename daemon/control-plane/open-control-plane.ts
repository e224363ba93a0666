import { join } from "node:path";
import type { Logger } from "../../shared/logger.js";
import type { StatePaths } from "../../shared/paths.js";
import { createConfigHasher } from "../cache/config-hash.js";
import { createToolCache } from "../cache/tool-cache.js";
import { createCloudClient } from "../cloud/cloud-client.js";
import type { TeamsFile } from "../config/types.js";
import type { EventHub } from "../events.js";
import { createOsKeychain } from "../vault/keychain.js";
import { createVault, type Vault } from "../vault/vault.js";
import { createCacheSeeding } from "./cache-seeding.js";
import { createControlPlane, type ControlPlane } from "./control-plane.js";
import { createTeamChoiceStore } from "./team-choice.js";

/**
 * Builds the control plane with its stores, for the composition root: the vault (key from
 * `DEPLOYSTACK_MASTER_KEY`, the key file or the OS keychain — bounded so a locked keychain
 * never hangs start-up), the DeployStack client and the tool cache. A vault that cannot be
 * opened (a wrong master key, an unreadable key file) is logged as the one clear reason and
 * leaves the daemon on the file source, without login and without the tool cache, rather
 * than refusing to start the team's servers.
 */

/** Inputs of `openControlPlane`. */
export interface OpenControlPlaneOptions {
  readonly home: string;
  readonly paths: StatePaths;
  readonly env: NodeJS.ProcessEnv;
  readonly logger: Logger;
  readonly events: EventHub;
  readonly initialFile: TeamsFile;
  readonly loadFile: () => Promise<TeamsFile>;
  readonly cloudUrl?: string;
  readonly callbackPort?: number;
  readonly syncIntervalMs?: number;
}

/**
 * Opens the vault and the stores, then creates the control plane (see control-plane.ts). The
 * vault is handed back too (undefined when it could not be opened): remote servers' OAuth
 * tokens live in it as well.
 */
export async function openControlPlane(options: OpenControlPlaneOptions): Promise<ControlPlane & { readonly vault: Vault | undefined }> {
  const { logger } = options;
  let vault: Vault | undefined;
  try {
    vault = await createVault({
      home: options.home,
      env: options.env,
      keychain: createOsKeychain({ env: options.env }) ?? null,
      logger: logger.child({ component: "vault" }),
    });
  } catch (error) {
    logger.error(
      { reason: (error as Error).message },
      "the vault cannot be opened: running the team file only (no DeployStack login, no tool cache)",
    );
  }
  const cloud = vault && createCloudClient({ vault, baseUrl: options.cloudUrl, logger: logger.child({ component: "cloud" }) });
  const cache =
    vault &&
    createCacheSeeding({
      cache: createToolCache({ cacheDir: options.paths.cacheDir, logger: logger.child({ component: "tool-cache" }) }),
      configHash: createConfigHasher(vault.deriveKey("tool-cache")),
      logger,
    });
  const plane = await createControlPlane({
    logger,
    events: options.events,
    initialFile: options.initialFile,
    loadFile: options.loadFile,
    choices: createTeamChoiceStore({ home: options.home, vault, logger }),
    cloud,
    cache,
    syncIntervalMs: options.syncIntervalMs,
    callbackPort: options.callbackPort,
    serversDir: join(options.home, "servers"),
  });
  return Object.assign(plane, { vault });
}
