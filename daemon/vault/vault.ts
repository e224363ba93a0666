import { hkdfSync } from "node:crypto";
import { readFile, readdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import { silentLogger, type Logger } from "../../shared/logger.js";
import { ensurePrivateDir } from "../../shared/paths.js";
import { GatewayError } from "../errors.js";
import type { JsonObject } from "../upstream/types.js";
import { writeFileAtomic } from "./atomic-file.js";
import type { Keychain } from "./keychain.js";
import { resolveMasterKey, vaultDir, type MasterKey } from "./master-key.js";
import { openRecord, sealRecord } from "./sealed-record.js";

/**
 * Encrypted storage for what the gateway must keep but nobody else may read: the
 * DeployStack session tokens and the downloaded server configurations (whose env values
 * are the team's credentials). Each named record is one JSON object, sealed with
 * AES-256-GCM (sealed-record.ts) and written atomically (temp file, fsync, rename) as
 * `$DEPLOYSTACK_HOME/vault/<name>.sealed`, 0600 in a 0700 folder. A record that fails
 * authentication is reported as an error naming it — never skipped, never overwritten
 * by a read.
 */

/** Record names: short, file-name safe, no path separators, never starting with a dot. */
export const VAULT_RECORD_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/;
const SUFFIX = ".sealed";

/** The vault's operations. */
export interface Vault {
  /** Where the key came from (`env`, `file`, `keychain`). */
  readonly keySource: MasterKey["source"];
  /** The record's object, or undefined when there is none. Rejects when it fails authentication. */
  read(name: string): Promise<JsonObject | undefined>;
  /** Replaces the record atomically. */
  write(name: string, value: JsonObject): Promise<void>;
  /** Removes the record; no error when it does not exist. */
  remove(name: string): Promise<void>;
  /** Removes every record whose name starts with `prefix` (all when omitted); returns their names. */
  wipe(prefix?: string): Promise<string[]>;
  /** Names of the records present, optionally only those starting with `prefix`. */
  list(prefix?: string): Promise<string[]>;
  /**
   * A 32-byte key for another purpose (for example keyed hashes in the tool cache),
   * derived from the master key with HKDF-SHA256 so that it never equals the master key
   * and one purpose's key says nothing about another's.
   */
  deriveKey(purpose: string): Buffer;
}

/** Inputs of `createVault`. */
export interface VaultOptions {
  /** `$DEPLOYSTACK_HOME`. */
  readonly home: string;
  /** Where `DEPLOYSTACK_MASTER_KEY` is read; default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** The OS keychain (`createOsKeychain()`); null or omitted uses the key file. */
  readonly keychain?: Keychain | null;
  readonly keychainTimeoutMs?: number;
  readonly logger?: Logger;
}

/** Opens the vault under `home`, resolving its key (see master-key.ts). */
export async function createVault(options: VaultOptions): Promise<Vault> {
  const logger = options.logger ?? silentLogger;
  const master = await resolveMasterKey({
    home: options.home,
    env: options.env,
    keychain: options.keychain,
    keychainTimeoutMs: options.keychainTimeoutMs,
    logger,
  });
  const dir = vaultDir(options.home);
  ensurePrivateDir(options.home);
  ensurePrivateDir(dir);
  const keyInfo = { key: master.key, origin: master.origin };
  const pathOf = (name: string): string => join(dir, checkName(name) + SUFFIX);

  const list = async (prefix = ""): Promise<string[]> => {
    const entries = await readdir(dir);
    return entries
      .filter((entry) => entry.endsWith(SUFFIX))
      .map((entry) => entry.slice(0, -SUFFIX.length))
      .filter((name) => VAULT_RECORD_NAME.test(name) && name.startsWith(prefix))
      .sort();
  };

  const remove = async (name: string): Promise<void> => {
    try {
      await unlink(pathOf(name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  };

  return {
    keySource: master.source,
    async read(name) {
      let sealed: Buffer;
      try {
        sealed = await readFile(pathOf(name));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw error;
      }
      const plaintext = openRecord(keyInfo, name, sealed);
      let value: unknown;
      try {
        value = JSON.parse(plaintext.toString("utf8"));
      } catch (error) {
        throw new GatewayError("internal", `vault record "${name}" is authentic but not valid JSON`, { cause: error });
      }
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        throw new GatewayError("internal", `vault record "${name}" is authentic but not a JSON object`);
      }
      return value as JsonObject;
    },
    async write(name, value) {
      const path = pathOf(name);
      await writeFileAtomic(path, sealRecord(master.key, name, Buffer.from(JSON.stringify(value), "utf8")), { mode: 0o600 });
    },
    remove,
    async wipe(prefix = "") {
      const names = await list(prefix);
      for (const name of names) await remove(name);
      if (names.length > 0) logger.info({ records: names }, "vault records removed");
      return names;
    },
    list,
    deriveKey(purpose) {
      return Buffer.from(hkdfSync("sha256", master.key, Buffer.alloc(0), `deploystack-gateway/${purpose}`, 32));
    },
  };
}

function checkName(name: string): string {
  if (!VAULT_RECORD_NAME.test(name)) {
    throw new GatewayError("invalid_argument", `vault record name "${name}" must match ${VAULT_RECORD_NAME.source}`);
  }
  return name;
}
