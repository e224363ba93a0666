/**
 * Held calls: a legacy server's request to its client (`elicitation/create`, `sampling/createMessage`, `roots/list`)
 * during a modern client's call. A modern client takes no requests from servers ("Patterns › Multi Round-Trip
 * Requests"), and a legacy server cannot be asked to retry, so the gateway keeps the server's call open (and the
 * server's request pending), answers the client with an `InputRequiredResult` naming what the server asked, and when
 * the client retries with `inputResponses` and the gateway's `requestState` answers the pending request and goes on
 * waiting on the same upstream call: for its result, or for the next thing the server asks (another
 * `InputRequiredResult`). Progress goes to whichever request of the client is waiting; the client cancelling a
 * waiting request cancels the upstream call.
 *
 * Held calls are bounded, since an abandoned one keeps a server call open: at most `maxHeld` wait for a retry (the
 * longest idle one is cancelled upstream to make room), each for at most `ttlMs` (then cancelled upstream). The
 * `requestState` (mrtr-state.ts) is good for one retry of the same method on the same server, within its expiry.
 */
import { GatewayError } from "../errors.js";
import type { Logger } from "../../shared/logger.js";
import type { JsonObject, UpstreamResult } from "../upstream/types.js";
import type { Clock, ClockTimer } from "./clock.js";
import { UpstreamRpcError } from "../upstream/types.js";
import { JsonRpcErrorCode } from "./json-rpc.js";
import { INPUT_REQUIRED, isJsonObject } from "./mrtr.js";
import { MAX_INPUT_REQUESTS_PER_ROUND } from "./mrtr-legacy-caller.js";
import { createHeldCallStateCodec, randomToken, type HeldCallStateCodec } from "./mrtr-state.js";
import type { Caller } from "./caller.js";
import type { CallSignal } from "../call-signal.js";

/** Default bound on calls waiting for a client's retry, per daemon. */
export const DEFAULT_MAX_HELD_CALLS = 256;
/** Default time a held call waits for its retry before it is cancelled upstream. */
export const DEFAULT_HELD_CALL_TTL_MS = 5 * 60_000;

/** Options of `createHeldCalls`. */
export interface HeldCallsOptions {
  readonly clock: Clock;
  readonly logger?: Logger;
  /** The state codec (default: a fresh random key). */
  readonly codec?: HeldCallStateCodec;
  readonly maxHeld?: number;
  readonly ttlMs?: number;
}

/** A fresh call of a modern caller on a legacy server. */
export interface HeldCallStart {
  readonly server: string;
  readonly method: string;
  readonly params: JsonObject | undefined;
  readonly caller: Caller;
  readonly signal: CallSignal;
  /** Sends the call upstream once, for `caller` (the held call's own) and until `signal` (the held call's own) aborts. */
  send(params: JsonObject | undefined, caller: Caller, signal: CallSignal): Promise<UpstreamResult>;
}

/** The store's face. */
export interface HeldCalls {
  /** Runs a fresh call: its result, or an `InputRequiredResult` when the server asks the client something. */
  start(call: HeldCallStart): Promise<UpstreamResult>;
  /**
   * Serves a retry carrying a gateway `requestState`: answers the held call's pending requests from
   * `params.inputResponses`, then waits as `start` does. A state that fails any check is refused with
   * `GatewayError("invalid_argument")` (-32602).
   */
  resume(server: string, method: string, params: JsonObject, caller: Caller, signal: CallSignal): Promise<UpstreamResult>;
  /** Calls waiting for a client's retry or resumed by one. */
  size(): number;
  /** Cancels every held call upstream. */
  close(): void;
}

interface PendingInput {
  readonly method: string;
  readonly params: JsonObject | undefined;
  resolve(result: JsonObject): void;
  reject(error: unknown): void;
}

interface Waiter {
  readonly caller: Caller;
  readonly progressToken: unknown;
  wake(): void;
}

interface HeldCall {
  readonly id: string;
  readonly server: string;
  readonly method: string;
  readonly abort: AbortController;
  readonly pending: Map<string, PendingInput>;
  nextKey: number;
  /** The nonce of the state handed out last, while it may still be redeemed. */
  nonce?: string;
  waiter?: Waiter;
  outcome?: { readonly result: UpstreamResult } | { readonly error: unknown };
  timer?: ClockTimer;
  wakeQueued: boolean;
}

