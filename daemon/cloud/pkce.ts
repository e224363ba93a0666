import { createHash, randomBytes } from "node:crypto";

/**
 * Proof Key for Code Exchange (RFC 7636) with the S256 method: the verifier is 32 random
 * bytes in base64url (43 characters, the minimum length of §4.1 with 256 bits of entropy)
 * and the challenge is base64url(SHA-256(verifier)) (§4.2). A stolen authorization code is
 * useless without the verifier, which never leaves the daemon.
 */

/** A verifier and its S256 challenge. */
export interface PkcePair {
  readonly verifier: string;
  readonly challenge: string;
  readonly method: "S256";
}

/** Creates a fresh pair for one login. */
export function createPkcePair(): PkcePair {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: s256Challenge(verifier), method: "S256" };
}

/** The S256 challenge of `verifier`. */
export function s256Challenge(verifier: string): string {
  return createHash("sha256").update(verifier, "ascii").digest("base64url");
}

/** An unguessable `state` value (RFC 6749 §10.12) binding the callback to this login. */
export function createOAuthState(): string {
  return randomBytes(24).toString("base64url");
}
