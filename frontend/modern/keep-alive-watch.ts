/**
 * One timer for every modern request still waiting for its answer, instead of a timer each: a request that is not
 * answered within one keep-alive interval is told so (modern-post.ts opens its SSE stream and starts the keep-alive
 * comments). Almost every request is answered long before that, and a `setTimeout`/`clearTimeout` pair per request
 * was a measurable share of the frontend's cost per modern request (bench/ab.mjs). The watch sweeps every half
 * interval, so a waiting request is told after one to one and a half intervals; the timer runs only while some
 * request waits.
 */

/** What the watch needs of time: injectable for tests. */
export interface WatchClock {
  now(): number;
  setInterval(callback: () => void, ms: number): { unref(): void };
  clearInterval(timer: { unref(): void }): void;
}

const systemClock: WatchClock = {
  now: () => performance.now(),
  setInterval: (callback, ms) => setInterval(callback, ms),
  clearInterval: (timer) => clearInterval(timer as NodeJS.Timeout),
};

/** A request being watched; `stop` ends the watch (its answer came, or it went away). */
export interface Watched {
  stop(): void;
}

interface Entry extends Watched {
  readonly since: number;
  readonly due: () => void;
}

/** Requests waiting longer than `intervalMs` get `due` called once (see the file comment). */
export class KeepAliveWatch {
  private readonly waiting = new Set<Entry>();
  private timer: { unref(): void } | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly clock: WatchClock = systemClock,
  ) {}

  /** Starts watching a request; `due` is called once if it is still waiting after one interval. */
  watch(due: () => void): Watched {
    const waiting = this.waiting;
    const entry: Entry = {
      since: this.clock.now(),
      due,
      stop: () => void waiting.delete(entry),
    };
    waiting.add(entry);
    if (this.timer === undefined) {
      this.timer = this.clock.setInterval(() => this.sweep(), Math.max(1, this.intervalMs / 2));
      // A waiting request never keeps the process alive by itself.
      this.timer.unref();
    }
    return entry;
  }

  /** Requests being watched (tests). */
  get size(): number {
    return this.waiting.size;
  }

  private sweep(): void {
    const cutoff = this.clock.now() - this.intervalMs;
    for (const entry of this.waiting) {
      // Oldest first (a Set keeps insertion order): the rest waited less.
      if (entry.since > cutoff) break;
      this.waiting.delete(entry);
      try {
        entry.due();
      } catch {
        // One request's failure to open its stream is its own; the others are still told.
      }
    }
    if (this.waiting.size === 0 && this.timer !== undefined) {
      this.clock.clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