/** Creates the store of held calls. */
export function createHeldCalls(options: HeldCallsOptions): HeldCalls {
  const { clock, logger } = options;
  const codec = options.codec ?? createHeldCallStateCodec();
  const maxHeld = options.maxHeld ?? DEFAULT_MAX_HELD_CALLS;
  const ttlMs = options.ttlMs ?? DEFAULT_HELD_CALL_TTL_MS;
  /** In order of the last time each was handed out (oldest idle first). */
  const held = new Map<string, HeldCall>();
  let lastCallId = 0;

  const refuse = (why: string): never => {
    throw new GatewayError("invalid_argument", `requestState refused: ${why}`);
  };

  function cancel(call: HeldCall, why: string): void {
    if (call.timer !== undefined) clock.clearTimeout(call.timer);
    call.timer = undefined;
    call.nonce = undefined;
    held.delete(call.id);
    call.abort.abort(new GatewayError("cancelled", why));
    for (const pending of call.pending.values()) pending.reject(new GatewayError("cancelled", why));
    call.pending.clear();
    logger?.debug({ server: call.server, method: call.method, why }, "held call cancelled");
  }

  /** Wakes the waiting request on the next turn, so requests the server sends together go out in one round. */
  function queueWake(call: HeldCall): void {
    if (call.wakeQueued) return;
    call.wakeQueued = true;
    setImmediate(() => {
      call.wakeQueued = false;
      call.waiter?.wake();
    });
  }

  function innerCaller(call: HeldCall, outer: Caller): Caller {
    return {
      capabilities: outer.capabilities,
      ...(outer.client !== undefined ? { client: outer.client } : {}),
      ...(outer.trace !== undefined ? { trace: outer.trace } : {}),
      ...(outer.forwardsResults !== undefined ? { forwardsResults: outer.forwardsResults } : {}),
      onProgress(params) {
        const waiter = call.waiter;
        if (waiter !== undefined && waiter.progressToken !== undefined) waiter.caller.onProgress?.({ ...params, progressToken: waiter.progressToken });
      },
      onLog: (params) => call.waiter?.caller.onLog?.(params),
      clientRequest(method, params, signal) {
        if (call.outcome !== undefined || call.abort.signal.aborted) return Promise.reject(new GatewayError("cancelled", "the call is over"));
        // A server flooding its client is refused past the bound, not relayed: one round stays small.
        if (call.pending.size >= MAX_INPUT_REQUESTS_PER_ROUND) {
          return Promise.reject(
            new UpstreamRpcError(JsonRpcErrorCode.internalError, `too many requests to the client pending for one call (at most ${MAX_INPUT_REQUESTS_PER_ROUND})`),
          );
        }
        return new Promise<JsonObject>((resolve, reject) => {
          const key = `input-${++call.nextKey}`;
          call.pending.set(key, { method, params, resolve, reject });
          signal.addEventListener(
            "abort",
            () => {
              if (call.pending.delete(key)) reject(new GatewayError("cancelled", `${method} was cancelled by the server`));
            },
            { once: true },
          );
          queueWake(call);
        });
      },
    };
  }

  /** Makes room for one more held call: the longest idle one is cancelled; none idle means no room. */
  function makeRoom(except: HeldCall): boolean {
    if (held.has(except.id) || held.size < maxHeld) return true;
    for (const other of held.values()) {
      if (other.waiter === undefined && other !== except) {
        cancel(other, "evicted: too many calls waiting for client input");
        return true;
      }
    }
    return false;
  }

  /** Hands the pending requests to the client as an `InputRequiredResult`; the call now waits for a retry. */
  function suspend(call: HeldCall): JsonObject {
    if (!makeRoom(call)) {
      cancel(call, "too many calls waiting for client input");
      throw new GatewayError("unavailable", `too many calls are waiting for client input (${maxHeld}); try again later`);
    }
    held.delete(call.id);
    held.set(call.id, call);
    const keys = [...call.pending.keys()];
    const nonce = randomToken();
    call.nonce = nonce;
    call.waiter = undefined;
    const requestState = codec.mint({ call: call.id, nonce, keys, method: call.method, expires: clock.now() + ttlMs });
    call.timer = clock.setTimeout(() => cancel(call, "expired: no retry in time"), ttlMs);
    const inputRequests: JsonObject = {};
    for (const key of keys) {
      const pending = call.pending.get(key)!;
      inputRequests[key] = pending.params === undefined ? { method: pending.method } : { method: pending.method, params: pending.params };
    }
    return { resultType: INPUT_REQUIRED, inputRequests, requestState };
  }

  /** Waits, for `caller`'s request, until the call ends or the server asks something. */
  function wait(call: HeldCall, caller: Caller, params: JsonObject | undefined, signal: CallSignal): Promise<UpstreamResult> {
    return new Promise<UpstreamResult>((resolve, reject) => {
      const onAbort = (): void => {
        call.waiter = undefined;
        cancel(call, "the client cancelled the request");
        reject(new GatewayError("cancelled", "request cancelled"));
      };
      const done = (): void => signal.removeEventListener("abort", onAbort);
      const meta = params?._meta;
      call.waiter = {
        caller,
        progressToken: isJsonObject(meta) ? meta.progressToken : undefined,
        wake() {
          const outcome = call.outcome;
          if (outcome !== undefined) {
            done();
            call.waiter = undefined;
            held.delete(call.id);
            if ("result" in outcome) resolve(outcome.result);
            else reject(outcome.error);
            return;
          }
          if (call.pending.size === 0) return;
          done();
          try {
            resolve(suspend(call));
          } catch (error) {
            reject(error);
          }
        },
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      if (call.outcome !== undefined) call.waiter.wake();
      else if (call.pending.size > 0) queueWake(call);
    });
  }

  function settle(call: HeldCall, outcome: HeldCall["outcome"]): void {
    if (call.outcome !== undefined) return;
    call.outcome = outcome;
    for (const pending of call.pending.values()) pending.reject(new GatewayError("cancelled", "the call is over"));
    call.pending.clear();
    // A result goes out at once (no batching to wait for): the common case costs no extra turn.
    call.waiter?.wake();
  }

  return {
    start({ server, method, params, caller, signal, send }) {
      // A counter, not a random token: every call starts here and most never suspend, and what makes a state
      // unforgeable is its MAC and its one-time nonce (minted on suspension), not the id.
      const call: HeldCall = { id: String(++lastCallId), server, method, abort: new AbortController(), pending: new Map(), nextKey: 0, wakeQueued: false };
      const { inputResponses: _responses, requestState: _state, ...base } = params ?? {};
      send(params === undefined ? undefined : base, innerCaller(call, caller), call.abort.signal).then(
        (result) => settle(call, { result }),
        (error: unknown) => settle(call, { error }),
      );
      return wait(call, caller, params, signal);
    },
    resume(server, method, params, caller, signal) {
      const text = params.requestState;
      if (typeof text !== "string") return refuse("missing");
      let call: HeldCall | undefined;
      try {
        const state = codec.verify(text, clock.now());
        call = held.get(state.call);
        if (call === undefined) refuse("no such call is held (expired, cancelled or already finished)");
        if (call!.nonce === undefined || call!.nonce !== state.nonce) refuse("already used");
        if (call!.server !== server || call!.method !== method || state.method !== method) refuse("it belongs to another request");
        const responses = params.inputResponses;
        if (responses !== undefined && !isJsonObject(responses)) refuse("inputResponses is not an object");
        call!.nonce = undefined;
        if (call!.timer !== undefined) clock.clearTimeout(call!.timer);
        call!.timer = undefined;
        for (const key of state.keys) {
          const pending = call!.pending.get(key);
          const response = (responses as JsonObject | undefined)?.[key];
          if (pending === undefined || !isJsonObject(response)) continue;
          call!.pending.delete(key);
          pending.resolve(response);
        }
      } catch (error) {
        return Promise.reject(error);
      }
      return wait(call!, caller, params, signal);
    },
    size: () => held.size,
    close() {
      for (const call of [...held.values()]) cancel(call, "the gateway is shutting down");
    },
  };
}
