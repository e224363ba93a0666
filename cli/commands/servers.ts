import type { Client } from "@connectrpc/connect";
import { LogSource, ProtocolEra, ServerState, StartupMode, ServerTransport, type Server } from "../../gen/deploystack/gateway/v1/server_pb.js";
import {
  DisableServerResponseSchema,
  EnableServerResponseSchema,
  GetServerResponseSchema,
  ListServersResponseSchema,
  LoginServerResponseSchema,
  LogoutServerResponseSchema,
  RestartServerResponseSchema,
  ServerService,
  StreamServerLogsResponseSchema,
} from "../../gen/deploystack/gateway/v1/server_service_pb.js";
import { Code, ConnectError } from "@connectrpc/connect";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import type { CliIo } from "../io.js";
import { openInBrowser, type BrowserOpener } from "./auth.js";
import {
  durationMs,
  enumName,
  escapeControls,
  formatDurationMs,
  formatFields,
  formatTable,
  formatTimestamp,
  oneLine,
  printJson,
  printJsonLine,
} from "../output.js";

/**
 * `dsctl servers …`: one function per verb, each one `ServerService` call. They return
 * the exit code and leave failures (thrown `ConnectError`s) to `runVerb`.
 */

/** The client these verbs use. */
export type ServerClient = Client<typeof ServerService>;

/** Options every verb takes. */
export interface JsonFlag {
  readonly json?: boolean;
}

/** Arguments of the verbs that name one server. */
export interface ServerNameArgs extends JsonFlag {
  readonly name: string;
}

/** `dsctl servers list`. */
export async function listServers(client: ServerClient, args: JsonFlag, io: CliIo): Promise<number> {
  const response = await client.listServers({});
  if (args.json) {
    printJson(io, ListServersResponseSchema, response);
    return 0;
  }
  if (response.servers.length === 0) {
    io.stdout.write("no servers configured in the current team\n");
    return 0;
  }
  io.stdout.write(
    formatTable(
      ["NAME", "STATE", "ENABLED", "PID", "UPTIME", "RESTARTS", "TOOLS", "ERA", "LAST ERROR"],
      response.servers.map((server) => [
        server.name,
        enumName(ServerState, server.state),
        server.enabled ? "yes" : "no",
        server.pid > 0 ? String(server.pid) : "-",
        server.uptime ? formatDurationMs(durationMs(server.uptime)) : "-",
        String(server.restarts),
        server.hiddenToolCount === 0 ? String(server.toolCount) : `${server.toolCount} (+${server.hiddenToolCount} hidden)`,
        eraName(server.protocolEra),
        errorHeadline(server.lastError),
      ]),
    ),
  );
  // A remote server has no pid: its URL (credentials removed by the daemon) says where it runs.
  for (const server of response.servers) {
    if (server.url === "") continue;
    const transport = enumName(ServerTransport, server.transport).toLowerCase().replaceAll("_", "-");
    io.stdout.write(`${escapeControls(`remote: ${server.name} → ${server.url} (${transport}${server.insecure ? ", insecure" : ""})`, { singleLine: true })}\n`);
  }
  for (const collision of response.nameCollisions) {
    // A resource URI or template is never renamed: the later server's claim is simply not served.
    const outcome = collision.assignedName === "" ? "is not served through the gateway" : `is exposed as "${collision.assignedName}"`;
    const note =
      `note: "${collision.wantedName}" is taken by server "${collision.keptServer}"; ` +
      `"${collision.renamedServer}"'s "${collision.renamedItem}" ${outcome}`;
    io.stdout.write(`${escapeControls(note, { singleLine: true })}\n`);
  }
  return 0;
}

/**
 * A tool count as status and `servers get` print it: the exposed count (what `dsctl tools list` lists)
 * and, when some are hidden, how many and where the reasons are.
 */
export function toolsLine(exposed: number, hidden: number): string {
  return hidden === 0 ? String(exposed) : `${exposed} exposed, ${hidden} hidden (dsctl tools list --all says why)`;
}

/** The era a server speaks, in lower case (`legacy`, `modern`), or "-" while it is not known. */
export function eraName(era: ProtocolEra): string {
  return era === ProtocolEra.UNSPECIFIED ? "-" : enumName(ProtocolEra, era).toLowerCase();
}

