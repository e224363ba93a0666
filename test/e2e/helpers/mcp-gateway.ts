import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ExecutionContext } from "ava";
import { livingDescendants } from "./process-tree.js";
import { isAlive, repoRoot, startDaemon, waitForRunning, waitUntil, type DaemonProcess } from "./daemon-process.js";

/**
 * One real gateway (daemon + supervised koa frontend + MCP servers) shared by every test of an
 * end-to-end file. `startDaemon` ties its clean-up to a test's `t.teardown`, which ava forbids in
 * hooks, so a file-wide scope collects those teardowns and runs them in `test.after.always`; the
 * scope also proves that no process the gateway spawned outlives it.
 */

/** The compiled dsctl entry point. */
export const dsctlEntry = join(repoRoot, "dist/cli/main.js");

/** A team file under `test/fixtures/teams/`. */
export function teamFile(name: string): string {
  return join(repoRoot, "test/fixtures/teams", name);
}

/** Collects teardowns registered through a stand-in `ExecutionContext` outside any test. */
export interface HookScope {
  /** Only `teardown` is usable: it is what the daemon helper needs. */
  readonly context: ExecutionContext;
  /** Runs the teardowns, last registered first, never throwing. */
  close(): Promise<void>;
}

/** Creates a scope for `test.before` / `test.after.always`. */
export function createHookScope(): HookScope {
  const teardowns: Array<() => unknown> = [];
  const context = {
    teardown: (fn: () => unknown) => void teardowns.push(fn),
    log: () => undefined,
  } as unknown as ExecutionContext;
  return {
    context,
    async close() {
      for (const fn of teardowns.reverse()) {
        try {
          await fn();
        } catch {
          // keep tearing down the rest
        }
      }
    },
  };
}

/** What a finished dsctl run printed. */
export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A running gateway as a test sees it. */
export interface Gateway {
  readonly daemon: DaemonProcess;
  readonly home: string;
  /** The Streamable HTTP endpoint (`http://localhost:PORT/mcp`); changes if the frontend restarts on port 0. */
  readonly mcpUrl: string;
  /** The legacy HTTP+SSE endpoint (`http://localhost:PORT/sse`). */
  readonly sseUrl: string;
  readonly port: number;
  /** Waits until the daemon reports the frontend running and re-reads its URLs. */
  refresh(): Promise<void>;
  /** Runs the built dsctl against this daemon. */
  dsctl(args: readonly string[], timeoutMs?: number): Promise<CommandResult>;
  /** The server's kept stderr lines, joined. */
  serverLog(name: string): Promise<string>;
  /** Pid of the frontend process, found among the daemon's children through /proc. */
  frontendPid(): number | undefined;
  /** Stops everything and throws if any process of the gateway is still alive afterwards. */
  close(): Promise<void>;
}

/** Options of `startGateway`. */
export interface StartGatewayOptions {
  /** Absolute path of the team file. */
  readonly configPath: string;
  /** Servers that must be RUNNING before tests start. */
  readonly servers: readonly string[];
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

/** Starts the daemon on the team file, waits for its servers and the frontend, and answers /healthz. */
export async function startGateway(options: StartGatewayOptions): Promise<Gateway> {
  const scope = createHookScope();
  let daemon: DaemonProcess;
  try {
    daemon = await startDaemon(scope.context, { configPath: options.configPath });
    await waitForRunning(daemon, options.servers);
  } catch (error) {
    await scope.close();
    throw error;
  }
  let mcpUrl = "";
  let sseUrl = "";
  let port = 0;
  const refresh = async (): Promise<void> => {
    const ok = await waitUntil(async () => {
      try {
        const status = await daemon.clients.gateway.getStatus({});
        if (!status.frontendRunning || !status.mcpUrl) return false;
        const response = await fetch(new URL("/healthz", status.mcpUrl));
        await response.arrayBuffer();
        if (response.status !== 200) return false;
        mcpUrl = status.mcpUrl;
        sseUrl = status.sseUrl;
        port = Number(new URL(status.mcpUrl).port);
        return true;
      } catch {
        return false;
      }
    }, 90_000);
    if (!ok) throw new Error(`the frontend did not come up.\nstderr:\n${daemon.stderr()}`);
  };
  try {
    await refresh();
  } catch (error) {
    await scope.close();
    throw error;
  }
  const home = daemon.home;
  return {
    daemon,
    home,
    get mcpUrl() {
      return mcpUrl;
    },
    get sseUrl() {
      return sseUrl;
    },
    get port() {
      return port;
    },
    refresh,
    dsctl: (args, timeoutMs = 60_000) =>
      new Promise<CommandResult>((resolveRun) => {
        execFile(
          process.execPath,
          [dsctlEntry, ...args],
          { env: { ...process.env, DEPLOYSTACK_HOME: home }, timeout: timeoutMs },
          (error, stdout, stderr) => {
            const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
            resolveRun({ code, stdout, stderr });
          },
        );
      }),
    async serverLog(name) {
      const lines: string[] = [];
      for await (const message of daemon.clients.servers.streamServerLogs({ name, follow: false })) {
        if (message.line) lines.push(message.line.text);
      }
      return lines.join("\n");
    },
    frontendPid() {
      return livingDescendants(daemon.pid).find((pid) => commandLine(pid).includes("frontend/main.js"));
    },
    async close() {
      const pids = [daemon.pid, ...livingDescendants(daemon.pid)];
      await scope.close();
      const gone = await waitUntil(() => pids.every((pid) => !isAlive(pid)), 30_000);
      if (!gone) {
        const left = pids.filter((pid) => isAlive(pid));
        const described = left.map((pid) => `${pid} ${commandLine(pid)}`).join("\n");
        for (const pid of left) {
          try {
            process.kill(pid, "SIGKILL");
          } catch {
            // already gone
          }
        }
        throw new Error(`processes outlived the gateway:\n${described}`);
      }
    },
  };
}
