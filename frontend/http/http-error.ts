/**
 * An HTTP-level refusal the frontend itself decides (403, 404, 413...). The error-rendering middleware turns it into
 * a JSON-RPC error object body (`{"jsonrpc":"2.0","id":null,"error":{...}}`), the shape the MCP SDK's own server
 * transport uses for transport errors, so clients can show the message whatever the status.
 */
export class HttpError extends Error {
  /** The HTTP status to answer with. */
  readonly status: number;
  /** The JSON-RPC error code of the body: -32700 for an unparseable body, -32001 for an unknown session, else -32000. */
  readonly rpcCode: number;
  /** Extra response headers (`WWW-Authenticate`, `Allow`, `Retry-After`). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, message: string, options: { rpcCode?: number; headers?: Record<string, string> } = {}) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.rpcCode = options.rpcCode ?? -32000;
    this.headers = options.headers ?? {};
  }
}

/** JSON-RPC "Parse error" (JSON-RPC 2.0 §5.1): the one JSON-RPC error the frontend answers itself. */
export const PARSE_ERROR_BODY = '{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}';

/** Serialises a transport-level error as a JSON-RPC error object with a null id. */
export function jsonRpcErrorBody(code: number, message: string): string {
  if (code === -32700 && message === "Parse error") return PARSE_ERROR_BODY;
  return JSON.stringify({ jsonrpc: "2.0", id: null, error: { code, message } });
}

/** The session id is unknown, expired or ended (Streamable HTTP, "Session Management": 404 → re-initialize). */
export function sessionNotFound(): HttpError {
  return new HttpError(404, "session not found", { rpcCode: -32001 });
}
