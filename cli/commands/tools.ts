import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { toJson, type JsonObject } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { CallToolResponseSchema, ListToolsResponseSchema, McpService } from "../../gen/deploystack/gateway/v1/mcp_service_pb.js";
import type { Tool } from "../../gen/deploystack/gateway/v1/mcp_pb.js";
import { CliFailure } from "../dial.js";
import type { CliIo } from "../io.js";
import { escapeControls, formatTable, oneLine, printJson, printJsonLine } from "../output.js";
import type { JsonFlag } from "./servers.js";

/**
 * `dsctl tools …`: the team's tools for scripts, through `McpService`'s typed RPCs, so a
 * shell script can call a team tool without speaking MCP.
 */

/** The client these verbs use. */
export type McpClient = Client<typeof McpService>;

/** Arguments of `dsctl tools list`. */
export interface ListToolsArgs extends JsonFlag {
  /** Only this server's tools. */
  readonly server?: string;
  /** Also the tools clients do not see, each with the reason (`--all`). */
  readonly all?: boolean;
  /** Only the tools a client of this profile reaches (`--profile`). */
  readonly profile?: string;
}

/**
 * `dsctl tools list [--server S] [--profile P] [--all]`: the tools MCP clients (of profile P) see; with `--all` also the ones they do not,
 * with a STATUS column saying why (policy rule, task-only, server disabled or failed) or that a collision renamed it.
 */
export async function listTools(client: McpClient, args: ListToolsArgs, io: CliIo): Promise<number> {
  const response = await client.listTools({ server: args.server ?? "", includeHidden: args.all === true, profile: args.profile ?? "" });
  if (args.json) {
    printJson(io, ListToolsResponseSchema, response);
    return 0;
  }
  if (response.tools.length === 0) {
    io.stdout.write(args.server ? `server "${args.server}" exposes no tools\n` : "no tools available\n");
    return 0;
  }
  if (!args.all) {
    io.stdout.write(
      formatTable(
        ["NAME", "SERVER", "DESCRIPTION"],
        response.tools.map((tool) => [tool.name, tool.server, oneLine(tool.description, 70)]),
      ),
    );
    return 0;
  }
  const status = (tool: Tool): string =>
    tool.hiddenReason !== ""
      ? `hidden: ${tool.hiddenReason}`
      : tool.wantedName !== ""
        ? `exposed (name collision resolved as "${tool.name}", wanted "${tool.wantedName}")`
        : "exposed";
  io.stdout.write(
    formatTable(
      ["NAME", "SERVER", "STATUS", "DESCRIPTION"],
      response.tools.map((tool) => [tool.name, tool.server, oneLine(status(tool), 90), oneLine(tool.description, 50)]),
    ),
  );
  const hidden = response.tools.filter((tool) => tool.hiddenReason !== "").length;
  io.stdout.write(`${response.tools.length - hidden} exposed, ${hidden} hidden\n`);
  return 0;
}

/** Arguments of `dsctl tools call`. */
export interface CallToolArgs extends JsonFlag {
  /** The exposed tool name. */
  readonly name: string;
  /** The arguments object as JSON text; default `{}`. */
  readonly args?: string;
  /** Ctrl-C: cancels the call upstream. */
  readonly signal?: AbortSignal;
}

/** Parses `--args`, which must be a JSON object. */
export function parseToolArguments(text: string | undefined): JsonObject {
  if (text === undefined || text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new CliFailure(`--args is not valid JSON: ${(error as Error).message}`, 2);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new CliFailure("--args must be a JSON object", 2);
  return value as JsonObject;
}

/**
 * `dsctl tools call NAME --args JSON`: progress and server log messages go to stderr
 * while the call runs; the MCP `CallToolResult` is printed as JSON on stdout; a result
 * with `isError: true` exits 1 (it is still printed: it is the tool's answer). Ctrl-C
 * cancels the RPC, which the daemon turns into `notifications/cancelled` upstream.
 */
export async function callTool(client: McpClient, args: CallToolArgs, io: CliIo): Promise<number> {
  const toolArguments = parseToolArguments(args.args);
  let exitCode = 0;
  let gotResult = false;
  try {
    for await (const response of client.callTool({ name: args.name, arguments: toolArguments }, { signal: args.signal })) {
      if (args.json) printJsonLine(io, CallToolResponseSchema, response);
      const event = response.event;
      switch (event.case) {
        case "progress": {
          const { progress, total, message } = event.value;
          io.stderr.write(`progress ${progress}${total !== undefined ? `/${total}` : ""}${message ? ` ${escapeControls(message, { singleLine: true })}` : ""}\n`);
          break;
        }
        case "log": {
          const { level, logger, data } = event.value;
          const value = data ? toJson(ValueSchema, data) : null;
          const text = `log [${level}]${logger ? ` ${logger}:` : ""} ${typeof value === "string" ? value : JSON.stringify(value)}`;
          io.stderr.write(`${escapeControls(text)}\n`);
          break;
        }
        case "result":
          gotResult = true;
          if (!args.json) io.stdout.write(`${escapeControls(JSON.stringify(event.value, null, 2), { json: true })}\n`);
          if (event.value.isError === true) exitCode = 1;
          break;
        default:
          break;
      }
    }
  } catch (error) {
    if (args.signal?.aborted && error instanceof ConnectError && error.code === Code.Canceled) {
      throw new CliFailure(`call of "${args.name}" cancelled`, 130);
    }
    throw error;
  }
  if (!gotResult) throw new CliFailure(`the call of "${args.name}" ended without a result`);
  return exitCode;
}
