/**
 * Durations in team files are written the way people say them ("10m", "30s", "1h",
 * "500ms") or as a plain number of milliseconds, so that a config reads naturally and
 * a script can still emit numbers. One parser keeps the accepted forms identical for
 * every duration field.
 */

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

const DURATION_PATTERN = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/;

/** What the error messages say a duration looks like. */
export const DURATION_HINT = 'expected a duration like "500ms", "30s", "10m", "1h" or a number of milliseconds';

/**
 * Parses a duration into whole milliseconds, or returns `undefined` when the value is
 * not one (negative, not finite, unknown unit, wrong type): the caller decides how to
 * report it, with the field's position.
 */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === "number") {
    return Number.isFinite(value) && value >= 0 ? Math.round(value) : undefined;
  }
  if (typeof value !== "string") return undefined;
  const match = DURATION_PATTERN.exec(value.trim());
  if (!match) return undefined;
  const ms = Number(match[1]) * (UNIT_MS[match[2]] ?? Number.NaN);
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

/**
 * A duration for messages and logs ("250ms", "2.1s", "60s", "5m"): the supervisor's and the
 * upstream connection's messages name their bounds the same way, in the units people write
 * in the team file.
 */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms >= 120_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  const seconds = ms / 1000;
  return `${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)}s`;
}
