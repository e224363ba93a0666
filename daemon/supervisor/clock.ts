/**
 * Time as a dependency. The supervisor's back-off, crash window, start-up timeout and idle
 * timeout all read this clock, so tests drive them with `createManualClock` instead of
 * sleeping (tests must never depend on how fast the machine is).
 */

/** Opaque timer handle. */
export type TimerHandle = unknown;

/** The clock the supervisor reads and schedules on. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** The real clock. Timers are unref'd: a pending back-off never keeps a process alive. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return timer;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

/** A clock that only moves when told to, for tests. */
export interface ManualClock extends Clock {
  /** Moves time forward by `ms`, firing due timers in order (including ones they schedule). */
  advance(ms: number): void;
  /** Delays of the pending timers from now, sorted ascending. */
  pendingDelays(): number[];
}

/** Creates a manual clock starting at `start` epoch ms. */
export function createManualClock(start = 1_700_000_000_000): ManualClock {
  let now = start;
  let nextId = 1;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = nextId++;
      timers.set(id, { at: now + Math.max(0, ms), fn });
      return id;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
    advance(ms) {
      const target = now + ms;
      for (;;) {
        let dueId: number | undefined;
        let dueAt = Infinity;
        for (const [id, timer] of timers) {
          if (timer.at <= target && timer.at < dueAt) {
            dueAt = timer.at;
            dueId = id;
          }
        }
        if (dueId === undefined) break;
        const timer = timers.get(dueId)!;
        timers.delete(dueId);
        now = Math.max(now, timer.at);
        timer.fn();
      }
      now = target;
    },
    pendingDelays() {
      return [...timers.values()].map((timer) => timer.at - now).sort((a, b) => a - b);
    },
  };
}
