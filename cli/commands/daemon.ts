import type { Client } from "@connectrpc/connect";
import { ConfigSource } from "../../gen/deploystack/gateway/v1/gateway_pb.js";
import {
  GatewayService,
  GetStatusResponseSchema,
  ShutdownResponseSchema,
  type GetStatusResponse,
} from "../../gen/deploystack/gateway/v1/gateway_service_pb.js";
import { CliFailure, isDaemonUnreachable } from "../dial.js";
import type { CliIo } from "../io.js";
import { durationMs, formatDurationMs, formatFields, printJson } from "../output.js";
import { toolsLine, type JsonFlag } from "./servers.js";

/**
 * `dsctl status` and `dsctl stop`: the daemon as a whole, through `GatewayService`.
 */

/** The client these verbs use. */
export type GatewayClient = Client<typeof GatewayService>;

/** The human rendering of `GetStatus`, shared with `dsctl start`. */
export function formatStatus(status: GetStatusResponse): string {
  const counts = status.servers;
  const team = status.team;
  return formatFields([
    ["gateway", `running (version ${status.version}, pid ${status.pid}, up ${formatDurationMs(durationMs(status.uptime))})`],
    ["team", team ? `${team.name} (${team.id}, ${team.role})` : "(none)"],
    ["config", status.configSource === ConfigSource.DEPLOYSTACK ? "DeployStack cloud" : `file ${status.configPath}`],
    ["mcp", status.mcpUrl || "(frontend not serving yet)"],
    ["sse", status.sseUrl || "-"],
    ["frontend", status.frontendRunning ? "running" : "not running"],
    ["control", status.controlAddress ? `${status.controlSocket}, tcp ${status.controlAddress}` : status.controlSocket],
    [
      "servers",
      counts
        ? `${counts.total} total, ${counts.running} running, ${counts.starting} starting, ${counts.unhealthy} unhealthy, ${counts.stopped} stopped`
        : "-",
    ],
    ["tools", counts ? toolsLine(counts.tools, counts.hiddenTools) : "-"],
    ["sessions", String(status.sessionCount)],
    ["home", status.home],
  ]) + formatConfigError(status);
}

/**
 * The team file's mistakes while the config loaded before keeps running (hot reload or
 * `dsctl teams sync` found them); one `file:line:column: field: message` line each.
 */
function formatConfigError(status: GetStatusResponse): string {
  const error = status.configError;
  if (!error) return "";
  const problems = error.message.split("\n").map((line) => `  ${line}\n`).join("");
  return `config error: the team file has mistakes; the config loaded before keeps running until it is fixed:\n${problems}`;
}

/** `dsctl status`. */
export async function showStatus(client: GatewayClient, args: JsonFlag, io: CliIo): Promise<number> {
  const status = await client.getStatus({});
  if (args.json) printJson(io, GetStatusResponseSchema, status);
  else io.stdout.write(formatStatus(status));
  return 0;
}

/** Arguments of `dsctl stop`. */
export interface StopArgs extends JsonFlag {
  /** How long to wait for the socket to stop answering. Default 60 s (servers get SIGTERM, then SIGKILL). */
  readonly timeoutMs?: number;
  /** Delay between checks. Default 200 ms. */
  readonly pollMs?: number;
}

/**
 * `dsctl stop`: asks the daemon to shut down, then waits until its socket stops
 * answering, so that a script's next `dsctl start` does not find the old daemon.
 */
export async function stopDaemon(client: GatewayClient, args: StopArgs, io: CliIo): Promise<number> {
  const status = await client.getStatus({}, { timeoutMs: 5_000 });
  try {
    const response = await client.shutdown({});
    if (args.json) printJson(io, ShutdownResponseSchema, response);
  } catch (error) {
    // The daemon may close the connection while answering; it is stopping either way.
    if (!isDaemonUnreachable(error)) throw error;
    if (args.json) printJson(io, ShutdownResponseSchema, { $typeName: "deploystack.gateway.v1.ShutdownResponse" });
  }
  const deadline = Date.now() + (args.timeoutMs ?? 60_000);
  for (;;) {
    try {
      await client.getStatus({}, { timeoutMs: 2_000 });
    } catch (error) {
      if (isDaemonUnreachable(error)) break;
    }
    if (Date.now() > deadline) throw new CliFailure(`the gateway daemon (pid ${status.pid}) is still answering after the stop request`);
    await new Promise((resolve) => setTimeout(resolve, args.pollMs ?? 200));
  }
  if (!args.json) io.stdout.write(`gateway stopped (pid ${status.pid})\n`);
  return 0;
}
