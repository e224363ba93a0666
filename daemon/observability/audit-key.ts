/**
 * The installation's audit key: 32 random bytes in `$DEPLOYSTACK_HOME/audit.key` (0600), the HMAC key of
 * `audit.arguments: hash` (see audit-arguments.ts). Created on first use, so installations that never hash keep no
 * key; read once per process.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, openSync, readFileSync, writeSync, closeSync } from "node:fs";

const KEY_BYTES = 32;

/** Returns a loader of the key at `path`, which creates the file (exclusively, 0600) when it does not exist. */
export function auditKeyLoader(path: string): () => Buffer {
  let key: Buffer | undefined;
  return () => {
    if (key) return key;
    try {
      const fd = openSync(path, "wx", 0o600);
      try {
        writeSync(fd, randomBytes(KEY_BYTES).toString("hex"));
      } finally {
        closeSync(fd);
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    chmodSync(path, 0o600);
    const text = readFileSync(path, "utf8").trim();
    if (!/^[0-9a-f]{64}$/.test(text)) throw new Error(`the audit key "${path}" is damaged; delete it to make a new one`);
    key = Buffer.from(text, "hex");
    return key;
  };
}
