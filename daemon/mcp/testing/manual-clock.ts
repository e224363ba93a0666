/**
 * A clock whose timers fire only when the test says so, so that debouncing is asserted by
 * order of events rather than by sleeping.
 */
import type { Clock } from "../clock.js";

/** The manual clock and its controls. */
export interface ManualClock extends Clock {
  /** Timers not fired yet. */
  pending(): number;
  /** Moves time forward by `ms`, firing every timer that falls due, in order. */
  advance(ms: number): void;
}

/** Creates a manual clock starting at 0. */
export function createManualClock(): ManualClock {
  let now = 0;
  let nextId = 0;
  const timers = new Map<number, { at: number; callback: () => void }>();
  return {
    now: () => now,
    setTimeout(callback, ms) {
      const id = ++nextId;
      timers.set(id, { at: now + ms, callback });
      return id;
    },
    clearTimeout(timer) {
      timers.delete(timer as number);
    },
    pending: () => timers.size,
    advance(ms) {
      const target = now + ms;
      for (;;) {
        const due = [...timers].filter(([, timer]) => timer.at <= target).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        timers.delete(due[0]);
        now = due[1].at;
        due[1].callback();
      }
      now = target;
    },
  };
}
