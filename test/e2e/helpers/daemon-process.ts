import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { ExecutionContext } from "ava";
import { statePaths, type StatePaths } from "../../../shared/paths.js";
import { createControlClients, type ControlClients } from "./control-clients.js";
import { isPidRunning, tempHome } from "../../../daemon/supervisor/test-support.js";

/**
 * Runs the real daemon (`node dist/daemon/main.js`, built by `npm test` before ava) in a
 * temporary `DEPLOYSTACK_HOME` with a temporary team file, waits until its control socket
 * answers, and tears everything down at the end of the test — including every server pid the
 * test saw, so a failing test never leaks processes into the next one.
 */

/** The repository root. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/** The compiled daemon entry point. */
export const daemonEntry = join(repoRoot, "dist/daemon/main.js");

/** Absolute path of a fixture server. */
export function fixtureServer(file: string): string {
  return join(repoRoot, "test/fixtures/servers", file);
}

/** One server entry of a team file. */
export interface TeamServer {
  readonly name: string;
  readonly command?: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly enabled?: boolean;
  readonly startup?: "eager" | "lazy";
}

/** Writes a one-team file (JSON, which the loader reads like YAML) and returns its path. */
export function writeTeamFile(folder: string, servers: readonly TeamServer[], gateway: Record<string, unknown> = {}): string {
  const path = join(folder, "team.json");
  const file = {
    gateway,
    defaultTeam: "e2e",
    teams: [
      {
        id: "e2e",
        name: "End to end",
        servers: servers.map((server) => ({ command: "node", ...server })),
      },
    ],
  };
  writeFileSync(path, JSON.stringify(file, null, 2));
  return path;
}

/** The standard well-behaved fixture server under `name`. */
export function normalServer(name: string, env?: Record<string, string>): TeamServer {
  return { name, args: [fixtureServer("normal-server.mjs"), "--name", name], env };
}

/** A daemon process started for a test. */
export interface DaemonProcess {
  readonly home: string;
  readonly paths: StatePaths;
  readonly process: ChildProcess;
  readonly pid: number;
  readonly clients: ControlClients;
  /** Everything the daemon printed so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit once the daemon exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Remembers server pids so teardown can kill them if the test fails. */
  track(pids: Iterable<number>): void;
}

/** Options of `startDaemon`. */
export interface StartDaemonOptions {
  /** Team file servers; ignored when `configPath` is given. */
  readonly servers?: readonly TeamServer[];
  readonly gateway?: Record<string, unknown>;
  readonly configPath?: string;
  readonly args?: readonly string[];
  /** Reuse a state folder (e.g. to start a second daemon on it). */
  readonly home?: string;
  /** Extra environment of the daemon. */
  readonly env?: Readonly<Record<string, string>>;
  /** Do not wait for the socket (for daemons expected to fail). */
  readonly noWait?: boolean;
}

// A temporary state folder removed at the end of the test; whether a pid is live (zombies count as gone).
export { tempHome, isPidRunning as isAlive };

/** Polls until `condition` holds or `timeoutMs` passed; generous by default (the machine is shared). */
export async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts the daemon and waits until GetStatus answers on its socket. */
export async function startDaemon(t: ExecutionContext, options: StartDaemonOptions = {}): Promise<DaemonProcess> {
  const home = options.home ?? tempHome(t);
  const paths = statePaths(home);
  const configPath = options.configPath ?? writeTeamFile(home, options.servers ?? [normalServer("alpha")], options.gateway);
  const child = spawn(process.execPath, [daemonEntry, "--config", configPath, "--port", "0", ...(options.args ?? [])], {
    env: { ...process.env, DEPLOYSTACK_HOME: home, DEPLOYSTACK_LOG_LEVEL: "debug", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) =>
    child.once("exit", (code, signal) => resolveExit({ code, signal })),
  );
  let hasExited = false;
  void exited.then(() => (hasExited = true));
  const clients = createControlClients({ socketPath: paths.controlSocket });
  const tracked = new Set<number>();
  t.teardown(async () => {
    clients.close();
    if (!hasExited && child.pid !== undefined) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(timer);
    }
    for (const pid of tracked) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // gone, as it should be
      }
    }
  });
  const daemon: DaemonProcess = {
    home,
    paths,
    process: child,
    pid: child.pid ?? 0,
    clients,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    track(pids) {
      for (const pid of pids) if (pid > 0) tracked.add(pid);
    },
  };
  if (options.noWait) return daemon;
  const answered = await waitUntil(async () => {
    if (hasExited) return true;
    try {
      await clients.gateway.getStatus({});
      return true;
    } catch {
      return false;
    }
  }, 90_000);
  if (hasExited || !answered) {
    throw new Error(`the daemon did not come up (exited: ${hasExited}).\nstdout:\n${stdout}\nstderr:\n${stderr}`);
  }
  return daemon;
}

/** Waits until every listed server is RUNNING (state 3) and returns their pids, tracking them for teardown. */
export async function waitForRunning(daemon: DaemonProcess, names: readonly string[], timeoutMs = 90_000): Promise<Map<string, number>> {
  const pids = new Map<string, number>();
  const ok = await waitUntil(async () => {
    const { servers } = await daemon.clients.servers.listServers({});
    for (const server of servers) if (server.pid > 0) daemon.track([server.pid]);
    const running = servers.filter((server) => names.includes(server.name) && server.state === 3);
    if (running.length !== names.length) return false;
    for (const server of running) pids.set(server.name, server.pid);
    return true;
  }, timeoutMs);
  if (!ok) throw new Error(`servers ${names.join(", ")} did not reach RUNNING.\nstderr:\n${daemon.stderr()}`);
  return pids;
}
