import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { FRONTEND_CONFIG_ENV, parseListeningLine, type FrontendProcessConfig } from "../shared/frontend-contract.js";
import { buildChildEnv, spawnChild, type ChildHandle } from "./supervisor/child-process.js";
import type { Logger } from "../shared/logger.js";

/**
 * Supervises the frontend process (the koa app serving MCP over HTTP, docs/architecture.md "Processes").
 * It runs in its own process so that a crash or a slow request in the HTTP layer never takes
 * the daemon (and the servers it holds) down; the daemon restarts it with back-off.
 *
 * The process contract with `frontend/main.ts` is in shared/frontend-contract.ts; it exits on
 * SIGTERM.
 */

/** What the frontend is told (the shared process contract). */
export type FrontendConfig = FrontendProcessConfig;

/** The frontend's state as GetStatus reports it. */
export interface FrontendStatus {
  /** Whether the built entry point exists at all. */
  readonly built: boolean;
  /** Listening and serving. */
  readonly running: boolean;
  /** The port it reported, while running. */
  readonly port?: number;
  readonly pid?: number;
  readonly restarts: number;
}

/** Options of the runner. */
export interface FrontendRunnerOptions {
  readonly config: FrontendConfig;
  readonly home: string;
  readonly logger: Logger;
  /** Default: `dist/frontend/main.js` of this installation. */
  readonly entry?: string;
  /** Called with the pid of every frontend process spawned and exited, so the watchdog can record it. */
  readonly onProcess?: (event: "spawned" | "exited", pid: number) => void;
  /** Called whenever `status()` changes (listening, exited). */
  readonly onChange?: (status: FrontendStatus) => void;
  /** Back-off after a crash: starts at `initialMs`, doubles up to `maxMs`. */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  /** How long the process may take to print its listening line. */
  readonly readyTimeoutMs?: number;
}

/** The running supervisor of the frontend process. */
export interface FrontendRunner {
  /** Spawns the frontend (a no-op, logged once, when it is not built). */
  start(): void;
  status(): FrontendStatus;
  /** SIGTERM, then SIGKILL after a grace period; no restart afterwards. */
  stop(): Promise<void>;
}

/** How long the process must stay up for the back-off to reset. */
const stableAfterMs = 30_000;

/**
 * The frontend's V8 young-generation semi-space, in MiB: a trade between memory and CPU. Its live set is small
 * (about 15 KiB of heap per idle session) but every request allocates (about 22 KiB), and with V8's default the
 * semi-spaces grow to 16 MiB and stay committed. Measured with 1,000 idle sessions (daemon + frontend per session):
 * 70–75 KiB by default, 56 with 1 MiB, 60 with 4 and 67 with 8 (the budget is 64). Measured with `bench/pair.mjs`
 * (16 lean sessions, builds side by side), the gateway's whole CPU per call against 1 MiB: 4 MiB −3.3 % [−4.9, −1.7]
 * and −4.7 % [−6.2, −3.1], 8 MiB −7.6 % [−9.2, −6.1] — a small semi-space is scavenged every few dozen requests,
 * and each scavenge copies the requests in flight.
 */
const FRONTEND_SEMI_SPACE_MIB = 4;

/** Where the built frontend lives, from this module's own location (source tree or dist/). */
export function defaultFrontendEntry(): string {
  const here = import.meta.url;
  const relative = here.endsWith(".ts") ? "../dist/frontend/main.js" : "../frontend/main.js";
  return fileURLToPath(new URL(relative, here));
}

