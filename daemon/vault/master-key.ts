import { createHash, randomBytes } from "node:crypto";
import { readFile, stat, chmod } from "node:fs/promises";
import { join } from "node:path";
import { silentLogger, type Logger } from "../../shared/logger.js";
import { ensurePrivateDir } from "../../shared/paths.js";
import { GatewayError } from "../errors.js";
import { createFileExclusive, writeFileAtomic } from "./atomic-file.js";
import type { Keychain } from "./keychain.js";
import { existsSync } from "node:fs";

/**
 * Where the vault's 256-bit master key comes from, in this order:
 * 1. `DEPLOYSTACK_MASTER_KEY` (64 hex characters or base64 of 32 bytes) — explicit wins;
 *    a malformed value is an error, never silently replaced by another key.
 * 2. The key file `$DEPLOYSTACK_HOME/vault.key` (0600) when it already exists.
 * 3. The OS keychain, when there is one and it answers within the timeout.
 * 4. A new key file (32 random bytes, 0600).
 * An existing key file is read before the keychain is asked so that the source chosen
 * the first time sticks: a keychain that was absent at first and appears later (a
 * desktop session after an SSH one) must not mint a second key that cannot open the
 * records. Likewise, once the key lives in the keychain (`vault/key-source` says so), a
 * keychain that does not answer is an error rather than a reason to start a key file.
 */

/** The key and a description of its origin for messages. */
export interface MasterKey {
  readonly key: Buffer;
  readonly source: "env" | "file" | "keychain";
  /** For example `the key file /home/me/.deploystack/vault.key`. */
  readonly origin: string;
}

/** Inputs of `resolveMasterKey`. */
export interface MasterKeyOptions {
  readonly home: string;
  readonly env?: NodeJS.ProcessEnv;
  /** The OS keychain; undefined or null skips it. */
  readonly keychain?: Keychain | null;
  /** Bound on each keychain call; default 2000 ms. */
  readonly keychainTimeoutMs?: number;
  readonly logger?: Logger;
}

/** Name of the environment variable that supplies the key. */
export const MASTER_KEY_ENV = "DEPLOYSTACK_MASTER_KEY";
const KEY_BYTES = 32;
const KEYCHAIN_SERVICE = "deploystack-gateway";

/** Path of the key file under a state folder. */
export function keyFilePath(home: string): string {
  return join(home, "vault.key");
}

/** The folder of the vault's records. */
export function vaultDir(home: string): string {
  return join(home, "vault");
}

function keySourceMarker(home: string): string {
  return join(vaultDir(home), "key-source");
}

/** Resolves the master key as described above. */
export async function resolveMasterKey(options: MasterKeyOptions): Promise<MasterKey> {
  const env = options.env ?? process.env;
  const logger = options.logger ?? silentLogger;
  const fromEnv = env[MASTER_KEY_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== "") {
    return { key: parseMasterKey(fromEnv), source: "env", origin: `the key in ${MASTER_KEY_ENV}` };
  }

  ensurePrivateDir(options.home);
  ensurePrivateDir(vaultDir(options.home));
  const filePath = keyFilePath(options.home);
  if (existsSync(filePath)) return readKeyFile(filePath, logger);

  const keychain = options.keychain ?? undefined;
  const keyLivesInKeychain = existsSync(keySourceMarker(options.home));
  if (keychain) {
    const timeoutMs = options.keychainTimeoutMs ?? 2_000;
    try {
      return await keyFromKeychain(keychain, options.home, timeoutMs);
    } catch (error) {
      if (keyLivesInKeychain) {
        throw new GatewayError(
          "unavailable",
          `the vault key is kept in ${keychain.description}, which ${describeFailure(error, timeoutMs)} — unlock it and retry, or set ${MASTER_KEY_ENV}`,
          { cause: error },
        );
      }
      logger.warn({ reason: describeFailure(error, timeoutMs) }, "OS keychain not usable; keeping the vault key in a key file");
    }
  } else if (keyLivesInKeychain) {
    throw new GatewayError(
      "unavailable",
      `the vault key is kept in the OS keychain, which is not available in this session — run the gateway in your desktop session, or set ${MASTER_KEY_ENV}`,
    );
  }
  return createKeyFile(filePath, logger);
}

