/**
 * The meta-tools a session of a `tools: search` profile sees instead of the catalog:
 * `find_tools` ranks the profile's tools for a query (tool-search.ts) and returns their names,
 * descriptions and input schemas; `call_tool` calls one of them by name. Their definitions and
 * argument checks live here; profile-scope.ts serves them.
 */
import type { JsonObject } from "../upstream/types.js";
import { JsonRpcErrorCode, McpRpcError } from "./json-rpc.js";
import type { ToolMatch } from "./tool-search.js";

/** The name of the search meta-tool. */
export const FIND_TOOLS = "find_tools";
/** The name of the call meta-tool. */
export const CALL_TOOL = "call_tool";

/** `find_tools` returns this many tools unless asked otherwise. */
export const DEFAULT_FIND_LIMIT = 5;
/** …and never more than this, so one answer cannot bring the whole catalog back. */
export const MAX_FIND_LIMIT = 25;

/** The meta-tools' definitions, as `tools/list` shows them. */
export const SEARCH_META_TOOLS: readonly JsonObject[] = [
  {
    name: FIND_TOOLS,
    title: "Find tools",
    description:
      "Search the tools available through this gateway. Describe what you want to do in a few words " +
      '(e.g. "create github issue", "delete entity"); the best matching tools come back with their names, ' +
      `descriptions and input schemas. Then call one with ${CALL_TOOL}, or directly by its name when your client lists it.`,
    inputSchema: {
      type: "object",
      properties: {
        query: { type: "string", description: "What the tool should do, in a few words." },
        limit: { type: "integer", minimum: 1, maximum: MAX_FIND_LIMIT, description: `How many tools to return (default ${DEFAULT_FIND_LIMIT}).` },
      },
      required: ["query"],
    },
    annotations: { readOnlyHint: true, openWorldHint: false },
  },
  {
    name: CALL_TOOL,
    title: "Call a tool",
    description: `Call a tool found with ${FIND_TOOLS}: give its exact name and its arguments (an object matching its input schema).`,
    inputSchema: {
      type: "object",
      properties: {
        name: { type: "string", description: `The tool's name, as ${FIND_TOOLS} returned it.` },
        arguments: { type: "object", description: "The tool's arguments.", additionalProperties: true },
      },
      required: ["name"],
    },
  },
];

function invalidParams(message: string): McpRpcError {
  return new McpRpcError(JsonRpcErrorCode.invalidParams, `invalid params: ${message}`);
}

function argumentsOf(params: JsonObject): JsonObject {
  const args = params.arguments ?? {};
  if (typeof args !== "object" || args === null || Array.isArray(args)) throw invalidParams('"arguments" must be an object');
  return args as JsonObject;
}

/** The query and limit of a `find_tools` call; -32602 when they are not a string and an integer in range. */
export function findToolsArguments(params: JsonObject): { query: string; limit: number } {
  const args = argumentsOf(params);
  if (typeof args.query !== "string" || args.query.trim() === "") throw invalidParams(`${FIND_TOOLS} needs a non-empty "query" string`);
  const limit = args.limit ?? DEFAULT_FIND_LIMIT;
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > MAX_FIND_LIMIT) {
    throw invalidParams(`"limit" must be an integer from 1 to ${MAX_FIND_LIMIT}`);
  }
  return { query: args.query.slice(0, 1000), limit };
}

/**
 * The `tools/call` params of the tool a `call_tool` call names: its name and arguments, with the
 * outer request's `_meta` (progress token, trace context) so progress and cancellation reach the
 * client exactly as for a direct call.
 */
export function callToolTarget(params: JsonObject): JsonObject {
  const args = argumentsOf(params);
  if (typeof args.name !== "string" || args.name === "") throw invalidParams(`${CALL_TOOL} needs the tool's "name"`);
  const inner = args.arguments ?? {};
  if (typeof inner !== "object" || inner === null || Array.isArray(inner)) throw invalidParams(`${CALL_TOOL}'s "arguments" must be an object`);
  return { ...(params._meta !== undefined ? { _meta: params._meta } : {}), name: args.name, arguments: inner };
}

/** The `CallToolResult` of `find_tools`: the matches as structured content and as the same JSON in text. */
export function findToolsResult(query: string, matches: readonly ToolMatch[]): JsonObject {
  const tools = matches.map(({ tool }) => ({
    name: tool.exposedName,
    ...(typeof tool.definition.title === "string" ? { title: tool.definition.title } : {}),
    description: typeof tool.definition.description === "string" ? tool.definition.description : "",
    inputSchema: tool.definition.inputSchema ?? { type: "object" },
  }));
  const structured = { query, tools };
  const text = tools.length === 0 ? `No tool matches "${query}". Try other words.` : JSON.stringify(structured);
  return { content: [{ type: "text", text }], structuredContent: structured };
}
