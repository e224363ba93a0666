import type { Clock, TimerHandle } from "../supervisor/clock.js";

/**
 * One timer per upstream connection for every deadline it keeps (request timeouts, the
 * liveness ping). Arming a timer per request would allocate one on every `tools/call` of the
 * hot path; instead the connection asks for a sweep "no later than" a time, and the single
 * timer is moved only when that time is earlier than the one already set — which, with a
 * fixed timeout per method, is almost never while requests keep coming. A sweep that finds
 * its requests already answered costs one scan of the pending ones and is rare: at most
 * one per timeout period under steady traffic.
 */

/**
 * Node fires a timer longer than 2^31 - 1 ms after 1 ms instead: a far deadline (a
 * `requestTimeout` of weeks) is reached in steps of at most this, never in a busy loop.
 */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A single rescheduling timer. */
export interface DeadlineSweep {
  /** Makes sure a sweep runs at or before clock time `at` (epoch ms). */
  due(at: number): void;
  /** Cancels the pending sweep, if any; `due` may arm it again. */
  stop(): void;
}

/**
 * Creates the sweep. `sweep(now)` runs when the timer fires and returns the clock time of
 * the next sweep it needs, or `Infinity` for none.
 */
export function createDeadlineSweep(clock: Clock, sweep: (now: number) => number): DeadlineSweep {
  let timer: TimerHandle | undefined;
  let timerAt = Infinity;

  const fire = (): void => {
    timer = undefined;
    timerAt = Infinity;
    const next = sweep(clock.now());
    if (next !== Infinity) due(next);
  };

  function due(at: number): void {
    if (at >= timerAt) return;
    if (timer !== undefined) clock.clearTimeout(timer);
    timerAt = at;
    timer = clock.setTimeout(fire, Math.min(MAX_TIMER_MS, Math.max(0, at - clock.now())));
  }

  return {
    due,
    stop() {
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
      timerAt = Infinity;
    },
  };
}