/** Words that mark the line of a program's stderr that says what went wrong. */
const reasonWords = /error|exception|cannot|can't|not found|no such|denied|invalid|fatal|missing|refused|failed/i;

/**
 * The LAST ERROR column: the supervisor's reason (`exited with code 2`) and, when the server
 * said why on stderr (the lines after the first, already masked), the line that says it — the
 * first unindented line that reads like an error, else the first stderr line — so a server that
 * exits at once shows its cause (`python3: can't open file …`) without `servers logs`.
 */
export function errorHeadline(lastError: string, max = 120): string {
  const [summary = "", ...stderr] = lastError.split("\n");
  const lines = stderr.map((line) => line.trim()).filter((line) => line !== "");
  const unindented = stderr.filter((line) => line.trim() !== "" && !/^\s/.test(line)).map((line) => line.trim());
  const cause = unindented.find((line) => reasonWords.test(line)) ?? lines[0];
  return oneLine(cause === undefined ? summary : `${summary.trim()}: ${cause}`, max);
}

/** The human rendering of one server, shared by get/enable/disable/restart. */
export function formatServer(server: Server): string {
  return formatFields([
    ["name", server.name],
    ["state", enumName(ServerState, server.state)],
    ["enabled", server.enabled ? "yes" : "no"],
    ["pid", server.pid > 0 ? String(server.pid) : "-"],
    ["uptime", server.uptime ? formatDurationMs(durationMs(server.uptime)) : "-"],
    ["started", formatTimestamp(server.startTime) || "-"],
    ["restarts", String(server.restarts)],
    ["tools", toolsLine(server.toolCount, server.hiddenToolCount)],
    ["prefix", server.prefix === "" ? "(none)" : server.prefix],
    ["startup", enumName(StartupMode, server.startup).toLowerCase()],
    ["transport", enumName(ServerTransport, server.transport).toLowerCase()],
    ...(server.url !== ""
      ? [["url", server.insecure ? `${server.url} (insecure: plain http, not encrypted)` : server.url] as const]
      : [["command", [server.command, ...server.args].join(" ")] as const, ["env", server.envNames.length > 0 ? server.envNames.join(", ") : "-"] as const]),
    ["server info", server.serverInfoName ? `${server.serverInfoName} ${server.serverInfoVersion}`.trim() : "-"],
    ["era", eraName(server.protocolEra)],
    ["protocol", server.protocolVersion || "-"],
    ...(server.nextStartTime ? [["next start", formatTimestamp(server.nextStartTime)] as const] : []),
    ["last error", server.lastError === "" ? "-" : server.lastError.replaceAll("\n", "\n" + " ".repeat("server info".length + 2))],
  ]);
}

/** `dsctl servers get NAME`. */
export async function getServer(client: ServerClient, args: ServerNameArgs, io: CliIo): Promise<number> {
  const response = await client.getServer({ name: args.name });
  if (args.json) printJson(io, GetServerResponseSchema, response);
  else if (response.server) io.stdout.write(formatServer(response.server));
  return 0;
}

/** `dsctl servers enable NAME`. */
export async function enableServer(client: ServerClient, args: ServerNameArgs, io: CliIo): Promise<number> {
  const response = await client.enableServer({ name: args.name });
  if (args.json) printJson(io, EnableServerResponseSchema, response);
  else io.stdout.write(`server "${args.name}" enabled (${stateOf(response.server)})\n`);
  return 0;
}

/** `dsctl servers disable NAME`. */
export async function disableServer(client: ServerClient, args: ServerNameArgs, io: CliIo): Promise<number> {
  const response = await client.disableServer({ name: args.name });
  if (args.json) printJson(io, DisableServerResponseSchema, response);
  else io.stdout.write(`server "${args.name}" disabled (${stateOf(response.server)})\n`);
  return 0;
}

/** `dsctl servers restart NAME`. */
export async function restartServer(client: ServerClient, args: ServerNameArgs, io: CliIo): Promise<number> {
  const response = await client.restartServer({ name: args.name });
  if (args.json) printJson(io, RestartServerResponseSchema, response);
  else io.stdout.write(`server "${args.name}" restarting (${stateOf(response.server)})\n`);
  return 0;
}

