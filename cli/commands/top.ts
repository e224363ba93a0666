/**
 * `dsctl top [--once] [--interval S] [--window S]`: a live view of the gateway refreshed like `top` — servers with
 * state, calls/s, p50/p99, errors and restarts; the busiest tools; open sessions — from `GatewayService.GetStats`
 * and `GetStatus`. It fits any terminal (80×24 included): every line is cut to the width and sections are cut to
 * the height, saying how many rows were left out. `q` or Ctrl-C quits; `--once` (or output that is not a
 * terminal) prints one snapshot and exits.
 */
import { ConnectError, type Client } from "@connectrpc/connect";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import type { Readable, Writable } from "node:stream";
import type { GatewayService, GetStatsResponse, GetStatusResponse } from "../../gen/deploystack/gateway/v1/gateway_service_pb.js";
import { ServerState } from "../../gen/deploystack/gateway/v1/server_pb.js";
import type { CallStats } from "../../gen/deploystack/gateway/v1/stats_pb.js";
import type { CliIo } from "../io.js";
import { durationMs, escapeControls } from "../output.js";

/** A client of `GatewayService`. */
export type GatewayClient = Client<typeof GatewayService>;

/** Arguments of `dsctl top`. */
export interface TopArgs {
  readonly once?: boolean;
  /** Seconds between refreshes; default 2. */
  readonly interval?: number;
  /** The window the figures cover, in seconds; default 60. */
  readonly window?: number;
}

/** The terminal `top` draws on. */
export interface TopTerminal {
  readonly stdin: Readable;
  readonly stdout: Writable;
  /** Aborts on SIGINT (the terminal's Ctrl-C when stdin is not in raw mode). */
  readonly signal?: AbortSignal;
}

/** What one screen shows. */
export interface TopSnapshot {
  readonly stats: GetStatsResponse;
  readonly status?: GetStatusResponse;
  /** When it was taken, epoch ms. */
  readonly time: number;
}

/** The size drawn to when the output is not a terminal. */
export const DEFAULT_SIZE = { columns: 80, rows: 24 } as const;

