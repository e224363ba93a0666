import { createMcpWiring } from "./api/mcp-service.js";
import type { DaemonExtensions } from "./daemon.js";

/**
 * The MCP engine's hook into the composition root: `McpService` (the data plane the frontend
 * and `dsctl stdio` use) built over the running supervisor.
 */
export const mcpExtensions: DaemonExtensions = { mcpRoutes: createMcpWiring };