function stateOf(server: Server | undefined): string {
  return server ? enumName(ServerState, server.state) : "unknown";
}

/** Arguments of `dsctl servers logs`. */
export interface ServerLogsArgs extends ServerNameArgs {
  /** Keep streaming new lines. */
  readonly follow?: boolean;
  /** Lines of history first; 0 means all that are kept. */
  readonly tail?: number;
  /** Ends a follow (Ctrl-C); the verb then exits 0. */
  readonly signal?: AbortSignal;
}

/** `dsctl servers logs NAME [-f] [-n N]`: history, then (with -f) new lines until Ctrl-C. */
export async function serverLogs(client: ServerClient, args: ServerLogsArgs, io: CliIo): Promise<number> {
  const stream = client.streamServerLogs(
    { name: args.name, follow: args.follow ?? false, tailLines: args.tail ?? 0 },
    { signal: args.signal },
  );
  try {
    for await (const response of stream) {
      if (args.json) {
        printJsonLine(io, StreamServerLogsResponseSchema, response);
        continue;
      }
      const line = response.line;
      if (!line) continue;
      const source = line.source === LogSource.SUPERVISOR ? "supervisor" : "stderr";
      io.stdout.write(`${formatTimestamp(line.time)} ${source.padEnd(10)} ${escapeControls(line.text)}\n`);
    }
  } catch (error) {
    if (args.signal?.aborted && error instanceof ConnectError && error.code === Code.Canceled) return 0;
    throw error;
  }
  return 0;
}

/** Arguments of `dsctl servers login NAME`. */
export interface LoginServerArgs extends ServerNameArgs {
  /** `--no-browser`: print the URL only. */
  readonly browser?: boolean;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Injectable for tests; default `openInBrowser`. */
  readonly openBrowser?: BrowserOpener;
}

/**
 * `dsctl servers login NAME [--no-browser]`: the sign-in runs in the daemon (it owns the
 * vault); the CLI prints the authorization URL the stream sends first — always, so it works
 * over SSH — opens a browser when there is one, and waits for the outcome. The token never
 * reaches the CLI. Ctrl-C cancels the RPC, which cancels the sign-in.
 */
export async function loginServer(client: ServerClient, args: LoginServerArgs, io: CliIo): Promise<number> {
  const openBrowser = args.openBrowser ?? openInBrowser;
  const stream = client.loginServer(
    { name: args.name, timeout: args.timeoutMs !== undefined ? durationFromMs(args.timeoutMs) : undefined },
    { signal: args.signal },
  );
  for await (const message of stream) {
    if (args.json) printJsonLine(io, LoginServerResponseSchema, message);
    const step = message.step;
    if (step.case === "authorizationUrl") {
      if (!args.json) {
        io.stdout.write(`To sign in to server "${escapeControls(args.name, { singleLine: true })}", open this URL in a browser:\n\n  ${escapeControls(step.value, { singleLine: true })}\n\n`);
      }
      if (args.browser !== false && (await openBrowser(step.value))) {
        if (!args.json) io.stderr.write("opened in your browser; waiting for it to come back…\n");
      } else if (!args.json) {
        io.stderr.write("waiting for the browser to come back…\n");
      }
    } else if (step.case === "succeeded" && !args.json) {
      const state = step.value.server ? enumName(ServerState, step.value.server.state) : "?";
      io.stdout.write(`${escapeControls(`signed in to server "${args.name}" (issuer ${step.value.issuer}); it is ${state} and reconnects with the new token`, { singleLine: true })}\n`);
    }
  }
  return 0;
}

/** `dsctl servers logout NAME`: forgets the server's tokens; it needs a new sign-in afterwards. */
export async function logoutServer(client: ServerClient, args: ServerNameArgs, io: CliIo): Promise<number> {
  const response = await client.logoutServer({ name: args.name });
  if (args.json) {
    printJson(io, LogoutServerResponseSchema, response);
    return 0;
  }
  const name = escapeControls(args.name, { singleLine: true });
  io.stdout.write(
    response.removed
      ? `signed out of server "${name}": its tokens were removed from the vault\n`
      : `server "${name}" was not signed in; nothing to remove\n`,
  );
  return 0;
}
