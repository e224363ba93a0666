import type { Duplex } from "node:stream";
import { jsonRpcErrorBody } from "./http-error.js";

/**
 * Answers a request node's HTTP parser rejected before koa saw it (garbage request line, bad framing, oversized
 * headers, a request whose headers or body did not arrive in time) with a 400, 431 or 408 in the same JSON-RPC error
 * shape as every other refusal, then closes the connection. Nothing is written when the response already started.
 */
export function handleClientError(error: Error & { code?: string }, socket: Duplex): void {
  const started = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
  if (!socket.writable || error.code === "ECONNRESET" || started) {
    socket.destroy();
    return;
  }
  const [status, reason, message] = answerFor(error.code);
  const body = jsonRpcErrorBody(-32000, message);
  // Destroyed once written: a client still trickling its body must not keep the socket (and its slot) open.
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    () => socket.destroy(),
  );
}

function answerFor(code: string | undefined): [number, string, string] {
  switch (code) {
    case "HPE_HEADER_OVERFLOW":
      return [431, "Request Header Fields Too Large", "bad request: malformed http"];
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return [408, "Request Timeout", "request timeout: the request's headers or body did not arrive in time"];
    default:
      return [400, "Bad Request", "bad request: malformed http"];
  }
}
