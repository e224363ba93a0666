/**
 * How a served request's cancellation reaches everything done on its behalf (the engine's handlers, the upstream
 * request, a question to the client): the part of `AbortSignal` the daemon's MCP code uses. Node's `AbortSignal` is
 * one — a Connect handler's `context.signal` goes in as it is — but the requests the daemon serves get a
 * `CallCancellation` instead. On Node 20 every `AbortSignal` gets a hidden class of its own (it is made as an
 * `EventTarget` whose prototype is then replaced, and V8 does not reuse the resulting map), so each one allocated
 * about 1.4 KiB, a quarter of which outlived the young generation and was left to the full collector; with one per
 * request that was 13 % of the gateway's CPU per call (bench/pair.mjs, docs/architecture.md). Node 22 no longer
 * does this; the daemon supports both.
 */

/** A cancellation as the daemon's request path reads it. */
export interface CallSignal {
  readonly aborted: boolean;
  /** Why it was cancelled; undefined until then. */
  readonly reason: unknown;
  /** `listener` runs once, when the signal aborts; never when it already has (check `aborted` first). */
  addEventListener(type: "abort", listener: () => void, options?: { readonly once?: boolean }): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

/**
 * The cancellation of one served request: its own signal and the means to abort it. Listeners are kept in a small
 * array (a request has one or two: the upstream request's, a client request's) and run in the order they were added,
 * as an `EventTarget` runs them: one removed by an earlier one during the abort does not run, one added then never
 * does, and one that throws does not stop the others (its error is rethrown on the next tick).
 */
export class CallCancellation implements CallSignal {
  aborted = false;
  reason: unknown = undefined;
  private listeners: (() => void)[] | undefined = undefined;

  addEventListener(type: "abort", listener: () => void): void {
    if (type !== "abort" || this.aborted) return;
    const listeners = (this.listeners ??= []);
    if (!listeners.includes(listener)) listeners.push(listener);
  }

  removeEventListener(type: "abort", listener: () => void): void {
    const listeners = this.listeners;
    if (type !== "abort" || listeners === undefined) return;
    const index = listeners.indexOf(listener);
    if (index >= 0) listeners.splice(index, 1);
  }

  /** Aborts once (later calls are ignored); without a reason, the `AbortError` an `AbortController` would give. */
  abort(reason?: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason === undefined ? new DOMException("This operation was aborted", "AbortError") : reason;
    const listeners = this.listeners;
    if (listeners === undefined) return;
    // As in an `EventTarget`'s dispatch: one that an earlier listener removed does not run.
    for (const listener of [...listeners]) {
      if (!listeners.includes(listener)) continue;
      try {
        listener();
      } catch (error) {
        process.nextTick(() => {
          throw error;
        });
      }
    }
    this.listeners = undefined;
  }
}
