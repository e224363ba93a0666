import { spawn } from "node:child_process";
import { closeSync, existsSync, fchmodSync, fstatSync, openSync, readFileSync, renameSync, statSync } from "node:fs";
import { constants } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { GetStatusResponse } from "../../gen/deploystack/gateway/v1/gateway_service_pb.js";
import { dsctlInvocation } from "../../shared/dsctl-command.js";
import { ensurePrivateDir, type StatePaths } from "../../shared/paths.js";
import type { CliIo } from "../io.js";
import { CliFailure } from "../run-verb.js";
import type { JsonFlag } from "./servers.js";

/**
 * `dsctl start`: runs the daemon program (`dist/daemon/main.js`, arguments
 * `[--config FILE] [--port N] [--control-listen HOST:PORT]`, `DEPLOYSTACK_HOME` in its
 * environment). Detached, it is its own session with its output appended to
 * `logs/daemon-start.log`, and dsctl returns once the control API answers, printing the
 * MCP endpoints. In the foreground it stays attached and dsctl relays Ctrl-C to it once.
 */

/** Arguments of `dsctl start`. */
export interface StartArgs extends JsonFlag {
  readonly foreground?: boolean;
  readonly config?: string;
  readonly port?: number;
  readonly controlListen?: string;
}

/** What `start` needs from its surroundings (tests point these at temp folders). */
export interface StartDeps {
  readonly paths: StatePaths;
  /** The daemon program. Default: `../daemon/main.js` next to this CLI's `dist/cli/`. */
  readonly daemonEntry?: string;
  /** The daemon's environment. Default: dsctl's, with `DEPLOYSTACK_HOME` set to `paths.home`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Where a relative `--config` is resolved. Default: the current directory. */
  readonly cwd?: string;
  /** How long a detached daemon may take to answer. Default 30 s. */
  readonly readyTimeoutMs?: number;
  /** After it answers, how long to wait for the frontend's URLs. Default 10 s. */
  readonly urlTimeoutMs?: number;
  /** Delay between checks. Default 200 ms. */
  readonly pollMs?: number;
}

/** The start log is cut when it grows past this at a start, so restarts cannot fill the disk. */
const START_LOG_MAX_BYTES = 1024 * 1024;
/** How many lines of the start log to show when the daemon dies during start-up. */
const START_LOG_TAIL_LINES = 20;

/** The daemon program of this installation. */
export function defaultDaemonEntry(): string {
  return fileURLToPath(new URL("../../daemon/main.js", import.meta.url));
}

/** The daemon's argv (after the program) for these arguments; `--config` is made absolute. */
export function daemonArguments(args: StartArgs, cwd: string): string[] {
  const argv: string[] = [];
  if (args.config !== undefined) argv.push("--config", resolve(cwd, args.config));
  if (args.port !== undefined) argv.push("--port", String(args.port));
  if (args.controlListen !== undefined) argv.push("--control-listen", args.controlListen);
  return argv;
}

/**
 * `GetStatus` of the daemon at `socketPath`, or `undefined` when nothing answers there. No socket file means no
 * daemon: then the Connect client is not even loaded (the common case of a start; see run-verb.ts).
 */
export async function probeDaemon(socketPath: string, timeoutMs = 2_000): Promise<GetStatusResponse | undefined> {
  if (!existsSync(socketPath)) return undefined;
  const [{ createClient }, { GatewayService }, { dialDaemon, isDaemonUnreachable }] = await Promise.all([
    import("@connectrpc/connect"),
    import("../../gen/deploystack/gateway/v1/gateway_service_pb.js"),
    import("../dial.js"),
  ]);
  const connection = dialDaemon(socketPath);
  try {
    return await createClient(GatewayService, connection.transport).getStatus({}, { timeoutMs });
  } catch (error) {
    if (isDaemonUnreachable(error)) return undefined;
    throw error;
  } finally {
    connection.close();
  }
}

/** `dsctl start [--foreground] [--config FILE] [--port N] [--control-listen ADDR]`. */
export async function startDaemon(args: StartArgs, io: CliIo, deps: StartDeps): Promise<number> {
  const { paths } = deps;
  const running = await probeDaemon(paths.controlSocket);
  if (running) throw new CliFailure(`a gateway daemon is already running at ${paths.controlSocket} (pid ${running.pid}); \`dsctl stop\` stops it`);

  const entry = deps.daemonEntry ?? defaultDaemonEntry();
  try {
    statSync(entry);
  } catch {
    throw new CliFailure(`the daemon program ${entry} is missing; run \`npm run build\``);
  }
  const argv = [entry, ...daemonArguments(args, deps.cwd ?? process.cwd())];
  const env: NodeJS.ProcessEnv = { ...(deps.env ?? process.env), DEPLOYSTACK_HOME: paths.home };
  ensurePrivateDir(paths.home);
  if (args.foreground) {
    delete env.DEPLOYSTACK_DETACHED;
    return runForeground(argv, env, paths);
  }
  // Tells the daemon nobody reads its stderr (it goes to daemon-start.log), so it need not echo its log there.
  env.DEPLOYSTACK_DETACHED = "1";
  return runDetached(argv, env, args, io, deps);
}

/**
 * Foreground: the daemon runs in its own process group, so a Ctrl-C in the terminal
 * reaches dsctl alone and dsctl relays it exactly once (a second SIGINT could be taken
 * as "force"). dsctl exits with the daemon's code.
 */
