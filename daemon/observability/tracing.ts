/**
 * The gateway's one span per MCP request (see daemon/tracing/request-tracer.ts for the seam and docs/observability.md
 * for the picture): a SERVER span for each request a session serves (the engine's `handle`), a child of the client's
 * trace — the context in the request's `_meta` (the MCP convention), else the W3C `traceparent` header of the HTTP
 * request that carried it, which the frontend puts beside the message. Its context replaces `traceparent`/
 * `tracestate` in the `_meta` of every request forwarded to a server on its behalf (the operations' `forward`).
 * One span, not one per process and hop: each costs CPU on every call (measured in docs/observability.md), and the
 * frontend adds nothing a span would tell apart from the daemon's. Every function here is reached only when
 * `activeTracer()` is defined, so with tracing off none of it runs and the caller's `_meta` goes to the server
 * untouched. Spans carry names, codes and outcomes, never arguments, results or error messages (which may hold what a
 * server echoed of a secret).
 */
import {
  activeTracer,
  ATTR_DEPLOYSTACK_CANONICAL_NAME,
  ATTR_DEPLOYSTACK_OUTCOME,
  ATTR_DEPLOYSTACK_SERVER,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROMPT_NAME,
  ATTR_GEN_AI_TOOL_NAME,
  ATTR_MCP_METHOD_NAME,
  ATTR_MCP_PROTOCOL_VERSION,
  ATTR_MCP_RESOURCE_URI,
  ATTR_RPC_RESPONSE_STATUS_CODE,
  GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL,
  type RequestSpan,
  type SpanAttributeValue,
  type TraceCarrier,
} from "../../daemon/tracing/index.js";
import { extensibleCopy, withField } from "../../shared/object-copy.js";
import { GatewayError } from "../errors.js";
import { toRpcError } from "../mcp/rpc-errors.js";
import { callOutcome } from "./observability.js";
import type { JsonObject } from "../upstream/types.js";

/** Something that may carry the span of the request it serves (the upstream router's `Caller`). */
export interface TracedCaller {
  readonly trace?: RequestSpan;
}

function metaOf(params: JsonObject | undefined): JsonObject | undefined {
  const meta = params?._meta;
  return typeof meta === "object" && meta !== null && !Array.isArray(meta) ? (meta as JsonObject) : undefined;
}

/** The longest tool or prompt name or URI a span records: names come from clients, and a span is not a place for a megabyte. */
const MAX_TARGET_LENGTH = 256;

function bounded(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  return value.length <= MAX_TARGET_LENGTH ? value : `${value.slice(0, MAX_TARGET_LENGTH)}…`;
}

/** The span name and target attributes of an MCP request, as the MCP semantic conventions name them. */
function describe(method: string, params: JsonObject | undefined, attributes: Record<string, SpanAttributeValue>): string {
  attributes[ATTR_MCP_METHOD_NAME] = method;
  const name = bounded(params?.name);
  const uri = bounded(params?.uri);
  if (method === "tools/call" && name !== undefined) {
    attributes[ATTR_GEN_AI_TOOL_NAME] = name;
    attributes[ATTR_GEN_AI_OPERATION_NAME] = GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL;
    return `${method} ${name}`;
  }
  if (method === "prompts/get" && name !== undefined) {
    attributes[ATTR_GEN_AI_PROMPT_NAME] = name;
    return `${method} ${name}`;
  }
  if (uri !== undefined) {
    attributes[ATTR_MCP_RESOURCE_URI] = uri;
    return method;
  }
  return method;
}

/** The trace context a request joins: its own `_meta`'s when that has a `traceparent`, else the HTTP request's. */
function clientTrace(params: JsonObject | undefined, httpTrace: TraceCarrier | undefined): TraceCarrier | undefined {
  const meta = metaOf(params);
  return meta !== undefined && typeof meta.traceparent === "string" ? meta : httpTrace;
}

/**
 * Starts the span of one MCP request a session serves, joined to the trace context in the request's `_meta`, or
 * else to `httpTrace` (the HTTP request's `traceparent` header, carried beside the message by the frontend);
 * undefined when tracing is off. `canonicalNameOf` names a called tool the way the team policy does (the registry
 * knows).
 */
