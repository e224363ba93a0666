/**
 * JSON-RPC 2.0 framing as MCP uses it (MCP 2025-11-25 "Base Protocol › Messages"):
 * classifying raw client messages, and building responses and errors. The session
 * engine parses each client message exactly once here and re-encodes only what it
 * sends, so routing never depends on the transport.
 */
import type { JsonObject, UpstreamResult } from "../upstream/types.js";

/** Standard JSON-RPC error codes (JSON-RPC 2.0 §5.1), plus the MCP resource-not-found code. */
export const JsonRpcErrorCode = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internalError: -32603,
  /** MCP 2025-11-25 "Server Features › Resources › Error Handling". */
  resourceNotFound: -32002,
} as const;

/** A JSON-RPC request id. MCP forbids `null` ids ("Base Protocol › Requests"). */
export type RequestId = string | number;

/** A protocol-level error that is answered to the client as a JSON-RPC error object. */
export class McpRpcError extends Error {
  override readonly name = "McpRpcError";
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

/** One classified element of a client message. */
export type ClientEnvelope =
  | { readonly kind: "request"; readonly id: RequestId; readonly method: string; readonly params: JsonObject | undefined }
  | { readonly kind: "notification"; readonly method: string; readonly params: JsonObject | undefined }
  | { readonly kind: "response"; readonly id: RequestId; readonly result?: JsonObject; readonly error?: JsonObject }
  /** Not a valid message: answer `error` with `id` (null when the id itself was unusable). */
  | { readonly kind: "invalid"; readonly id: RequestId | null; readonly error: McpRpcError };

/** The result of parsing one transport message: a single envelope or a batch. */
export type ParsedClientMessage =
  | { readonly kind: "single"; readonly envelope: ClientEnvelope }
  | { readonly kind: "batch"; readonly envelopes: readonly ClientEnvelope[] }
  /** Unparseable JSON or an empty batch: one error with a null id. */
  | { readonly kind: "malformed"; readonly error: McpRpcError };

function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isRequestId(value: unknown): value is RequestId {
  return typeof value === "string" || (typeof value === "number" && Number.isFinite(value));
}

/**
 * Classifies one JSON value as a request, notification or response, or explains why it is
 * not a valid JSON-RPC message. `params` must be an object (MCP methods take named params);
 * an array or primitive `params` is an invalid request.
 */
export function classifyEnvelope(value: unknown): ClientEnvelope {
  if (!isPlainObject(value)) {
    return { kind: "invalid", id: null, error: new McpRpcError(JsonRpcErrorCode.invalidRequest, "invalid request: not a JSON-RPC object") };
  }
  const hasId = Object.hasOwn(value, "id");
  const id = value.id;
  const echoId = isRequestId(id) ? id : null;
  if (value.jsonrpc !== "2.0") {
    return { kind: "invalid", id: echoId, error: new McpRpcError(JsonRpcErrorCode.invalidRequest, 'invalid request: "jsonrpc" must be "2.0"') };
  }
  if (Object.hasOwn(value, "method")) {
    if (typeof value.method !== "string" || value.method.length === 0) {
      return { kind: "invalid", id: echoId, error: new McpRpcError(JsonRpcErrorCode.invalidRequest, 'invalid request: "method" must be a non-empty string') };
    }
    if (hasId && !isRequestId(id)) {
      return { kind: "invalid", id: null, error: new McpRpcError(JsonRpcErrorCode.invalidRequest, 'invalid request: "id" must be a string or a number') };
    }
    const params = value.params;
    if (params !== undefined && !isPlainObject(params)) {
      return {
        kind: "invalid",
        id: echoId,
        error: new McpRpcError(hasId ? JsonRpcErrorCode.invalidParams : JsonRpcErrorCode.invalidRequest, 'invalid params: "params" must be an object'),
      };
    }
    if (hasId) return { kind: "request", id: id as RequestId, method: value.method, params };
    return { kind: "notification", method: value.method, params };
  }
  if (hasId && isRequestId(id) && (isPlainObject(value.result) || isPlainObject(value.error))) {
    return isPlainObject(value.result)
      ? { kind: "response", id, result: value.result }
      : { kind: "response", id, error: value.error as JsonObject };
  }
  return { kind: "invalid", id: echoId, error: new McpRpcError(JsonRpcErrorCode.invalidRequest, "invalid request: neither a request, a notification nor a response") };
}

/** Parses the bytes of one transport message (JSON-RPC 2.0 §6: a batch is an array). */
export function parseClientMessage(json: string): ParsedClientMessage {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return { kind: "malformed", error: new McpRpcError(JsonRpcErrorCode.parseError, "parse error: the message is not valid JSON") };
  }
  if (Array.isArray(value)) {
    if (value.length === 0) {
      return { kind: "malformed", error: new McpRpcError(JsonRpcErrorCode.invalidRequest, "invalid request: empty batch") };
    }
    return { kind: "batch", envelopes: value.map(classifyEnvelope) };
  }
  return { kind: "single", envelope: classifyEnvelope(value) };
}

/** A success response object (a `RawJson` result is spliced in when the session serialises it). */
export function resultResponse(id: RequestId, result: UpstreamResult): JsonObject {
  return { jsonrpc: "2.0", id, result };
}

/** An error response object (`data` only when given). */
export function errorResponse(id: RequestId | null, code: number, message: string, data?: unknown): JsonObject {
  const error: JsonObject = { code, message };
  if (data !== undefined) error.data = data;
  return { jsonrpc: "2.0", id, error };
}

/** A notification object. */
export function notification(method: string, params?: JsonObject): JsonObject {
  return params === undefined ? { jsonrpc: "2.0", method } : { jsonrpc: "2.0", method, params };
}

/** A request object. */
export function request(id: RequestId, method: string, params?: JsonObject): JsonObject {
  return params === undefined ? { jsonrpc: "2.0", id, method } : { jsonrpc: "2.0", id, method, params };
}

/** A stable map key for a request id: `1` and `"1"` are different ids. */
export function requestIdKey(id: RequestId): string {
  return typeof id === "number" ? `n:${id}` : `s:${id}`;
}
