/**
 * A bounded push → async-iterate queue, the bridge between callback feeds (supervisor
 * events, log subscriptions) and Connect server streams. Bounded so a client that stops
 * reading can never make the daemon buffer without limit (back-pressure instead
 * of unbounded buffers): `push` reports overflow and the stream's owner decides what to do.
 */
export interface AsyncQueue<T> extends AsyncIterable<T> {
  /** Enqueues `item`; false when the queue is full or ended (the item is dropped). */
  push(item: T): boolean;
  /** Ends the iteration after the queued items; with `error`, the iteration throws it instead. */
  end(error?: unknown): void;
}

/**
 * Creates a queue holding at most `limit` items. Iteration ends (without error) as soon as
 * `signal` aborts — a cancelled RPC or a stopping daemon ends its streams cleanly.
 */
export function createAsyncQueue<T>(limit: number, signal: AbortSignal): AsyncQueue<T> {
  const items: T[] = [];
  let ended = false;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  const onAbort = (): void => {
    ended = true;
    items.length = 0;
    notify();
  };
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  return {
    push(item) {
      if (ended || items.length >= limit) return false;
      items.push(item);
      notify();
      return true;
    },
    end(error) {
      if (ended) return;
      ended = true;
      if (error !== undefined) failure = { error };
      notify();
    },
    async *[Symbol.asyncIterator]() {
      try {
        for (;;) {
          if (items.length > 0) {
            yield items.shift() as T;
            continue;
          }
          if (ended) {
            if (failure && !signal.aborted) throw failure.error;
            return;
          }
          await new Promise<void>((resolve) => (wake = resolve));
        }
      } finally {
        signal.removeEventListener("abort", onAbort);
      }
    },
  };
}
