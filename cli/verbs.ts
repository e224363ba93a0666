/**
 * Everything the daemon-facing verbs use, in one module that `program.ts` loads only when such a verb runs: the
 * Connect client, the generated services and the commands.
 */
export { createClient } from "@connectrpc/connect";
export { AuthService } from "../gen/deploystack/gateway/v1/auth_service_pb.js";
export { GatewayService } from "../gen/deploystack/gateway/v1/gateway_service_pb.js";
export { McpService } from "../gen/deploystack/gateway/v1/mcp_service_pb.js";
export { ServerService } from "../gen/deploystack/gateway/v1/server_service_pb.js";
export { TeamService } from "../gen/deploystack/gateway/v1/team_service_pb.js";
export { login, logout, whoAmI } from "./commands/auth.js";
export { showStatus, stopDaemon } from "./commands/daemon.js";
export { explainPolicy } from "./commands/policy.js";
export { listProfiles } from "./commands/profiles.js";
export { disableServer, enableServer, getServer, listServers, loginServer, logoutServer, restartServer, serverLogs } from "./commands/servers.js";
export { runStdioBridge } from "./commands/stdio.js";
export { listTeams, switchTeam, syncTeams } from "./commands/teams.js";
export { callTool, listTools } from "./commands/tools.js";
export { dialDaemon } from "./dial.js";
