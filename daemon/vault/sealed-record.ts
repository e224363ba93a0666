import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";
import { GatewayError } from "../errors.js";

/**
 * The on-disk format of one vault record, and nothing else: pure functions, no I/O.
 *
 * A record is one line of header JSON, a newline, then `nonce (12) | ciphertext | tag (16)`
 * of AES-256-GCM. The header (`{"v":1,"alg":"A256GCM","record":"tokens","kid":"…"}`) is
 * the GCM additional authenticated data, byte for byte, so changing it — the version, or
 * the record name to pass one record's ciphertext off as another's — breaks the tag just
 * like flipping a bit of the ciphertext does. A fresh random 96-bit nonce is drawn for
 * every write (NIST SP 800-38D §8.2.2: with random nonces, stay far below 2^32
 * encryptions per key — a state folder writes a few records a day).
 * `kid` is a 64-bit HMAC of a constant under the key: it identifies the key without
 * revealing it, so a read can tell "wrong key" apart from "tampered".
 */

/** The only format version written and read. */
export const RECORD_VERSION = 1;
const ALGORITHM = "A256GCM";
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const MAX_HEADER_BYTES = 1024;

interface RecordHeader {
  readonly v: number;
  readonly alg: string;
  readonly record: string;
  readonly kid: string;
}

/** Identifies a key by an HMAC of a fixed label; safe to store in the clear. */
export function keyIdOf(key: Uint8Array): string {
  return createHmac("sha256", key).update("deploystack-gateway vault key id").digest("hex").slice(0, 16);
}

/** Encrypts `plaintext` as the record `name` under `key` (32 bytes). */
export function sealRecord(key: Uint8Array, name: string, plaintext: Uint8Array): Buffer {
  const header = Buffer.from(JSON.stringify({ v: RECORD_VERSION, alg: ALGORITHM, record: name, kid: keyIdOf(key) } satisfies RecordHeader), "utf8");
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(header);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([header, Buffer.from("\n"), nonce, ciphertext, cipher.getAuthTag()]);
}

/** Where the key in use came from, for messages that tell the user what to fix. */
export interface KeyDescription {
  readonly key: Uint8Array;
  /** For example `the key file /home/me/.deploystack/vault.key`. */
  readonly origin: string;
}

/**
 * Decrypts and authenticates the record `name`. Every failure — truncation, a changed
 * header, a record written under another name, a flipped bit, a different key — is a
 * `GatewayError` saying which record failed and why; nothing is ever returned unverified.
 */
export function openRecord(keyInfo: KeyDescription, name: string, sealed: Uint8Array): Buffer {
  const bytes = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  const newline = bytes.subarray(0, MAX_HEADER_BYTES + 1).indexOf(0x0a);
  if (newline <= 0) throw damaged(name, "its header is missing or unreadable");
  const headerBytes = bytes.subarray(0, newline);
  let header: Partial<RecordHeader>;
  try {
    header = JSON.parse(headerBytes.toString("utf8")) as Partial<RecordHeader>;
  } catch {
    throw damaged(name, "its header is not valid JSON");
  }
  if (header === null || typeof header !== "object") throw damaged(name, "its header is not an object");
  if (header.v !== RECORD_VERSION || header.alg !== ALGORITHM) {
    throw damaged(name, `it has an unsupported format (version ${String(header.v)}, algorithm ${String(header.alg)})`);
  }
  if (header.record !== name) throw damaged(name, "it holds a different record (it was copied or swapped)");
  const body = bytes.subarray(newline + 1);
  if (body.length < NONCE_BYTES + TAG_BYTES) throw damaged(name, "it is truncated");
  if (header.kid !== keyIdOf(keyInfo.key)) {
    throw new GatewayError(
      "failed_precondition",
      `vault record "${name}" failed authentication: it was encrypted with a different key than ${keyInfo.origin} — restore the original key, or remove the record (\`dsctl logout\`) and log in again`,
    );
  }
  const nonce = body.subarray(0, NONCE_BYTES);
  const tag = body.subarray(body.length - TAG_BYTES);
  const ciphertext = body.subarray(NONCE_BYTES, body.length - TAG_BYTES);
  const decipher = createDecipheriv("aes-256-gcm", keyInfo.key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(headerBytes);
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch (error) {
    throw damaged(name, "it was modified or is corrupt", error);
  }
}

function damaged(name: string, why: string, cause?: unknown): GatewayError {
  return new GatewayError(
    "failed_precondition",
    `vault record "${name}" failed authentication: ${why} — it is not used; remove it (\`dsctl logout\`) and log in again`,
    cause === undefined ? undefined : { cause },
  );
}
