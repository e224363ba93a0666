import { mkdirSync, chmodSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";

/**
 * Every file location under the state folder, in one place, so that the daemon, the
 * frontend and dsctl agree on them and tests can point all of them at a temporary
 * folder through `DEPLOYSTACK_HOME`.
 */
export interface StatePaths {
  /** `$DEPLOYSTACK_HOME`, default `~/.deploystack`. */
  readonly home: string;
  /** Sockets and pid files (0700). */
  readonly runDir: string;
  /** The control API's unix socket (0600). */
  readonly controlSocket: string;
  /** The daemon's pid file. */
  readonly pidFile: string;
  /** Process groups of the servers the daemon started, for the watchdog and for reaping. */
  readonly childrenFile: string;
  /** The daemon's own log files (bounded, rotated). */
  readonly logsDir: string;
  /** Bearer token required on the loopback TCP control listener (0600). */
  readonly controlToken: string;
  /** Bearer token MCP clients must send when `clientAuth: token` is configured (0600). */
  readonly clientToken: string;
  /** Caches (tool lists per team). */
  readonly cacheDir: string;
}

/** Resolves the state folder from the environment (`DEPLOYSTACK_HOME`) or the user's home. */
export function resolveHome(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.DEPLOYSTACK_HOME;
  return configured && configured.trim() !== "" ? resolve(configured) : join(homedir(), ".deploystack");
}

/** Builds the paths under a state folder without touching the disk. */
export function statePaths(home: string = resolveHome()): StatePaths {
  const runDir = join(home, "run");
  return {
    home,
    runDir,
    controlSocket: join(runDir, "gateway.sock"),
    pidFile: join(runDir, "gateway.pid"),
    childrenFile: join(runDir, "children.json"),
    logsDir: join(home, "logs"),
    controlToken: join(home, "control.token"),
    clientToken: join(home, "client.token"),
    cacheDir: join(home, "cache"),
  };
}

/**
 * Creates a private folder (0700) and tightens it if it already existed: the state
 * folder holds sockets and tokens that other local users must not reach.
 */
export function ensurePrivateDir(path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  chmodSync(path, 0o700);
}
