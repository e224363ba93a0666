import { connect as netConnect } from "node:net";
import { createClient } from "@connectrpc/connect";
import { Http2SessionManager, createConnectTransport } from "@connectrpc/connect-node";
import { McpService } from "../gen/deploystack/gateway/v1/mcp_service_pb.js";
import type { McpClient } from "./session/session.js";

/** A McpService client over the daemon's unix socket, and the way to close its connection. */
export interface DaemonClient {
  readonly client: McpClient;
  /**
   * Whether the daemon's socket answers now (opens or verifies the HTTP/2 connection). Used before a legacy SSE
   * session announces its endpoint: that transport has no answer in which to report a missing daemon later.
   */
  reachable(): Promise<boolean>;
  /** Closes the HTTP/2 connection (shutdown, tests). */
  close(): void;
}

/**
 * Dials the daemon's control socket with the Connect protocol over HTTP/2: one connection multiplexes every
 * session's long-lived `OpenSession` stream (DESIGN.md "Performance shape"). The connection is opened lazily and
 * re-opened by the session manager after an error, so when the daemon restarts new sessions simply work again.
 */
export function createDaemonClient(socketPath: string): DaemonClient {
  const baseUrl = "http://localhost";
  const sessionManager = new Http2SessionManager(
    baseUrl,
    { pingIntervalMs: 30_000, pingTimeoutMs: 10_000, idleConnectionTimeoutMs: 5 * 60_000 },
    { createConnection: () => netConnect(socketPath) },
  );
  const transport = createConnectTransport({ httpVersion: "2", baseUrl, sessionManager });
  return {
    client: createClient(McpService, transport),
    reachable: async () => (await sessionManager.connect()) !== "error",
    close: () => sessionManager.abort(),
  };
}
