/**
 * Masking of secret values in text the daemon shows (server logs, error reasons, argv).
 * A server may print its own credentials (a debug dump of its environment, an error echoing
 * its config); everything that leaves the supervisor goes through a masker first.
 */

/** Replacement for every secret occurrence. */
export const MASK = "***";

/** Values shorter than this are not masked: masking "1" or "true" would garble every line. */
export const MIN_SECRET_LENGTH = 4;

/** Replaces every occurrence of any secret in a text. */
export type Masker = (text: string) => string;

/**
 * Builds a masker for `secrets` (e.g. the values of a server's configured env). Longer values
 * are replaced first, so a secret that contains another is masked whole.
 */
export function createMasker(secrets: Iterable<string>): Masker {
  const values = [...new Set([...secrets].filter((value) => value.length >= MIN_SECRET_LENGTH))].sort(
    (a, b) => b.length - a.length,
  );
  if (values.length === 0) return (text) => text;
  return (text) => {
    let masked = text;
    for (const value of values) if (masked.includes(value)) masked = masked.split(value).join(MASK);
    return masked;
  };
}
