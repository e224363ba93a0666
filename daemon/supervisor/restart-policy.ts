/**
 * When to restart a crashed server and when to give up: exponential back-off with jitter
 * (so servers that crashed together do not restart in lock-step), and a crash-loop rule
 * (N crashes within a window → FAILED) so a broken server stops burning CPU and logs.
 */

/** Back-off and crash-loop settings. */
export interface RestartPolicy {
  /** First delay; default 500 ms. */
  readonly initialDelayMs: number;
  /** Cap; default 30 s. */
  readonly maxDelayMs: number;
  /** Growth per recent crash; default 2. */
  readonly multiplier: number;
  /** ± fraction of the delay chosen at random; default 0.2. */
  readonly jitter: number;
  /** Crashes within `windowMs` that make a crash loop; default 5. */
  readonly maxCrashes: number;
  /** Default 60 s. */
  readonly windowMs: number;
}

/** The defaults. */
export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  multiplier: 2,
  jitter: 0.2,
  maxCrashes: 5,
  windowMs: 60_000,
};

/** Drops crash times older than the window and returns the recent ones (ascending). */
export function recentCrashes(crashTimes: readonly number[], now: number, policy: RestartPolicy): number[] {
  return crashTimes.filter((time) => now - time < policy.windowMs);
}

/** Whether `recent` crashes (including the latest) make a crash loop. */
export function isCrashLoop(recent: readonly number[], policy: RestartPolicy): boolean {
  return recent.length >= policy.maxCrashes;
}

/**
 * The delay before the next start after the `crashCount`-th recent crash (1-based), with
 * jitter from `random` (uniform in [0, 1)).
 */
export function backoffDelay(crashCount: number, policy: RestartPolicy, random: () => number): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.multiplier ** Math.max(0, crashCount - 1));
  const factor = 1 - policy.jitter + 2 * policy.jitter * random();
  return Math.max(0, Math.round(base * factor));
}
