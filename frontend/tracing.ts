/**
 * The frontend's span: one HTTP SERVER span per MCP POST, and the hand-over of its context to the daemon.
 *
 * The daemon gets the client's message bytes as they are, and the frontend's span context beside them, in the
 * `ClientMessage` that carries them (its `traceparent`/`tracestate` fields): the daemon's spans for the message's
 * requests are children of the frontend's span (daemon/observability/tracing.ts). The body is never re-encoded:
 * with tracing on or off, the daemon reads the client's own bytes.
 *
 * The span's parent is the client's trace: `_meta.traceparent` of the first request when it has one (the MCP
 * convention), else the W3C `traceparent` HTTP header, else none (a new trace).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { MessageTraceContext } from "../shared/open-session-wire/codec.js";
import {
  activeTracer,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_MCP_METHOD_NAME,
  ATTR_URL_PATH,
  type SpanAttributeValue,
  type TraceCarrier,
} from "../shared/tracing/index.js";

type Message = Record<string, unknown>;

function isObject(value: unknown): value is Message {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A request (method and id), which is what gets trace context: notifications and responses are left alone. */
function isRequest(message: unknown): message is Message & { method: string } {
  return isObject(message) && typeof message.method === "string" && "id" in message;
}

function metaOf(message: Message): Message | undefined {
  return isObject(message.params) && isObject(message.params._meta) ? message.params._meta : undefined;
}

/**
 * When tracing is on, starts the SERVER span of an MCP POST (ended when the response closes, with its status) and
 * returns its context, to send to the daemon with the body; returns undefined when tracing is off or the body holds
 * no request. `value` is the body as the frontend parsed it (inspect-body.ts), read only. `route` is the path's
 * template (`/mcp/{profile}`), `path` the path itself (never the query, which holds a legacy session's id).
 */
export function tracePost(req: IncomingMessage, res: ServerResponse, route: string, path: string, value: unknown): MessageTraceContext | undefined {
  const tracer = activeTracer();
  if (tracer === undefined) return undefined;
  const requests = (Array.isArray(value) ? value : [value]).filter(isRequest);
  if (requests.length === 0) return undefined;
  const first = requests[0]!;
  const clientMeta = metaOf(first);
  const parent: TraceCarrier = typeof clientMeta?.traceparent === "string" ? clientMeta : req.headers;
  const attributes: Record<string, SpanAttributeValue> = {
    [ATTR_HTTP_REQUEST_METHOD]: req.method ?? "POST",
    [ATTR_HTTP_ROUTE]: route,
    [ATTR_URL_PATH]: path,
  };
  if (requests.length === 1) attributes[ATTR_MCP_METHOD_NAME] = first.method;
  const span = tracer.startSpan(`${req.method ?? "POST"} ${route}`, "server", attributes, parent);
  res.once("close", () => {
    span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, res.statusCode);
    if (res.statusCode >= 500) span.fail(String(res.statusCode));
    else if (!res.writableFinished) span.setAttribute(ATTR_ERROR_TYPE, "connection_closed");
    span.end();
  });
  // `inject` always writes `traceparent` (and `tracestate` only when the span has one).
  const context: Record<string, unknown> = {};
  span.inject(context);
  return context as MessageTraceContext;
}
