import { randomBytes as nodeRandomBytes } from "node:crypto";

/** Source of random bytes; injectable so tests can check the id format with known input. */
export type RandomBytes = (size: number) => Buffer;

/** The bytes of entropy in a session id: 256 bits, so ids cannot be guessed by another local web page or user. */
export const SESSION_ID_BYTES = 32;

/** The shape of every id this frontend hands out: 43 base64url characters (visible ASCII, as the spec requires). */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/**
 * Creates a session id: 256 random bits, base64url without padding (2025-11-25 "Session Management": globally
 * unique, cryptographically secure, visible ASCII only).
 */
export function createSessionId(randomBytes: RandomBytes = nodeRandomBytes): string {
  return randomBytes(SESSION_ID_BYTES).toString("base64url");
}
