import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { silentLogger, type Logger } from "../../shared/logger.js";
import { buildChildEnv } from "./child-process.js";
import type { ProcessRegistry, RecordedGroup } from "./process-registry.js";

/**
 * The daemon's side of the watchdog (see watchdog-main.ts): spawns it detached with a pipe on
 * its stdin, keeps the pipe open for the daemon's whole life, and writes the registry's list of
 * process groups to it on every change. If the daemon dies, the kernel closes the pipe and the
 * watchdog kills the groups.
 */

/** Options of `startWatchdog`. */
export interface WatchdogOptions {
  /** The registry whose groups the watchdog guards; followed for changes. */
  readonly registry: ProcessRegistry;
  /** How long the watchdog waits between SIGTERM and SIGKILL; default 3000 ms. */
  readonly termGraceMs?: number;
  /** The watchdog script; default `watchdog-main.js` beside this module (in `dist/`). */
  readonly scriptPath?: string;
  /** Node options for the watchdog (tests run the TypeScript source with `["--import", "tsx"]`). */
  readonly execArgv?: readonly string[];
  readonly logger?: Logger;
}

/** A running watchdog. */
export interface WatchdogHandle {
  /** The watchdog's pid (changes if it had to be restarted). */
  readonly pid: number | undefined;
  /**
   * For a clean daemon exit, after the supervisor stopped everything: tells the watchdog
   * there is nothing left to guard, closes the pipe and waits for it to exit.
   */
  close(): Promise<void>;
}

/** How long a clean `close()` waits for the watchdog before killing it. */
const CLOSE_TIMEOUT_MS = 5000;

/** A watchdog that died unexpectedly is restarted at most this many times. */
const MAX_RESPAWNS = 5;

/**
 * Starts the watchdog for `options.registry`. The child and the pipe are unref'd, so the
 * watchdog never keeps the daemon alive; a watchdog that dies is restarted (a few times).
 */
export function startWatchdog(options: WatchdogOptions): WatchdogHandle {
  const logger = options.logger ?? silentLogger;
  const scriptPath = options.scriptPath ?? defaultScriptPath();
  let child: ChildProcess | undefined;
  let closing = false;
  let respawns = 0;

  const write = (groups: readonly RecordedGroup[]): void => {
    const stdin = child?.stdin;
    if (!stdin || stdin.destroyed || stdin.writableEnded) return;
    stdin.write(JSON.stringify({ groups }) + "\n");
  };

  const launch = (): void => {
    const spawned = spawn(process.execPath, [...(options.execArgv ?? []), scriptPath, String(options.termGraceMs ?? 3000)], {
      stdio: ["pipe", "ignore", "inherit"],
      detached: true,
      env: buildChildEnv({}),
    });
    child = spawned;
    spawned.stdin?.on("error", () => {});
    spawned.on("error", (error) => logger.error({ err: error.message }, "watchdog could not start"));
    spawned.on("exit", (code, signal) => {
      if (closing || child !== spawned) return;
      logger.warn({ code, signal }, "watchdog exited unexpectedly");
      if (respawns++ < MAX_RESPAWNS) launch();
    });
    spawned.unref();
    (spawned.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    write(options.registry.groups());
  };

  launch();
  const unsubscribe = options.registry.subscribe(write);

  return {
    get pid() {
      return child?.pid;
    },
    close() {
      closing = true;
      unsubscribe();
      const current = child;
      if (!current || current.exitCode !== null || current.signalCode !== null) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => current.kill("SIGKILL"), CLOSE_TIMEOUT_MS);
        current.once("exit", () => {
          clearTimeout(timer);
          resolve();
        });
        write([]);
        current.stdin?.end();
      });
    },
  };
}

function defaultScriptPath(): string {
  const beside = fileURLToPath(new URL("./watchdog-main.js", import.meta.url));
  if (existsSync(beside)) return beside;
  // Running from the TypeScript sources: use the compiled script in dist/.
  return fileURLToPath(new URL("../../dist/daemon/supervisor/watchdog-main.js", import.meta.url));
}
