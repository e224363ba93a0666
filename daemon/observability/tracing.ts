/**
 * The daemon's spans (see shared/tracing/request-tracer.ts for the seam and docs/observability.md for the picture):
 * - one SERVER span per MCP request a session serves (the engine's `handle`), a child of the frontend's span when
 *   the message came with its context (over HTTP), else of the trace context in the request's `_meta` (the client's
 *   own, for `dsctl stdio`);
 * - one CLIENT span per request forwarded to a server (the operations' `forward`, beside the observer's count), a
 *   child of the first,
 *   whose context replaces `traceparent`/`tracestate` in the `_meta` the server receives.
 * Every function here is reached only when `activeTracer()` is defined, so with tracing off none of it runs and the
 * caller's `_meta` goes to the server untouched. Spans carry names, codes and outcomes, never arguments, results or
 * error messages (which may hold what a server echoed of a secret).
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
} from "../../shared/tracing/index.js";
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

/**
 * Starts the span of one MCP request a session serves, joined to `trace` (the frontend's span, carried beside the
 * message) or else to the trace context in the request's `_meta`; undefined when tracing is off. `canonicalNameOf`
 * names a called tool the way the team policy does (the registry knows).
 */
export function startMcpRequestSpan(
  method: string,
  params: JsonObject | undefined,
  protocolVersion: string | undefined,
  canonicalNameOf: (exposedName: string) => string | undefined,
  trace: TraceCarrier | undefined,
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
  return tracer.startSpan(name, "server", attributes, trace ?? metaOf(params));
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
 * Runs `serve` with a caller that carries `span` (for the upstream spans below it; `tracedCaller`) and ends the span,
 * with the outcome, when the answer settles; a synchronous throw (a handler's parameter check) counts as a failed
 * answer.
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

/** The CLIENT span of one upstream request and the params to send in its place (with its trace context in `_meta`). */
export interface UpstreamSpan {
  readonly span: RequestSpan;
  readonly params: JsonObject | undefined;
}

/**
 * Starts the CLIENT span of a request forwarded to `server` as a child of the caller's span, and returns the params
 * with `_meta.traceparent`/`tracestate` replaced by its context (a copy: the caller's object is not touched).
 * Undefined when the caller is not traced (tracing off, or a request of the gateway's own).
 */
export function startUpstreamSpan(caller: TracedCaller, server: string, method: string, params: JsonObject | undefined): UpstreamSpan | undefined {
  const parent = caller.trace;
  const tracer = activeTracer();
  if (parent === undefined || tracer === undefined) return undefined;
  parent.setAttribute(ATTR_DEPLOYSTACK_SERVER, server);
  const attributes: Record<string, SpanAttributeValue> = { [ATTR_DEPLOYSTACK_SERVER]: server };
  const span = tracer.startSpan(describe(method, params, attributes), "client", attributes, parent);
  // A `_meta` that is not an object is the client's to have got wrong: it goes on as it came, without context.
  if (params?._meta !== undefined && metaOf(params) === undefined) return { span, params };
  const meta: Record<string, unknown> = { ...metaOf(params) };
  span.inject(meta);
  return { span, params: { ...params, _meta: meta as JsonObject } };
}

/** Ends an upstream span with the server's `result`, or with `failure` when the request rejected. */
export function endUpstreamSpan(upstream: UpstreamSpan, method: string, result: unknown, failed: boolean, failure: unknown): void {
  finish(upstream.span, method, upstream.params, result, failed, failure);
}
