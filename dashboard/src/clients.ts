import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { AuditService } from "../../gen/deploystack/gateway/v1/audit_service_pb.js";
import { GatewayService } from "../../gen/deploystack/gateway/v1/gateway_service_pb.js";
import { ServerService } from "../../gen/deploystack/gateway/v1/server_service_pb.js";

/**
 * The dashboard's only way to the daemon: the generated Connect-Web clients, over the Connect protocol (unary and
 * server-streaming RPCs both work over fetch), to the origin that served the page — the TCP control listener —
 * with the bearer token on every request.
 */

/** The clients the views use. */
export interface DashboardClients {
  readonly gateway: Client<typeof GatewayService>;
  readonly servers: Client<typeof ServerService>;
  readonly audit: Client<typeof AuditService>;
}

/** Creates the clients for `token`; `onUnauthenticated` runs when the daemon refuses it. */
export function createDashboardClients(token: string, onUnauthenticated: () => void): DashboardClients {
  const bearer: Interceptor = (next) => async (req) => {
    req.header.set("Authorization", `Bearer ${token}`);
    try {
      return await next(req);
    } catch (error) {
      if (ConnectError.from(error).code === Code.Unauthenticated) onUnauthenticated();
      throw error;
    }
  };
  const transport = createConnectTransport({ baseUrl: location.origin, useBinaryFormat: true, interceptors: [bearer] });
  return {
    gateway: createClient(GatewayService, transport),
    servers: createClient(ServerService, transport),
    audit: createClient(AuditService, transport),
  };
}

/** Whether `error` means the daemon does not offer the RPC (an older daemon, or a feature not built in). */
export function isUnimplemented(error: unknown): boolean {
  return ConnectError.from(error).code === Code.Unimplemented;
}

/** Whether `error` is our own cancellation of a stream. */
export function isAbort(error: unknown, signal: AbortSignal): boolean {
  return signal.aborted || ConnectError.from(error).code === Code.Canceled;
}

/** A one-line reason for the page. */
export function reasonOf(error: unknown): string {
  return ConnectError.from(error).rawMessage;
}

/**
 * Runs `open` (one stream) again and again until `signal` aborts: a stream that ends (the daemon restarted, the
 * network blinked) is reopened after `retryMs`. `onState` says whether the stream is up, for the page's indicator.
 */
export async function keepStreaming(
  open: (signal: AbortSignal) => Promise<void>,
  signal: AbortSignal,
  onState: (state: "up" | "down", reason?: string) => void,
  retryMs = 2000,
): Promise<void> {
  while (!signal.aborted) {
    try {
      await open(signal);
      if (signal.aborted) return;
      onState("down", "the stream ended");
    } catch (error) {
      if (isAbort(error, signal)) return;
      if (isUnimplemented(error)) throw error;
      onState("down", reasonOf(error));
    }
    await new Promise((resolve) => setTimeout(resolve, retryMs));
  }
}