export function startMcpRequestSpan(
  method: string,
  params: JsonObject | undefined,
  protocolVersion: string | undefined,
  canonicalNameOf: (exposedName: string) => string | undefined,
  httpTrace: TraceCarrier | undefined,
): RequestSpan | undefined {
  const tracer = activeTracer();
  if (tracer === undefined) return undefined;
  const attributes: Record<string, SpanAttributeValue> = {};
  const name = describe(method, params, attributes);
  if (protocolVersion !== undefined) attributes[ATTR_MCP_PROTOCOL_VERSION] = protocolVersion;
  if (method === "tools/call" && typeof params?.name === "string" && params.name.length <= MAX_TARGET_LENGTH) {
    const canonicalName = canonicalNameOf(params.name);
    if (canonicalName !== undefined) attributes[ATTR_DEPLOYSTACK_CANONICAL_NAME] = canonicalName;
  }
  return tracer.startSpan(name, "server", attributes, clientTrace(params, httpTrace));
}

/**
 * Records how a request ended on its span and ends it. The outcome is the observer's (`callOutcome`, the vocabulary
 * of the metrics and the audit log); `error.type` is the gateway's error kind or the JSON-RPC code, never a message.
 */
function finish(span: RequestSpan, method: string, params: JsonObject | undefined, result: unknown, failed: boolean, failure: unknown): void {
  const outcome = callOutcome(result, failed ? (failure ?? new Error("rejected")) : undefined);
  span.setAttribute(ATTR_DEPLOYSTACK_OUTCOME, outcome);
  if (outcome === "tool_error" || outcome === "cancelled") span.fail(outcome);
  else if (failed) {
    const code = toRpcError(failure, method, params as { uri?: unknown } | undefined).code;
    span.setAttribute(ATTR_RPC_RESPONSE_STATUS_CODE, String(code));
    span.fail(failure instanceof GatewayError ? failure.kind : String(code));
  }
  span.end();
}

/**
 * Runs `serve` with a caller that carries `span` (for the upstream requests made on its behalf; `tracedCaller`) and
 * ends the span, with the outcome, when the answer settles; a synchronous throw (a handler's parameter check) counts
 * as a failed answer.
 */
export function serveTraced<C extends object, T>(span: RequestSpan, method: string, params: JsonObject | undefined, caller: C, serve: (caller: C & TracedCaller) => Promise<T>): Promise<T> {
  let answer: Promise<T>;
  try {
    answer = serve(tracedCaller(caller, span));
  } catch (error) {
    answer = Promise.reject(error);
  }
  answer.then(
    (result) => finish(span, method, params, result, false, undefined),
    (error: unknown) => finish(span, method, params, undefined, true, error),
  );
  return answer;
}

/**
 * `caller` carrying `span`. A caller made for one request declares its own `trace` field, left undefined: it is set
 * in place (a prototype link would turn every later property read on the caller into a slow one, measured at a few
 * microseconds per request). Any other caller gets a prototype link, so a shared caller keeps its accessors and `this`.
 */
function tracedCaller<C extends object>(caller: C, span: RequestSpan): C & TracedCaller {
  if (Object.hasOwn(caller, "trace") && (caller as TracedCaller).trace === undefined) {
    (caller as { trace?: RequestSpan }).trace = span;
    return caller as C & TracedCaller;
  }
  return Object.create(caller, { trace: { value: span, enumerable: true } }) as C & TracedCaller;
}

/**
 * The params to send to `server` in place of `params`: a copy whose `_meta.traceparent`/`tracestate` are the
 * caller's span (the request's one span), so that a traced server continues the trace under it; the span records
 * the server. `params` itself when the caller is not traced (tracing off, or a request of the gateway's own), and
 * when the client's `_meta` is not an object (the client's to have got wrong: it goes on as it came).
 */
export function tracedUpstreamParams(caller: TracedCaller, server: string, params: JsonObject): JsonObject {
  const span = caller.trace;
  if (span === undefined) return params;
  span.setAttribute(ATTR_DEPLOYSTACK_SERVER, server);
  if (params._meta !== undefined && metaOf(params) === undefined) return params;
  const meta: Record<string, unknown> = extensibleCopy(metaOf(params));
  span.inject(meta);
  return withField(params, "_meta", meta as JsonObject);
}
