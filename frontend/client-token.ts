import { randomBytes } from "node:crypto";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { ensurePrivateDir } from "../shared/paths.js";

/**
 * Reads the client bearer token (`$DEPLOYSTACK_HOME/client.token`), creating it when missing: 32 random bytes,
 * base64url, mode 0600, written with O_EXCL so a daemon creating it at the same moment cannot be overwritten.
 * The token is never logged.
 */
export function loadOrCreateClientToken(path: string): string {
  const existing = readToken(path);
  if (existing) return existing;
  ensurePrivateDir(dirname(path));
  try {
    writeFileSync(path, `${randomBytes(32).toString("base64url")}\n`, { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  chmodSync(path, 0o600);
  const created = readToken(path);
  if (!created) throw new Error(`client token file "${path}" is empty`);
  return created;
}

function readToken(path: string): string | undefined {
  try {
    const text = readFileSync(path, "utf8").trim();
    return text === "" ? undefined : text;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}
