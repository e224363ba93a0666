/**
 * A push-fed async iterable with back-pressure, which the scripted daemon (scripted-daemon.ts) returns as its
 * `OpenSession` response stream: `push` resolves at once while fewer than `highWaterMark` messages wait, else when
 * the reader has pulled the queue back below it.
 */
export class MessageQueue<T> implements AsyncIterable<T> {
  private items: T[] = [];
  private head = 0;
  private closed = false;
  private reader: ((result: IteratorResult<T>) => void) | undefined;
  private spaceWaiters: Array<() => void> = [];

  constructor(private readonly highWaterMark = 64) {}

  /** Messages pushed and not yet pulled. */
  get length(): number {
    return this.items.length - this.head;
  }

  /** Adds a message; false when the queue is closed (the session ended) and the message was dropped. */
  push(item: T): Promise<boolean> {
    if (this.closed) return FALSE;
    const reader = this.reader;
    if (reader) {
      this.reader = undefined;
      reader({ value: item, done: false });
      return TRUE;
    }
    this.items.push(item);
    if (this.length < this.highWaterMark) return TRUE;
    return new Promise((resolve) => this.spaceWaiters.push(() => resolve(!this.closed)));
  }

  /** Ends the stream after the messages already queued (a half-close towards the daemon). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.releaseWaiters();
    if (this.reader && this.length === 0) {
      const reader = this.reader;
      this.reader = undefined;
      reader({ value: undefined, done: true });
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    const stop = (): Promise<IteratorResult<T>> => {
      this.closed = true;
      this.items = [];
      this.head = 0;
      this.releaseWaiters();
      return Promise.resolve({ value: undefined, done: true });
    };
    // Connect calls throw() on the request iterable when the call fails; both end the queue.
    return { next: () => this.next(), return: stop, throw: stop };
  }

  private next(): Promise<IteratorResult<T>> {
    if (this.length > 0) {
      const value = this.items[this.head];
      this.items[this.head] = undefined as T;
      this.head++;
      if (this.head === this.items.length) {
        this.items = [];
        this.head = 0;
      } else if (this.head > 1024) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      if (this.spaceWaiters.length > 0 && this.length < this.highWaterMark) this.releaseWaiters();
      return Promise.resolve({ value, done: false });
    }
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.reader = resolve;
    });
  }

  private releaseWaiters(): void {
    const waiters = this.spaceWaiters;
    this.spaceWaiters = [];
    for (const wake of waiters) wake();
  }
}

const TRUE = Promise.resolve(true);
const FALSE = Promise.resolve(false);
