/**
 * The single mapping from failures to JSON-RPC error objects on a client session. Domain
 * `GatewayError` kinds map once here (one error model, mapped at the edges); JSON-RPC errors returned by an
 * upstream server are forwarded with their own code, message and data.
 */
import { GatewayError } from "../errors.js";
import { UpstreamRpcError } from "../upstream/types.js";
import { JsonRpcErrorCode, McpRpcError } from "./json-rpc.js";

/** A JSON-RPC error object. */
export interface RpcErrorObject {
  readonly code: number;
  readonly message: string;
  readonly data?: unknown;
}

const RESOURCE_METHODS = new Set(["resources/read", "resources/subscribe", "resources/unsubscribe"]);

/**
 * The JSON-RPC error for `error` raised while serving `method`. A resource that does not
 * exist is -32002 with the URI in `data` (MCP 2025-11-25 "Resources › Error Handling");
 * an unknown tool or prompt is -32602 ("Tools › Error Handling"); a server that is
 * disabled, failed or not ready is -32603 with a message naming it.
 */
export function toRpcError(error: unknown, method: string, params?: { uri?: unknown }): RpcErrorObject {
  if (error instanceof McpRpcError) return withData(error.code, error.message, error.data);
  if (error instanceof UpstreamRpcError) return withData(error.code, error.message, error.data);
  if (error instanceof GatewayError) {
    switch (error.kind) {
      case "not_found":
        if (RESOURCE_METHODS.has(method) && typeof params?.uri === "string") {
          return { code: JsonRpcErrorCode.resourceNotFound, message: error.message, data: { uri: params.uri } };
        }
        return { code: JsonRpcErrorCode.invalidParams, message: error.message };
      case "invalid_argument":
      case "permission_denied":
        return { code: JsonRpcErrorCode.invalidParams, message: error.message };
      case "unimplemented":
        return { code: JsonRpcErrorCode.methodNotFound, message: error.message };
      default:
        return { code: JsonRpcErrorCode.internalError, message: error.message };
    }
  }
  return { code: JsonRpcErrorCode.internalError, message: "internal error" };
}

function withData(code: number, message: string, data: unknown): RpcErrorObject {
  return data === undefined ? { code, message } : { code, message, data };
}
