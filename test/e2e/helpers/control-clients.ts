import net from "node:net";
import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { AuthService } from "../../../gen/deploystack/gateway/v1/auth_service_pb.js";
import { GatewayService } from "../../../gen/deploystack/gateway/v1/gateway_service_pb.js";
import { McpService } from "../../../gen/deploystack/gateway/v1/mcp_service_pb.js";
import { ServerService } from "../../../gen/deploystack/gateway/v1/server_service_pb.js";
import { TeamService } from "../../../gen/deploystack/gateway/v1/team_service_pb.js";

/**
 * Generated Connect clients for every control API service, over the unix socket or a TCP
 * address, in any of the three protocols. `close()` ends the HTTP/2 session (otherwise ava
 * reports "Failed to exit").
 */
export interface ControlClients {
  readonly gateway: Client<typeof GatewayService>;
  readonly servers: Client<typeof ServerService>;
  readonly teams: Client<typeof TeamService>;
  readonly auth: Client<typeof AuthService>;
  readonly mcp: Client<typeof McpService>;
  close(): void;
}

/** Which wire protocol the clients speak (gRPC-Web is sent over HTTP/1.1, as a browser would). */
export type ControlProtocol = "connect" | "grpc" | "grpc-web" | "connect-http1";

/** Where to connect: the socket path, or `http://127.0.0.1:PORT`. */
export interface ControlTarget {
  readonly socketPath?: string;
  readonly baseUrl?: string;
  /** Sent as `Authorization: Bearer <token>`. */
  readonly token?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Creates the clients. */
export function createControlClients(target: ControlTarget, protocol: ControlProtocol = "connect"): ControlClients {
  const baseUrl = target.baseUrl ?? "http://localhost";
  const createConnection = target.socketPath ? () => net.connect(target.socketPath as string) : undefined;
  const interceptors: Interceptor[] = [
    (next) => async (req) => {
      if (target.token !== undefined) req.header.set("authorization", `Bearer ${target.token}`);
      for (const [name, value] of Object.entries(target.headers ?? {})) req.header.set(name, value);
      return next(req);
    },
  ];
  let sessionManager: Http2SessionManager | undefined;
  let transport: Transport;
  if (protocol === "grpc-web" || protocol === "connect-http1") {
    const options = {
      baseUrl,
      httpVersion: "1.1" as const,
      interceptors,
      nodeOptions: target.socketPath ? { socketPath: target.socketPath } : {},
    };
    transport = protocol === "grpc-web" ? createGrpcWebTransport(options) : createConnectTransport(options);
  } else {
    sessionManager = new Http2SessionManager(baseUrl, {}, createConnection ? { createConnection } : {});
    const options = { baseUrl, httpVersion: "2" as const, interceptors, sessionManager };
    transport = protocol === "grpc" ? createGrpcTransport(options) : createConnectTransport(options);
  }
  return {
    gateway: createClient(GatewayService, transport),
    servers: createClient(ServerService, transport),
    teams: createClient(TeamService, transport),
    auth: createClient(AuthService, transport),
    mcp: createClient(McpService, transport),
    close: () => sessionManager?.abort(),
  };
}
