import type { Duplex } from "node:stream";
import { jsonRpcErrorBody } from "./http-error.js";

/**
 * Answers a request node's HTTP parser rejected before koa saw it (garbage request line, bad framing, oversized
 * headers) with a 400 in the same JSON-RPC error shape as every other refusal, then closes the connection.
 */
export function handleClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (!socket.writable || (error.code === "ECONNRESET")) {
    socket.destroy();
    return;
  }
  const status = error.code === "HPE_HEADER_OVERFLOW" ? 431 : 400;
  const reason = status === 431 ? "Request Header Fields Too Large" : "Bad Request";
  const body = jsonRpcErrorBody(-32000, "bad request: malformed http");
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