/** Creates the runner; nothing is spawned until `start()`. */
export function createFrontendRunner(options: FrontendRunnerOptions): FrontendRunner {
  const { logger } = options;
  const entry = options.entry ?? defaultFrontendEntry();
  const initialBackoffMs = options.backoff?.initialMs ?? 500;
  const maxBackoffMs = options.backoff?.maxMs ?? 30_000;
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  let child: ChildHandle | undefined;
  let port: number | undefined;
  let restarts = 0;
  let nextBackoffMs = initialBackoffMs;
  let stopped = false;
  let restartTimer: NodeJS.Timeout | undefined;

  const status = (): FrontendStatus => ({
    built: existsSync(entry),
    running: child !== undefined && port !== undefined,
    port: child !== undefined ? port : undefined,
    pid: child?.pid,
    restarts,
  });
  const changed = (): void => {
    try {
      options.onChange?.(status());
    } catch (error) {
      logger.error({ err: error }, "frontend status listener failed");
    }
  };

  const spawnOnce = (): void => {
    restartTimer = undefined;
    if (stopped) return;
    if (!existsSync(entry)) {
      logger.warn({ entry }, "the frontend is not built; MCP clients cannot connect until it is (npm run build)");
      return;
    }
    const handle = spawnChild({
      command: process.execPath,
      args: [`--max-semi-space-size=${FRONTEND_SEMI_SPACE_MIB}`, entry],
      env: buildChildEnv({
        DEPLOYSTACK_HOME: options.home,
        [FRONTEND_CONFIG_ENV]: JSON.stringify(options.config),
      }),
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = handle;
    port = undefined;
    const spawnedAt = Date.now();
    if (handle.pid !== undefined) options.onProcess?.("spawned", handle.pid);
    const log = logger.child({ component: "frontend", pid: handle.pid });
    const readyTimer = setTimeout(() => {
      log.error({ timeoutMs: readyTimeoutMs }, "frontend did not report listening in time; restarting it");
      void handle.stop({ stdinGraceMs: 0 });
    }, readyTimeoutMs);

    if (handle.process.stdout) {
      createInterface({ input: handle.process.stdout }).on("line", (line) => {
        const reported = parseListeningLine(line);
        if (reported !== undefined && port === undefined && child === handle) {
          clearTimeout(readyTimer);
          port = reported;
          // The frontend logs its own "frontend listening" line (relayed to this log): this one stays out of the way.
          log.debug({ port }, "frontend reported its port");
          changed();
        } else if (line.trim() !== "") {
          log.info({ line }, "frontend output");
        }
      });
    }
    if (handle.process.stderr) {
      createInterface({ input: handle.process.stderr }).on("line", (line) => relayFrontendLogLine(log, line));
    }

    void handle.exited.then((exit) => {
      clearTimeout(readyTimer);
      if (handle.pid !== undefined) options.onProcess?.("exited", handle.pid);
      if (child === handle) {
        child = undefined;
        port = undefined;
      }
      changed();
      if (stopped) return;
      if (Date.now() - spawnedAt >= stableAfterMs) nextBackoffMs = initialBackoffMs;
      const delayMs = nextBackoffMs;
      nextBackoffMs = Math.min(maxBackoffMs, nextBackoffMs * 2);
      restarts++;
      log.error(
        { code: exit.code, signal: exit.signal, error: exit.error?.message, restartInMs: delayMs },
        "frontend exited; restarting it",
      );
      restartTimer = setTimeout(spawnOnce, delayMs);
    });
  };

  return {
    start() {
      stopped = false;
      if (!child && !restartTimer) spawnOnce();
    },
    status,
    async stop() {
      stopped = true;
      clearTimeout(restartTimer);
      restartTimer = undefined;
      const current = child;
      if (current) await current.stop({ stdinGraceMs: 0, termGraceMs: 3000, killGraceMs: 2000 });
    },
  };
}

/**
 * The frontend logs pino JSON lines on stderr; they are re-logged through the daemon's logger
 * (at their own level) so that one log file tells the whole story. Other lines are warnings.
 */
function relayFrontendLogLine(log: Logger, line: string): void {
  if (line.trim() === "") return;
  let record: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(line);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) record = parsed as Record<string, unknown>;
  } catch {
    // plain text
  }
  if (!record) {
    log.warn({ line }, "frontend stderr");
    return;
  }
  const { level, msg, time: _time, pid: _pid, hostname: _hostname, name: _name, ...fields } = record;
  const message = typeof msg === "string" ? msg : "frontend log";
  const numeric = typeof level === "number" ? level : 30;
  if (numeric >= 50) log.error(fields, message);
  else if (numeric >= 40) log.warn(fields, message);
  else if (numeric >= 30) log.info(fields, message);
  else log.debug(fields, message);
}
