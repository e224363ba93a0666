import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { applyHttpLimits, type HttpLimits } from "../../shared/http-limits.js";

/**
 * One cleartext listener that speaks both HTTP/1.1 and HTTP/2 ("h2c" with prior knowledge).
 *
 * Why: gRPC clients (`@grpc/grpc-js`, `buf curl --protocol grpc`) need HTTP/2, and over
 * cleartext they open with the HTTP/2 connection preface directly; browsers (gRPC-Web and
 * Connect from a dashboard) only ever speak HTTP/1.1 to a plain `http://` origin. Node's
 * `allowHTTP1` exists only for TLS servers, where ALPN negotiates the protocol. In cleartext
 * there is no negotiation, so we look at the first bytes of each connection: the fixed
 * 24-byte preface `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n` means HTTP/2, anything else is HTTP/1.1.
 * The bytes are put back (`unshift`) and the socket is handed to a regular `http2` or
 * `http` server, so each protocol is served by Node's own implementation and the cost is
 * paid once per connection, not per request. (Upgrade-based h2c is not supported; no gRPC
 * client uses it.)
 */

const h2Preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** How long a new connection may stay silent before its protocol is known. */
const firstBytesTimeoutMs = 10_000;

/** A request handler that works for both `http` and `http2` compat requests (connect-node's `NodeHandlerFn` shape). */
export type DualHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/** The listener and a way to close it together with every open connection. */
export interface DualProtocolServer {
  readonly server: net.Server;
  /**
   * Stops accepting, asks HTTP/2 sessions to finish (GOAWAY) and idle HTTP/1.1 connections
   * to close, then destroys whatever is still open after `graceMs`.
   */
  close(graceMs?: number): Promise<void>;
}

/**
 * Creates the dual-protocol listener; call `server.listen(...)` on the result.
 *
 * With `limits` (the TCP listener, which any local process can reach): at most `maxConnections` connections are
 * accepted; a connection must show its protocol within `headersTimeoutMs`; HTTP/1.1 requests get node's header and
 * request (body) timeouts, so a trickling client is cut off. HTTP/2 request bodies get no deadline, because a
 * client-streaming RPC keeps its body open by design: there the connection cap and HTTP/2's per-connection stream
 * limit bound what one client can hold.
 */
export function createDualProtocolServer(handler: DualHandler, limits?: HttpLimits): DualProtocolServer {
  const h1 = http.createServer(handler as http.RequestListener);
  const h2 = http2.createServer(handler as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void);
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
    session.on("error", () => {});
  });
  h1.on("clientError", (_error, socket) => socket.destroy());
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    // A connection that never sends its first bytes is dropped instead of held forever.
    const onSilent = (): void => void socket.destroy();
    socket.setTimeout(limits ? Math.min(limits.headersTimeoutMs, firstBytesTimeoutMs) : firstBytesTimeoutMs, onSilent);
    let received = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      received = Buffer.concat([received, chunk]);
      const compared = Math.min(received.length, h2Preface.length);
      const isH2SoFar = received.subarray(0, compared).equals(h2Preface.subarray(0, compared));
      if (isH2SoFar && received.length < h2Preface.length) return;
      socket.off("data", onData);
      socket.setTimeout(0);
      socket.off("timeout", onSilent);
      socket.pause();
      socket.unshift(received);
      if (isH2SoFar) {
        // node's http2 session drains what is buffered on the socket into nghttp2 itself.
        h2.emit("connection", socket);
      } else {
        h1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
  });
  if (limits) {
    applyHttpLimits(h1, limits);
    server.maxConnections = limits.maxConnections;
    // Node runs the HTTP/1.1 header and request timeouts from a checker it starts when the server listens; h1 never
    // listens itself (it is handed sockets), so it is told when the real listener does.
    server.on("listening", () => h1.emit("listening"));
  }
  return {
    server,
    close(graceMs = 2000) {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Stops h1's timeout checker (and closes its idle connections); h1 was never listening itself.
        if (limits) h1.close();
        for (const session of sessions) session.close();
        h1.closeIdleConnections();
        // Not unref'd: with nothing else alive, an unref'd timer never fires and `close` never settles — a
        // client holding a half-open stream would leave whatever awaits this close waiting forever.
        const timer = setTimeout(() => {
          for (const session of sessions) session.destroy();
          for (const socket of sockets) socket.destroy();
        }, graceMs);
        server.once("close", () => clearTimeout(timer));
      });
    },
  };
}
