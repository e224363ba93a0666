import type { DaemonExtensions } from "./daemon.js";

/**
 * The MCP engine's hook into the composition root. Until the engine's adapter
 * (daemon/api/mcp-service.ts) is wired here, `McpService` answers `Unimplemented`.
 */
export const mcpExtensions: DaemonExtensions = {};
