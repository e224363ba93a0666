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

/**
 * One watched request, a link of the watch's list (oldest first). `stop` unlinks it and drops its links and its
 * callback, so a request answered is garbage at once. The first version kept the requests in a `Set`: under modern
 * load the frontend's scavenges took 2.3 ms each against 1.6–1.8 ms with this list (GC entries read through the
 * inspector), and `bench/pair.mjs` measured the list build 5.4 % cheaper per modern call.
 */
class Entry implements Watched {
  previous: Entry | undefined;
  next: Entry | undefined;

  constructor(
    private watch: KeepAliveWatch | undefined,
    readonly since: number,
    public due: (() => void) | undefined,
  ) {}

  stop(): void {
    this.watch?.unlink(this);
    this.watch = undefined;
    this.due = undefined;
  }
}

/** Requests waiting longer than `intervalMs` get `due` called once (see the file comment). */
export class KeepAliveWatch {
  private oldest: Entry | undefined;
  private newest: Entry | undefined;
  private count = 0;
  private timer: { unref(): void } | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly clock: WatchClock = systemClock,
  ) {}

  /** Starts watching a request; `due` is called once if it is still waiting after one interval. */
  watch(due: () => void): Watched {
    const entry = new Entry(this, this.clock.now(), due);
    entry.previous = this.newest;
    if (this.newest) this.newest.next = entry;
    else this.oldest = entry;
    this.newest = entry;
    this.count++;
    if (this.timer === undefined) {
      this.timer = this.clock.setInterval(() => this.sweep(), Math.max(1, this.intervalMs / 2));
      // A waiting request never keeps the process alive by itself.
      this.timer.unref();
    }
    return entry;
  }

  /** Requests being watched (tests). */
  get size(): number {
    return this.count;
  }

  /** Takes `entry` out of the list: only `Entry.stop` calls it. */
  unlink(entry: Entry): void {
    if (entry.previous) entry.previous.next = entry.next;
    else this.oldest = entry.next;
    if (entry.next) entry.next.previous = entry.previous;
    else this.newest = entry.previous;
    entry.previous = entry.next = undefined;
    this.count--;
  }

  private sweep(): void {
    const cutoff = this.clock.now() - this.intervalMs;
    // Oldest first: the rest waited less.
    while (this.oldest !== undefined && this.oldest.since <= cutoff) {
      const entry = this.oldest;
      const due = entry.due;
      entry.stop();
      try {
        due?.();
      } catch {
        // One request's failure to open its stream is its own; the others are still told.
      }
    }
    if (this.count === 0 && this.timer !== undefined) {
      this.clock.clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