function runForeground(argv: string[], env: NodeJS.ProcessEnv, paths: StatePaths): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, argv, { stdio: ["ignore", "inherit", "inherit"], env, cwd: paths.home, detached: true });
    const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
    const relay = (signal: NodeJS.Signals): void => {
      child.kill(signal);
    };
    for (const signal of signals) process.on(signal, relay);
    const cleanup = (): void => {
      for (const signal of signals) process.off(signal, relay);
    };
    child.once("error", (error) => {
      cleanup();
      reject(error);
    });
    child.once("exit", (code, signal) => {
      cleanup();
      resolvePromise(code ?? 128 + signalNumber(signal));
    });
  });
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return (signal && constants.signals[signal]) || constants.signals.SIGTERM;
}

async function runDetached(argv: string[], env: NodeJS.ProcessEnv, args: StartArgs, io: CliIo, deps: StartDeps): Promise<number> {
  const { paths } = deps;
  ensurePrivateDir(paths.logsDir);
  const logPath = join(paths.logsDir, "daemon-start.log");
  try {
    if (statSync(logPath).size > START_LOG_MAX_BYTES) renameSync(logPath, `${logPath}.1`);
  } catch {
    // no log yet
  }
  const fd = openSync(logPath, "a", 0o600);
  fchmodSync(fd, 0o600);
  const offset = fstatSync(fd).size;
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: Error | undefined;
  try {
    const child = spawn(process.execPath, argv, { detached: true, stdio: ["ignore", fd, fd], env, cwd: paths.home });
    child.once("exit", (code, signal) => (exited = { code, signal }));
    child.once("error", (error) => (spawnError = error));
    child.unref();
  } finally {
    closeSync(fd);
  }

  const pollMs = deps.pollMs ?? 200;
  const deadline = Date.now() + (deps.readyTimeoutMs ?? 30_000);
  let status: GetStatusResponse | undefined;
  while (!status) {
    if (spawnError) throw new CliFailure(`cannot start the daemon: ${spawnError.message}`);
    if (exited) {
      const how = exited.code !== null ? `code ${exited.code}` : `signal ${exited.signal}`;
      io.stderr.write(`the gateway daemon exited during start-up (${how}); the last lines of ${logPath}:\n`);
      // The daemon's log holds servers' text: printed with control characters escaped, as every such string.
      io.stderr.write((await import("../output.js")).escapeControls(tailOf(logPath, offset)));
      return 1;
    }
    if (Date.now() > deadline) {
      throw new CliFailure(`the gateway daemon has not answered at ${paths.controlSocket} yet; see ${logPath} and \`dsctl status\``);
    }
    await delay(pollMs);
    status = await probeDaemon(paths.controlSocket).catch(() => undefined);
  }

  const urlDeadline = Date.now() + (deps.urlTimeoutMs ?? 10_000);
  while (status.mcpUrl === "" && Date.now() < urlDeadline && !exited) {
    await delay(pollMs);
    status = (await probeDaemon(paths.controlSocket).catch(() => undefined)) ?? status;
  }

  const [{ formatFields, printJson }, { GetStatusResponseSchema }] = await Promise.all([
    import("../output.js"),
    import("../../gen/deploystack/gateway/v1/gateway_service_pb.js"),
  ]);
  if (args.json) {
    printJson(io, GetStatusResponseSchema, status);
    return 0;
  }
  io.stdout.write(`gateway started (pid ${status.pid})\n`);
  io.stdout.write(
    formatFields([
      ["  mcp", status.mcpUrl || "(frontend not serving yet; `dsctl status` shows it when it is)"],
      ["  sse", status.sseUrl || "-"],
      ["  socket", status.controlSocket || paths.controlSocket],
      ...(status.controlAddress ? [["  control", status.controlAddress] as const] : []),
      ["  logs", paths.logsDir],
      ...(await profileLines(paths.controlSocket)),
    ]),
  );
  const dsctl = dsctlInvocation(deps.env ?? process.env);
  io.stdout.write(`add it to your IDE with \`${dsctl} ide add <client>\`; stop it with \`${dsctl} stop\`\n`);
  return 0;
}

/** The team's profiles as summary lines (`  profile frontend  http://…/mcp/frontend (search)`); none when it defines none. */
async function profileLines(socketPath: string): Promise<(readonly [string, string])[]> {
  const [{ createClient }, { TeamService }, { ProfileToolMode }, { dialDaemon }] = await Promise.all([
    import("@connectrpc/connect"),
    import("../../gen/deploystack/gateway/v1/team_service_pb.js"),
    import("../../gen/deploystack/gateway/v1/team_pb.js"),
    import("../dial.js"),
  ]);
  const connection = dialDaemon(socketPath);
  try {
    const { profiles } = await createClient(TeamService, connection.transport).listProfiles({}, { timeoutMs: 2_000 });
    return profiles
      .filter((profile) => profile.defined && !profile.isDefault)
      .map((profile) => [`  profile ${profile.name}`, `${profile.url || "-"}${profile.mode === ProfileToolMode.SEARCH ? " (search)" : ""}`] as const);
  } catch {
    return [];
  } finally {
    connection.close();
  }
}

function tailOf(path: string, offset: number): string {
  try {
    const lines = readFileSync(path).subarray(offset).toString("utf8").split("\n");
    if (lines.at(-1) === "") lines.pop();
    return lines.slice(-START_LOG_TAIL_LINES).map((line) => `  ${line}\n`).join("") || "  (no output)\n";
  } catch {
    return "  (no output)\n";
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolvePromise) => setTimeout(resolvePromise, ms));
}