/** Parses `DEPLOYSTACK_MASTER_KEY`: 64 hex characters, or base64/base64url of exactly 32 bytes. */
export function parseMasterKey(text: string): Buffer {
  const value = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(value)) return Buffer.from(value, "hex");
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) {
    const decoded = Buffer.from(value.replace(/-/g, "+").replace(/_/g, "/"), "base64");
    if (decoded.length === KEY_BYTES) return decoded;
  }
  throw new GatewayError(
    "invalid_argument",
    `${MASTER_KEY_ENV} must be 32 bytes written as 64 hex characters or as base64 (the value is not shown)`,
  );
}

async function readKeyFile(path: string, logger: Logger): Promise<MasterKey> {
  const info = await stat(path);
  if ((info.mode & 0o077) !== 0) {
    logger.warn({ path, mode: (info.mode & 0o777).toString(8) }, "vault key file was readable by others; tightened to 0600");
    await chmod(path, 0o600);
  }
  const key = await readFile(path);
  if (key.length !== KEY_BYTES) {
    throw new GatewayError(
      "failed_precondition",
      `the vault key file ${path} is damaged (it must hold exactly ${KEY_BYTES} bytes) — restore it, or remove it together with the vault folder and log in again`,
    );
  }
  return { key, source: "file", origin: `the key file ${path}` };
}

async function createKeyFile(path: string, logger: Logger): Promise<MasterKey> {
  const created = await createFileExclusive(path, randomBytes(KEY_BYTES), { mode: 0o600 });
  if (created) logger.info({ path }, "created a new vault key file");
  return readKeyFile(path, logger);
}

/**
 * Reads the key from the keychain, creating it there on first use. A newly stored key is
 * read back before it is trusted, and the marker file records that the key lives there.
 */
async function keyFromKeychain(keychain: Keychain, home: string, timeoutMs: number): Promise<MasterKey> {
  const account = `vault-key-${createHash("sha256").update(home).digest("hex").slice(0, 16)}`;
  const origin = `the key in ${keychain.description} (service "${KEYCHAIN_SERVICE}", account "${account}")`;
  const stored = await withTimeout(timeoutMs, (signal) => keychain.get(KEYCHAIN_SERVICE, account, signal));
  if (stored !== null) {
    const key = Buffer.from(stored, "base64");
    if (key.length !== KEY_BYTES) {
      throw new GatewayError("failed_precondition", `${origin} is damaged (it must decode to ${KEY_BYTES} bytes)`);
    }
    await writeFileAtomic(keySourceMarker(home), "keychain\n");
    return { key, source: "keychain", origin };
  }
  const fresh = randomBytes(KEY_BYTES).toString("base64");
  await withTimeout(timeoutMs, (signal) => keychain.set(KEYCHAIN_SERVICE, account, fresh, signal));
  const readBack = await withTimeout(timeoutMs, (signal) => keychain.get(KEYCHAIN_SERVICE, account, signal));
  if (readBack !== fresh) throw new Error("the keychain did not return the key just stored");
  await writeFileAtomic(keySourceMarker(home), "keychain\n");
  return { key: Buffer.from(fresh, "base64"), source: "keychain", origin };
}

class KeychainTimeout extends Error {}

/** Races `work` against a timer; the signal tells the native call to give up too. */
async function withTimeout<T>(timeoutMs: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new KeychainTimeout());
    }, timeoutMs);
    timer.unref();
  });
  try {
    return await Promise.race([work(controller.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function describeFailure(error: unknown, timeoutMs: number): string {
  if (error instanceof KeychainTimeout) return `did not answer within ${timeoutMs} ms`;
  return `could not be used (${error instanceof Error ? error.message : String(error)})`;
}
