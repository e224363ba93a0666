import http2 from "node:http2";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";

/** A Connect server on a unix socket, for tests of the CLI over a real socket. */
export interface SocketServer {
  /** Stops listening and cuts every open HTTP/2 session (as a daemon that exits does). */
  close(): Promise<void>;
}

/** Serves `routes` on `socketPath` (Connect, gRPC and gRPC-Web over HTTP/2). */
export async function serveOnSocket(socketPath: string, routes: (router: ConnectRouter) => void): Promise<SocketServer> {
  const server = http2.createServer(connectNodeAdapter({ routes }));
  const sessions = new Set<http2.Http2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => resolve());
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const session of sessions) session.destroy();
        server.close(() => resolve());
      }),
  };
}
