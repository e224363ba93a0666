/**
 * The frontend's span: one HTTP SERVER span per MCP POST, and the hand-over of its context to the daemon.
 *
 * The daemon gets the client's message bytes as they are, so the only way the frontend's span context reaches it
 * is inside the message: when tracing is on (and only then — with it off, nothing here runs and the bytes pass
 * untouched), each request in the body gets `params._meta.traceparent`/`tracestate` set to the frontend's span, the
 * 2026-07-28 convention the daemon joins (daemon/observability/tracing.ts). Re-encoding the body costs nothing in
 * fidelity: the daemon parses it with `JSON.parse` as well.
 *
 * The span's parent is the client's trace: `_meta.traceparent` of the first request when it has one (the MCP
 * convention), else the W3C `traceparent` HTTP header, else none (a new trace).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
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
 * returns the body to forward in place of the client's, carrying the span's context; returns undefined when tracing
 * is off or the body holds no request. `value` is the body as the frontend parsed it (inspect-body.ts): its requests'
 * `params` are replaced (with copies carrying the context), so later readers of it see what the daemon will. `route` is the path's template (`/mcp/{profile}`), `path` the path itself (never the
 * query, which holds a legacy session's id).
 */
export function tracePost(req: IncomingMessage, res: ServerResponse, route: string, path: string, value: unknown): Buffer | undefined {
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
  for (const request of requests) {
    // A malformed `params` or `_meta` stays as the client sent it, for the daemon to judge: only well-formed ones gain context.
    if (request.params !== undefined && !isObject(request.params)) continue;
    const params: Message = { ...request.params };
    if (params._meta !== undefined && !isObject(params._meta)) continue;
    const meta: Message = { ...params._meta };
    span.inject(meta);
    params._meta = meta;
    request.params = params;
  }
  return Buffer.from(JSON.stringify(value));
}
