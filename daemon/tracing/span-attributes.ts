/**
 * The attribute names the gateway's spans carry. The MCP and GenAI ones are OpenTelemetry semantic conventions
 * that are still incubating: OpenTelemetry asks users to copy incubating names rather than import the incubating
 * entry point (it may change in any release), and importing it here would load OpenTelemetry with tracing off.
 * span-attributes.test.ts checks each copy against `@opentelemetry/semantic-conventions/incubating`.
 * `deploystack.*` names what no convention covers.
 */

/** `mcp.method.name`: the JSON-RPC method of an MCP request (`tools/call`). */
export const ATTR_MCP_METHOD_NAME = "mcp.method.name";
/** `mcp.protocol.version`: the MCP revision the session negotiated, or the one a modern request names. */
export const ATTR_MCP_PROTOCOL_VERSION = "mcp.protocol.version";
/** `mcp.resource.uri`: the URI of `resources/read` and friends. */
export const ATTR_MCP_RESOURCE_URI = "mcp.resource.uri";
/** `gen_ai.tool.name`: the called tool's name as the client called it (the exposed name). */
export const ATTR_GEN_AI_TOOL_NAME = "gen_ai.tool.name";
/** `gen_ai.prompt.name`: the prompt of `prompts/get`. */
export const ATTR_GEN_AI_PROMPT_NAME = "gen_ai.prompt.name";
/** `gen_ai.operation.name`: `execute_tool` for `tools/call`, as the MCP conventions ask. */
export const ATTR_GEN_AI_OPERATION_NAME = "gen_ai.operation.name";
/** The value of `gen_ai.operation.name` for a tool call. */
export const GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL = "execute_tool";
/** `rpc.response.status_code`: a JSON-RPC error code, as a string. */
export const ATTR_RPC_RESPONSE_STATUS_CODE = "rpc.response.status_code";

/** `error.type` (stable): a code or class of failure, never a message. */
export const ATTR_ERROR_TYPE = "error.type";

/** The configured server a request went to. */
export const ATTR_DEPLOYSTACK_SERVER = "deploystack.server.name";
/** A tool's canonical name (`<prefix>-<tool>`), the name the team policy decides on. */
export const ATTR_DEPLOYSTACK_CANONICAL_NAME = "deploystack.tool.canonical_name";
/** How the request ended, in the metrics' and audit log's words: `ok`, `tool_error`, `error`, `denied` or `cancelled`. */
export const ATTR_DEPLOYSTACK_OUTCOME = "deploystack.outcome";