/** A latency for a narrow column: `0.4ms`, `12ms`, `1.2s`. */
export function formatLatency(ms: number): string {
  if (ms <= 0) return "-";
  if (ms < 10) return `${ms.toFixed(1)}ms`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)}s`;
}

function rate(value: number): string {
  if (value === 0) return "0";
  return value < 10 ? value.toFixed(2) : value.toFixed(1);
}

function preciseMs(duration: CallStats["p50"]): number {
  return duration ? durationMs(duration) + (duration.nanos % 1e6) / 1e6 : 0;
}

/** Cuts a line to `columns` characters (with `…` when cut); control characters are escaped first. */
export function fitLine(line: string, columns: number): string {
  const safe = escapeControls(line, { singleLine: true });
  if (safe.length <= columns) return safe;
  return columns <= 1 ? safe.slice(0, columns) : `${safe.slice(0, columns - 1)}…`;
}

/** Left-aligned and right-aligned columns with fixed widths. */
function row(cells: readonly (readonly [string, number, "l" | "r"])[]): string {
  return cells
    .map(([text, width, align]) => {
      const cut = text.length > width ? `${text.slice(0, Math.max(0, width - 1))}…` : text;
      return align === "l" ? cut.padEnd(width) : cut.padStart(width);
    })
    .join(" ")
    .trimEnd();
}

const stateNames: Record<ServerState, string> = {
  [ServerState.UNSPECIFIED]: "?",
  [ServerState.STOPPED]: "STOPPED",
  [ServerState.STARTING]: "STARTING",
  [ServerState.RUNNING]: "RUNNING",
  [ServerState.BACKOFF]: "BACKOFF",
  [ServerState.FAILED]: "FAILED",
  [ServerState.IDLE]: "IDLE",
  [ServerState.UNHEALTHY]: "UNHEALTHY",
  [ServerState.INVALID]: "INVALID",
  [ServerState.NEEDS_AUTH]: "NEEDS_AUTH",
};

function stateName(state: ServerState): string {
  return stateNames[state] ?? String(state);
}

/** Draws one screen as lines, each at most `columns` wide, at most `rows` of them. */
export function renderTop(snapshot: TopSnapshot, size: { readonly columns: number; readonly rows: number }): string[] {
  const columns = Math.max(20, size.columns);
  const rows = Math.max(6, size.rows);
  const { stats, status } = snapshot;
  const windowSeconds = Math.round(durationMs(stats.window) / 1000);
  const total = stats.total;
  const sessions = stats.sessions.reduce((sum, entry) => sum + entry.open, 0);
  const clock = new Date(snapshot.time).toISOString().slice(11, 19);
  const head = [
    `dsctl top — ${status?.team ? `team ${status.team.id}` : "gateway"} · ${stats.servers.length} servers · ${sessions} sessions · last ${windowSeconds}s · ${clock}`,
    `calls ${total?.calls ?? 0n} (${rate(total?.callsPerSecond ?? 0)}/s)  errors ${total?.errors ?? 0n}  p50 ${formatLatency(preciseMs(total?.p50))}  p99 ${formatLatency(preciseMs(total?.p99))}`,
  ];

  // Name columns take what the figures leave of the width.
  const serverName = Math.max(8, Math.min(32, columns - 60));
  const serverHeader = row([["SERVER", serverName, "l"], ["STATE", 9, "l"], ["CALLS/S", 8, "r"], ["P50", 7, "r"], ["P99", 7, "r"], ["ERRORS", 7, "r"], ["RESTARTS", 8, "r"]]);
  const serverRows = stats.servers.map((server) =>
    row([
      [server.server, serverName, "l"],
      [stateName(server.state), 9, "l"],
      [rate(server.calls?.callsPerSecond ?? 0), 8, "r"],
      [formatLatency(preciseMs(server.calls?.p50)), 7, "r"],
      [formatLatency(preciseMs(server.calls?.p99)), 7, "r"],
      [String(server.calls?.errors ?? 0n), 7, "r"],
      [String(server.restarts), 8, "r"],
    ]),
  );
  const toolName = Math.max(10, Math.min(48, columns - 44));
  const toolHeader = row([["BUSIEST TOOLS", toolName, "l"], ["CALLS", 7, "r"], ["CALLS/S", 8, "r"], ["P50", 7, "r"], ["P99", 7, "r"], ["ERRORS", 7, "r"]]);
  const toolRows = stats.tools.map((tool) =>
    row([
      [tool.tool, toolName, "l"],
      [String(tool.calls?.calls ?? 0n), 7, "r"],
      [rate(tool.calls?.callsPerSecond ?? 0), 8, "r"],
      [formatLatency(preciseMs(tool.calls?.p50)), 7, "r"],
      [formatLatency(preciseMs(tool.calls?.p99)), 7, "r"],
      [String(tool.calls?.errors ?? 0n), 7, "r"],
    ]),
  );
  const sessionLine =
    stats.sessions.length === 0 ? "sessions: none open" : `sessions: ${stats.sessions.map((entry) => `${entry.open} ${entry.era} ${entry.transport}`).join(", ")}`;

  // Fixed lines: 2 head, blank, server header, blank, tool header, blank, sessions = 8; the rest is shared.
  const free = Math.max(2, rows - 8);
  // Servers first, leaving the tools at least half the free rows when they have that many.
  const toolNeed = Math.max(1, toolRows.length);
  const serverBudget = Math.min(Math.max(1, serverRows.length), Math.max(1, free - Math.min(toolNeed, Math.floor(free / 2))));
  const toolBudget = Math.max(1, free - serverBudget);
  const cut = (lines: string[], budget: number, what: string): string[] => {
    if (lines.length <= budget) return lines;
    const shown = Math.max(0, budget - 1);
    return [...lines.slice(0, shown), `… ${lines.length - shown} more ${what}`];
  };
  const lines = [
    ...head,
    "",
    serverHeader,
    ...(serverRows.length === 0 ? ["(no servers configured)"] : cut(serverRows, serverBudget, "servers")),
    "",
    toolHeader,
    ...(toolRows.length === 0 ? ["(no calls in the window)"] : cut(toolRows, toolBudget, "tools")),
    "",
    sessionLine,
  ];
  return lines.slice(0, rows).map((line) => fitLine(line, columns));
}

async function snapshotOf(client: GatewayClient, windowSeconds: number, signal?: AbortSignal): Promise<TopSnapshot> {
  const [stats, status] = await Promise.all([
    client.getStats({ window: durationFromMs(windowSeconds * 1000), toolLimit: 50 }, { signal }),
    client.getStatus({}, { signal }).catch(() => undefined),
  ]);
  return { stats, status, time: Date.now() };
}

interface TtyOut extends Writable {
  readonly isTTY?: boolean;
  readonly columns?: number;
  readonly rows?: number;
}

interface TtyIn extends Readable {
  readonly isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
}

const ENTER_SCREEN = "\x1b[?1049h\x1b[?25l";
const LEAVE_SCREEN = "\x1b[?25h\x1b[?1049l";
const HOME_AND_CLEAR = "\x1b[H\x1b[2J";

/** Runs `dsctl top`. */
export async function runTop(client: GatewayClient, args: TopArgs, io: CliIo, terminal: TopTerminal): Promise<number> {
  const windowSeconds = args.window ?? 60;
  const out = terminal.stdout as TtyOut;
  const input = terminal.stdin as TtyIn;
  const sizeNow = (): { columns: number; rows: number } =>
    out.isTTY && out.columns && out.rows ? { columns: out.columns, rows: out.rows } : { ...DEFAULT_SIZE };
  if (args.once || !out.isTTY || !input.isTTY) {
    const snapshot = await snapshotOf(client, windowSeconds);
    io.stdout.write(`${renderTop(snapshot, sizeNow()).join("\n")}\n`);
    return 0;
  }

  const stop = new AbortController();
  const onKey = (chunk: Buffer | string): void => {
    const text = typeof chunk === "string" ? chunk : chunk.toString("utf8");
    if (text.includes("q") || text.includes("Q") || text.includes("\x03")) stop.abort();
  };
  const onSignal = (): void => stop.abort();
  terminal.signal?.addEventListener("abort", onSignal, { once: true });
  let last: TopSnapshot | undefined;
  let problem: string | undefined;
  const draw = (): void => {
    const size = sizeNow();
    const lines = last ? renderTop(last, { columns: size.columns, rows: size.rows - (problem ? 1 : 0) }) : ["dsctl top — waiting for the daemon…"];
    if (problem) lines.push(fitLine(problem, size.columns));
    out.write(`${HOME_AND_CLEAR}${lines.join("\r\n")}`);
  };
  input.setRawMode?.(true);
  input.on("data", onKey);
  input.resume();
  out.on("resize", draw);
  out.write(ENTER_SCREEN);
  try {
    while (!stop.signal.aborted) {
      try {
        last = await snapshotOf(client, windowSeconds, stop.signal);
        problem = undefined;
      } catch (error) {
        if (stop.signal.aborted) break;
        problem = `cannot refresh: ${error instanceof ConnectError ? error.rawMessage : String(error)}`;
      }
      draw();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, (args.interval ?? 2) * 1000);
        stop.signal.addEventListener(
          "abort",
          () => {
            clearTimeout(timer);
            resolve();
          },
          { once: true },
        );
      });
    }
  } finally {
    out.write(LEAVE_SCREEN);
    out.off("resize", draw);
    input.off("data", onKey);
    input.setRawMode?.(false);
    input.pause();
    terminal.signal?.removeEventListener("abort", onSignal);
  }
  return 0;
}
