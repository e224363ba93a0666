import { randomBytes, createHash, timingSafeEqual } from "node:crypto";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { GatewayError } from "./errors.js";

/**
 * The bearer token of the loopback TCP control listener (`$DEPLOYSTACK_HOME/control.token`).
 * Any local user can reach a loopback port, so a dashboard must prove it can read a file
 * only this user can read (0600). The token is created on first use and never logged.
 */

/** Reads the token at `path`, creating it (32 random bytes, base64url, mode 0600) when missing. */
export function ensureControlToken(path: string): string {
  try {
    const existing = readFileSync(path, "utf8").trim();
    if (existing !== "") {
      chmodSync(path, 0o600);
      return existing;
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new GatewayError("failed_precondition", `cannot read the control token file "${path}"`, { cause: error });
    }
  }
  const token = randomBytes(32).toString("base64url");
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return token;
}

/**
 * Compares a presented token with the expected one in constant time. Both sides are hashed
 * first so that neither the content nor the length of the secret leaks through timing.
 */
export function tokensMatch(presented: string, expected: string): boolean {
  const digest = (value: string): Buffer => createHash("sha256").update(value, "utf8").digest();
  return timingSafeEqual(digest(presented), digest(expected)) && expected !== "";
}

/** The token from an `Authorization: Bearer <token>` header value, if it has that form. */
export function bearerTokenOf(authorization: string | null | undefined): string | undefined {
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? "");
  return match?.[1];
}
