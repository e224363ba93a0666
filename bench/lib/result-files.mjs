/** Where a bench tool writes a run's results. */
import { existsSync } from "node:fs";

/**
 * `base`, or `base-2`, `base-3`, … when a run of the same day already wrote `base.json`: a recorded run is never
 * overwritten.
 */
export function freeResultsBase(base) {
  let candidate = base;
  for (let n = 2; existsSync(`${candidate}.json`); n++) candidate = `${base}-${n}`;
  return candidate;
}
