/**
 * Who waits on an upstream request, as the upstream router and the modules around it (sessions,
 * modern requests, held MRTR calls) see it: in a module of its own so that they can share the shape
 * without importing the router, which imports some of them.
 */
import type { CallClient } from "../observability/call-record.js";
import type { RequestSpan } from "../tracing/request-tracer.js";
import type { JsonObject } from "../upstream/types.js";
import type { CallSignal } from "../call-signal.js";

/** The client capabilities a caller declared in `initialize` (empty for typed RPCs). */
export interface CallerCapabilities {
  readonly sampling?: JsonObject;
  readonly elicitation?: JsonObject;
  readonly roots?: JsonObject;
}

/** Whoever waits on an upstream request: a client session's request, or a typed RPC. */
export interface Caller {
  readonly capabilities: CallerCapabilities;
  /** Sends a server-to-client request to this caller's client, on the exchange of its call. */
  clientRequest?(method: string, params: JsonObject | undefined, signal: CallSignal): Promise<JsonObject>;
  /** A `notifications/progress` params object, already carrying the caller's own token. */
  onProgress?(params: JsonObject): void;
  /** A `notifications/message` params object from the server while the call runs (typed RPCs). */
  onLog?(params: JsonObject): void;
  /** The caller sends results on to its client untouched, so a large one may come as `RawJson` (`UpstreamConnection.forward`). */
  readonly forwardsResults?: boolean;
  /** Who is calling, for the audit log (a session's client, or the control API). */
  readonly client?: CallClient;
  /** The span of the client's request when tracing is on (daemon/observability/tracing.ts); upstream spans descend from it. */
  readonly trace?: RequestSpan;
  /**
   * A modern (2026-07-28) caller: it takes no request from a server, so a legacy server's request during its call
   * suspends the call and answers it with an `InputRequiredResult` (mrtr-held-calls.ts), and its retries carry
   * `inputResponses` and `requestState`. Absent: the caller is answered as today (its `clientRequest`, or refused).
   */
  readonly suspendsForInput?: boolean;
}
