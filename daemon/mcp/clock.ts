/**
 * Time as the session engine sees it, injectable so that debouncing and bounded waits
 * are tested by advancing a fake clock instead of sleeping on a loaded machine.
 */

/** An opaque timer handle. */
export type ClockTimer = unknown;

/** The timer functions the engine uses. */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): ClockTimer;
  clearTimeout(timer: ClockTimer): void;
}

/** Real time; timers are unref'd so a pending debounce never keeps the daemon alive. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => {
    const timer = setTimeout(callback, ms);
    timer.unref?.();
    return timer;
  },
  clearTimeout: (timer) => clearTimeout(timer as ReturnType<typeof setTimeout>),
};
