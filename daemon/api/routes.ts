import type { ConnectRouter } from "@connectrpc/connect";
import { gatewayServiceRoutes, type GatewayServiceDeps } from "./gateway-service.js";
import { serverServiceRoutes, type ServerServiceDeps } from "./server-service.js";

/** Everything the control API's routes are built from. */
export interface ControlRoutesDeps {
  readonly gateway: GatewayServiceDeps;
  readonly servers: ServerServiceDeps;
  /** The MCP engine's routes (daemon/api/mcp-service.ts). */
  readonly mcp?: (router: ConnectRouter) => void;
  /** The control plane's routes (daemon/api/team-service.ts, auth-service.ts). */
  readonly teams?: (router: ConnectRouter) => void;
  readonly auth?: (router: ConnectRouter) => void;
  /** The audit log's routes (daemon/api/audit-service.ts). */
  readonly audit?: (router: ConnectRouter) => void;
}

/**
 * All five services of the control API on one router, so the socket and the TCP listener serve
 * the same API. The daemon passes every part; adapter tests may leave some out, and Connect then
 * answers their procedures with `Unimplemented`.
 */
export function controlRoutes(deps: ControlRoutesDeps): (router: ConnectRouter) => void {
  const parts = [gatewayServiceRoutes(deps.gateway), serverServiceRoutes(deps.servers), deps.mcp, deps.teams, deps.auth, deps.audit];
  return (router) => {
    for (const register of parts) register?.(router);
  };
}
