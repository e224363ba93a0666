/**
 * The W3C trace context of an HTTP request, for the daemon. A client that traces may send its context as the
 * `traceparent` (and `tracestate`) HTTP header instead of in each request's `_meta`; the frontend puts it beside the
 * message bytes in the `ClientMessage` that carries them, and the daemon's span of each request in the message joins
 * it when the request's own `_meta` has none (daemon/observability/tracing.ts). The frontend makes no span of its own
 * and never loads OpenTelemetry: it only hands the header on, unchecked but bounded — the daemon's W3C propagator
 * decides whether it is valid, and ignores it with tracing off.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { MessageTraceContext } from "../shared/open-session-wire/codec.js";

/** Longest `traceparent` handed on (version 00 is 55 characters; later versions may append fields). */
const MAX_TRACEPARENT_LENGTH = 256;
/** Longest `tracestate` handed on: W3C Trace Context asks to propagate at least 512 characters, and no more is needed. */
const MAX_TRACESTATE_LENGTH = 512;

/** The request's `traceparent`/`tracestate` headers, or undefined without a usable `traceparent` (the common case). */
export function traceHeaderContext(headers: IncomingHttpHeaders): MessageTraceContext | undefined {
  const traceparent = headers.traceparent;
  if (typeof traceparent !== "string" || traceparent.length === 0 || traceparent.length > MAX_TRACEPARENT_LENGTH) return undefined;
  const tracestate = headers.tracestate;
  return typeof tracestate === "string" && tracestate.length > 0 && tracestate.length <= MAX_TRACESTATE_LENGTH ? { traceparent, tracestate } : { traceparent };
}
