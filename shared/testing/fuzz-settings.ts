import type { Parameters, RunDetails } from "fast-check";

/**
 * One place for how the property-based fuzz tests (frontend/fuzz.test.ts, daemon/mcp/engine-fuzz.test.ts) are
 * sized and replayed, so the short CI run and the long `npm run fuzz` differ only in the environment:
 * `FUZZ_RUNS` (inputs per target), `FUZZ_SEED` (replay a reported failure), and both print the same summary
 * line, which is what docs/security.md quotes.
 */

/** Inputs per target: `FUZZ_RUNS` when set (the long run sets 10,000), else the CI default `ciRuns`. */
export function fuzzRuns(ciRuns: number): number {
  const raw = process.env.FUZZ_RUNS;
  if (raw === undefined || raw === "") return ciRuns;
  const runs = Number(raw);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`FUZZ_RUNS must be a positive integer, not ${JSON.stringify(raw)}`);
  return runs;
}

/** fast-check parameters: `numRuns`, and the seed from `FUZZ_SEED` if given (a failure is shrunk to a small input). */
export function fuzzParameters<T>(numRuns: number): Parameters<T> {
  const seed = process.env.FUZZ_SEED;
  return { numRuns, ...(seed ? { seed: Number(seed) } : {}) };
}

/** What a failed run reports: fast-check's counterexample and the error the property threw. */
export function fuzzFailure<T>(details: RunDetails<T>): string {
  const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  return `${error}\ncounterexample: ${JSON.stringify(details.counterexample)}\nreplay with FUZZ_SEED=${details.seed} (path ${details.counterexamplePath})`;
}

/** The line a fuzz target logs: inputs run, wall time, failures found, and the seed to replay it. */
export function fuzzSummary<T>(target: string, details: RunDetails<T>, startedAt?: number): string {
  const seconds = startedAt === undefined ? "" : `, ${((Date.now() - startedAt) / 1000).toFixed(1)} s`;
  return `fuzz ${target}: ${details.numRuns} inputs${seconds}, ${details.failed ? 1 : 0} failures (seed ${details.seed}${details.failed ? `, path ${details.counterexamplePath}` : ""})`;
}
