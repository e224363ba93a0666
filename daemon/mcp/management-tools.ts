/**
 * The management layer (issue 4 item 4): when a team turns it on, every configured server
 * also appears to MCP clients as one tool, `<server>-manage`, whose `action` is `enable`,
 * `disable` or `status`, acting exactly as `dsctl servers enable|disable|get` do (the same
 * supervisor calls). The tool is the gateway's own, never forwarded: it stays listed while
 * its server is disabled or failed (that is when it is needed), and it goes through the
 * access policy like any tool — the team policy allows it to admins only by default.
 */
import { GatewayError } from "../errors.js";
import type { ServerSnapshot, Supervisor } from "../supervisor/types.js";
import { failureSummaryForClients } from "../supervisor/unavailable-error.js";
import type { JsonObject } from "../upstream/types.js";
import { sanitizeExposedName } from "./exposed-names.js";

/** The suffix of every management tool's exposed name. */
export const MANAGEMENT_TOOL_SUFFIX = "-manage";

/** What a management tool can do. */
export const MANAGEMENT_ACTIONS = ["enable", "disable", "status"] as const;

/** One management action. */
export type ManagementAction = (typeof MANAGEMENT_ACTIONS)[number];

/** The exposed name of a server's management tool: the server's name (not its prefix) and the suffix. */
export function managementToolName(server: string): string {
  return sanitizeExposedName(`${server}${MANAGEMENT_TOOL_SUFFIX}`);
}

/**
 * Whether an exposed tool name has the form of a management tool — the predicate for the
 * team policy's `isManagementTool` option. The gateway reserves `<server>-manage` for the
 * management tool (a server tool that wants that name is renamed with a hash suffix), so
 * every management tool matches; a server tool whose own name ends in `-manage` (for
 * example `github-repo-manage`) matches too. `McpEngine.isManagementTool` answers exactly
 * from the live catalog when that distinction matters.
 */
export function isManagementToolName(exposedName: string): boolean {
  return exposedName.length > MANAGEMENT_TOOL_SUFFIX.length && exposedName.endsWith(MANAGEMENT_TOOL_SUFFIX);
}

/** The output schema of management tools: the server's state after the action. */
const OUTPUT_SCHEMA: JsonObject = {
  type: "object",
  properties: {
    server: { type: "string" },
    action: { type: "string", enum: [...MANAGEMENT_ACTIONS] },
    state: { type: "string", enum: ["stopped", "starting", "running", "backoff", "failed", "idle", "unhealthy", "needs_auth"] },
    enabled: { type: "boolean" },
    pid: { type: "integer" },
    restarts: { type: "integer" },
    toolCount: { type: "integer" },
    lastError: { type: "string" },
    startup: { type: "string" },
  },
  required: ["server", "action", "state", "enabled", "restarts", "toolCount"],
};

/** The tool definition clients list (MCP 2025-11-25 "Server Features › Tools"). */
export function managementToolDefinition(server: string, exposedName: string): JsonObject {
  return {
    name: exposedName,
    title: `Manage the ${server} server`,
    description:
      `Enables, disables or shows the status of the gateway's MCP server "${server}" ` +
      `(as \`dsctl servers enable|disable|get ${server}\`). Disabling stops its process and removes its tools for every client.`,
    inputSchema: {
      type: "object",
      properties: {
        action: { type: "string", enum: [...MANAGEMENT_ACTIONS], description: "enable starts the server, disable stops it, status reports its state" },
      },
      required: ["action"],
      additionalProperties: false,
    },
    outputSchema: OUTPUT_SCHEMA,
    annotations: { title: `Manage ${server}`, readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  };
}

function describe(snapshot: ServerSnapshot): string {
  const parts = [`server "${snapshot.name}" is ${snapshot.state}`, snapshot.enabled ? "enabled" : "disabled"];
  if (snapshot.pid !== undefined) parts.push(`pid ${snapshot.pid}`);
  parts.push(`${snapshot.toolCount} tool${snapshot.toolCount === 1 ? "" : "s"}`);
  if (snapshot.restarts > 0) parts.push(`${snapshot.restarts} restart${snapshot.restarts === 1 ? "" : "s"}`);
  const line = parts.join(", ");
  return snapshot.lastError ? `${line}\nlast error: ${failureSummaryForClients(snapshot.name, snapshot.lastError)}` : line;
}

function toolError(text: string): JsonObject {
  return { content: [{ type: "text", text }], isError: true };
}

/**
 * Runs a management action and answers with a `CallToolResult`: a line of text and the
 * server's state as `structuredContent`. Bad input and refused actions are tool errors
 * (`isError`), so the model can read them (MCP 2025-11-25 "Tools › Error Handling").
 */
export async function runManagementAction(supervisor: Supervisor, server: string, args: unknown): Promise<JsonObject> {
  const action = typeof args === "object" && args !== null ? (args as JsonObject).action : undefined;
  if (typeof action !== "string" || !(MANAGEMENT_ACTIONS as readonly string[]).includes(action)) {
    return toolError(`invalid action ${JSON.stringify(action ?? null)}: expected one of ${MANAGEMENT_ACTIONS.join(", ")}`);
  }
  let snapshot: ServerSnapshot;
  try {
    snapshot =
      action === "enable" ? await supervisor.enable(server) : action === "disable" ? await supervisor.disable(server) : supervisor.get(server);
  } catch (error) {
    if (error instanceof GatewayError) return toolError(error.message);
    throw error;
  }
  const structured: JsonObject = {
    server: snapshot.name,
    action,
    state: snapshot.state,
    enabled: snapshot.enabled,
    restarts: snapshot.restarts,
    toolCount: snapshot.toolCount,
    startup: snapshot.startup,
    ...(snapshot.pid !== undefined ? { pid: snapshot.pid } : {}),
    // MCP clients never get a server's stderr (issue 10 §4): the summary line and where to read the rest.
    ...(snapshot.lastError ? { lastError: failureSummaryForClients(snapshot.name, snapshot.lastError) } : {}),
  };
  return { content: [{ type: "text", text: describe(snapshot) }], structuredContent: structured };
}
