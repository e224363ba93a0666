import type { ConnectRouter } from "@connectrpc/connect";
import { AuthService } from "../../gen/deploystack/gateway/v1/auth_service_pb.js";
import { McpService } from "../../gen/deploystack/gateway/v1/mcp_service_pb.js";
import { TeamService } from "../../gen/deploystack/gateway/v1/team_service_pb.js";
import { gatewayServiceRoutes, type GatewayServiceDeps } from "./gateway-service.js";
import { serverServiceRoutes, type ServerServiceDeps } from "./server-service.js";
import { unimplementedRoutes } from "./unimplemented.js";

/** Everything the control API's routes are built from. */
export interface ControlRoutesDeps {
  readonly gateway: GatewayServiceDeps;
  readonly servers: ServerServiceDeps;
  /** The MCP engine's routes (daemon/api/mcp-service.ts); `McpService` answers Unimplemented without them. */
  readonly mcp?: (router: ConnectRouter) => void;
  /** The control plane's routes, once teams and login exist. */
  readonly teams?: (router: ConnectRouter) => void;
  readonly auth?: (router: ConnectRouter) => void;
}

/**
 * All five services of the control API on one router. Services not built yet are registered
 * as explicit Unimplemented answers, so the whole API surface exists from day one.
 */
export function controlRoutes(deps: ControlRoutesDeps): (router: ConnectRouter) => void {
  const parts = [
    gatewayServiceRoutes(deps.gateway),
    serverServiceRoutes(deps.servers),
    deps.mcp ?? unimplementedRoutes(McpService),
    deps.teams ?? unimplementedRoutes(TeamService),
    deps.auth ?? unimplementedRoutes(AuthService),
  ];
  return (router) => {
    for (const register of parts) register(router);
  };
}
