/**
 * A modern server's `InputRequiredResult` for a caller that cannot retry: a legacy client session (2025-11-25 and
 * older, where the server asks its client with a request of its own) or a typed RPC. The gateway plays the modern
 * client for it ("Patterns › Multi Round-Trip Requests › Client Requirements"): it asks the caller each input request
 * the way a legacy server would (through the router, with today's capability checks), then retries the server's
 * request with the answers in `inputResponses` and the server's `requestState` echoed byte for byte, until a result
 * that is not `input_required`. The legacy client sees one ordinary call, with its server-to-client requests on the
 * call's own exchange.
 *
 * The server is untrusted: a malformed `InputRequiredResult`, a request kind outside the three the revision allows,
 * or a server that asks again more than `MAX_INPUT_ROUNDS` times ends the call with a clear error.
 */
import { GatewayError } from "../errors.js";
import type { JsonObject, UpstreamResult } from "../upstream/types.js";
import { asInputRequired, INPUT_REQUEST_METHODS, isJsonObject, MAX_INPUT_ROUNDS, type InputRequest } from "./mrtr.js";
import type { CallSignal } from "../call-signal.js";

/** Most input requests one round may carry; a server asking more is refused rather than fanned out to the client. */
export const MAX_INPUT_REQUESTS_PER_ROUND = 16;

/** What the bridge needs from the router. */
export interface LegacyCallerRounds {
  readonly server: string;
  readonly method: string;
  /** The caller's params, as first sent (the retries add `inputResponses` and `requestState` to them). */
  readonly params: JsonObject | undefined;
  readonly signal: CallSignal;
  /** Asks the caller one input request (capability checks included); rejects when it cannot be answered. */
  ask(method: string, params: JsonObject | undefined, signal: CallSignal): Promise<JsonObject>;
  /** Sends one retry of the request to the server. */
  send(params: JsonObject): Promise<UpstreamResult>;
  /** The bound on rounds (default `MAX_INPUT_ROUNDS`). */
  readonly maxRounds?: number;
}

/**
 * Drives the rounds from the server's first answer: returns the first result that is not `input_required`
 * (untouched, possibly `RawJson`), or rejects with the caller's refusal, the server's error or a `GatewayError`.
 */
export async function completeForLegacyCaller(first: UpstreamResult, rounds: LegacyCallerRounds): Promise<UpstreamResult> {
  const maxRounds = rounds.maxRounds ?? MAX_INPUT_ROUNDS;
  let result = first;
  for (let round = 1; ; round++) {
    const asked = asInputRequired(result);
    if (asked === undefined) return result;
    if (round > maxRounds) {
      throw new GatewayError("unavailable", `server "${rounds.server}" still asked for input after ${maxRounds} rounds of ${rounds.method}`);
    }
    const { inputRequests, requestState } = readInputRequired(rounds.server, asked);
    const answers = await Promise.all(
      [...inputRequests].map(async ([key, request]) => [key, await rounds.ask(request.method, request.params, rounds.signal)] as const),
    );
    if (rounds.signal.aborted) throw new GatewayError("cancelled", "request cancelled");
    const { inputResponses: _responses, requestState: _state, ...base } = rounds.params ?? {};
    const retry: JsonObject = { ...base };
    if (answers.length > 0) retry.inputResponses = Object.fromEntries(answers);
    if (requestState !== undefined) retry.requestState = requestState;
    result = await rounds.send(retry);
  }
}

/** The parts of a server's `InputRequiredResult`, checked ("Core Types", "Server Requirements" 2, 6). */
export function readInputRequired(server: string, result: JsonObject): { inputRequests: Map<string, InputRequest>; requestState?: string } {
  const invalid = (why: string): never => {
    throw new GatewayError("unavailable", `server "${server}" answered with an invalid InputRequiredResult: ${why}`);
  };
  const inputRequests = new Map<string, InputRequest>();
  const raw = result.inputRequests;
  if (raw !== undefined) {
    if (!isJsonObject(raw)) invalid("inputRequests is not an object");
    const entries = Object.entries(raw as JsonObject);
    if (entries.length > MAX_INPUT_REQUESTS_PER_ROUND) invalid(`more than ${MAX_INPUT_REQUESTS_PER_ROUND} input requests`);
    for (const [key, value] of entries) {
      if (!isJsonObject(value) || typeof value.method !== "string") return invalid("an input request has no method");
      if (!INPUT_REQUEST_METHODS.has(value.method)) invalid(`input request method "${value.method.slice(0, 64)}" is not elicitation/create, sampling/createMessage or roots/list`);
      if (value.params !== undefined && !isJsonObject(value.params)) invalid("an input request's params is not an object");
      inputRequests.set(key, { method: value.method, ...(value.params !== undefined ? { params: value.params as JsonObject } : {}) });
    }
  }
  const state = result.requestState;
  if (state !== undefined && typeof state !== "string") invalid("requestState is not a string");
  if (inputRequests.size === 0 && state === undefined) invalid("neither inputRequests nor requestState");
  return { inputRequests, ...(state !== undefined ? { requestState: state as string } : {}) };
}
