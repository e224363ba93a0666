import { spawn, type ChildProcess, type StdioOptions } from "node:child_process";
import { existsSync } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";
import { livingGroupMembers } from "./proc-info.js";

/**
 * Spawning and stopping a child process as the leader of its own process group.
 *
 * Used for MCP servers and for the frontend process: each child leads its own group
 * (`detached: true`) so that the whole tree it starts (npx wrappers, shells, language
 * runtimes) can be signalled at once with `process.kill(-pgid, sig)`, and it gets a
 * minimal environment so the daemon's own variables never leak into third-party code.
 */

/**
 * Variables copied from the daemon's environment into every child, when present. Enough for
 * `npx`, `uvx`, `python` and native binaries to find themselves and behave, and nothing else.
 * The Windows names are there for runtimes that break without them.
 */
export const BASE_ENV_NAMES: readonly string[] = [
  "PATH",
  "HOME",
  "LANG",
  "LC_ALL",
  "TMPDIR",
  "USER",
  "LOGNAME",
  "SHELL",
  "TERM",
  "TZ",
  "SYSTEMROOT",
  "SystemRoot",
  "WINDIR",
  "COMSPEC",
  "PATHEXT",
  "TEMP",
  "TMP",
  "USERPROFILE",
  "APPDATA",
  "LOCALAPPDATA",
];

/**
 * The environment of a child: the minimal base taken from `parentEnv`, with `configured`
 * on top. Never the whole parent environment, so tokens the daemon was started with
 * (cloud credentials, other servers' secrets) never reach a server that was not given them.
 */
export function buildChildEnv(
  configured: Readonly<Record<string, string>>,
  parentEnv: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of BASE_ENV_NAMES) {
    const value = parentEnv[name];
    if (value !== undefined) env[name] = value;
  }
  for (const [name, value] of Object.entries(configured)) env[name] = value;
  return env;
}

/** How a child ended. `error` is set when it could not be spawned at all (ENOENT, EACCES). */
export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly error?: Error;
}

/** What to spawn. Secrets go in `env`, never in `args`. */
export interface SpawnChildOptions {
  readonly command: string;
  readonly args: readonly string[];
  /** The complete environment of the child (see `buildChildEnv`); nothing is inherited. */
  readonly env: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** Default: all three piped. */
  readonly stdio?: StdioOptions;
}

/** Timeouts of the stdin close → SIGTERM → SIGKILL sequence. */
export interface StopTimeouts {
  /** How long the child may take to exit after its stdin closed (default 2000 ms). */
  readonly stdinGraceMs?: number;
  /** How long the group may take to exit after SIGTERM (default 3000 ms). */
  readonly termGraceMs?: number;
  /** How long to wait for the group to vanish after SIGKILL (default 2000 ms). */
  readonly killGraceMs?: number;
}

/** A spawned child that leads its own process group. */
export interface ChildHandle {
  readonly process: ChildProcess;
  /** The pid, which is also the process group id; undefined when the spawn failed. */
  readonly pid: number | undefined;
  /** Resolves once the leader exited or the spawn failed; never rejects. */
  readonly exited: Promise<ChildExit>;
  /** The exit once known. */
  readonly exit: ChildExit | undefined;
  /** Sends `signal` to the whole group; false when no member is left. */
  signalGroup(signal: NodeJS.Signals): boolean;
  /**
   * Closes stdin, then SIGTERMs and finally SIGKILLs the process group, each after a timeout.
   * The group is signalled even when the leader already exited, because wrappers such as
   * `npx` leave grandchildren behind. Resolves with the leader's exit; never rejects.
   */
  stop(timeouts?: StopTimeouts): Promise<ChildExit>;
}

/**
 * Node reports a missing working folder as `spawn <command> ENOENT`, which reads as a missing
 * command; a server whose `cwd` is wrong (or whose team file's folder was removed) gets the
 * real reason instead.
 */
function explainSpawnError(error: Error, cwd: string | undefined): Error {
  if ((error as NodeJS.ErrnoException).code !== "ENOENT" || cwd === undefined || existsSync(cwd)) return error;
  return Object.assign(new Error(`working folder ${cwd} does not exist (ENOENT)`, { cause: error }), { code: "ENOENT" });
}

/**
 * Spawns `options.command` detached (its own process group) with exactly `options.env`.
 * Never throws for a missing or non-executable command: that failure arrives through `exited`
 * with `error`. (Only malformed arguments, such as a NUL byte in an argument, throw.)
 * Error listeners are attached to every stdio stream, so a child that dies while we write
 * (EPIPE) never becomes an uncaught exception.
 */
export function spawnChild(options: SpawnChildOptions): ChildHandle {
  let exit: ChildExit | undefined;
  let resolveExit!: (exit: ChildExit) => void;
  const exited = new Promise<ChildExit>((resolve) => (resolveExit = resolve));
  const finish = (value: ChildExit): void => {
    if (exit) return;
    exit = value;
    resolveExit(value);
  };
  const child = spawn(options.command, [...options.args], {
    env: { ...options.env },
    cwd: options.cwd,
    stdio: options.stdio ?? ["pipe", "pipe", "pipe"],
    detached: true,
    windowsHide: true,
  });
  const swallow = (): void => {};
  child.stdin?.on("error", swallow);
  child.stdout?.on("error", swallow);
  child.stderr?.on("error", swallow);
  child.on("error", (error) => {
    if (child.pid === undefined) finish({ code: null, signal: null, error: explainSpawnError(error, options.cwd) });
  });
  child.on("exit", (code, signal) => finish({ code, signal }));
  return makeHandle(child, child.pid, exited, () => exit);
}

function makeHandle(
  child: ChildProcess,
  pid: number | undefined,
  exited: Promise<ChildExit>,
  currentExit: () => ChildExit | undefined,
): ChildHandle {
  let stopping: Promise<ChildExit> | undefined;
  return {
    process: child,
    pid,
    exited,
    get exit() {
      return currentExit();
    },
    signalGroup(signal) {
      return pid !== undefined && killProcessGroup(pid, signal);
    },
    stop(timeouts) {
      stopping ??= stopChild(child, pid, exited, currentExit, timeouts ?? {});
      return stopping;
    },
  };
}

async function stopChild(
  child: ChildProcess,
  pid: number | undefined,
  exited: Promise<ChildExit>,
  currentExit: () => ChildExit | undefined,
  timeouts: StopTimeouts,
): Promise<ChildExit> {
  if (pid === undefined) return exited;
  const stdinGraceMs = timeouts.stdinGraceMs ?? 2000;
  const termGraceMs = timeouts.termGraceMs ?? 3000;
  const killGraceMs = timeouts.killGraceMs ?? 2000;
  child.stdin?.end();
  if (!currentExit()) await raceTimeout(exited, stdinGraceMs);
  if (isProcessGroupAlive(pid)) {
    killProcessGroup(pid, "SIGTERM");
    await waitForGroupExit(pid, exited, termGraceMs);
  }
  if (isProcessGroupAlive(pid) || !currentExit()) {
    killProcessGroup(pid, "SIGKILL");
    await waitForGroupExit(pid, exited, killGraceMs);
  }
  child.stdout?.destroy();
  child.stderr?.destroy();
  return currentExit() ?? { code: null, signal: "SIGKILL" };
}

/** Waits until the leader exited and no member of the group is left, or `ms` passed. */
async function waitForGroupExit(pgid: number, exited: Promise<unknown>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  await raceTimeout(exited, ms);
  while (isProcessGroupAlive(pgid) && Date.now() < deadline) await delay(50);
}

async function raceTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  const controller = new AbortController();
  await Promise.race([promise, delay(ms, undefined, { signal: controller.signal }).catch(() => undefined)]);
  controller.abort();
}

/** Sends `signal` to process group `pgid`; false when the group no longer exists. Never throws. */
export function killProcessGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  if (!Number.isInteger(pgid) || pgid <= 1) return false;
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether any process of group `pgid` is still running. Zombies do not count: where PID 1
 * does not reap (many containers), killed orphans stay zombies forever, yet `kill -0` still
 * succeeds on them. Falls back to `kill -0` where `/proc` is not available.
 */
export function isProcessGroupAlive(pgid: number): boolean {
  if (!killProcessGroup(pgid, 0)) return false;
  const members = livingGroupMembers(pgid);
  return members === undefined ? true : members.length > 0;
}

/**
 * Stops a process group we know only by id (the leader is not our child, e.g. a leftover
 * of a previous daemon): SIGTERM, wait up to `termGraceMs`, then SIGKILL.
 */
export async function stopProcessGroup(
  pgid: number,
  timeouts: Pick<StopTimeouts, "termGraceMs" | "killGraceMs"> = {},
): Promise<void> {
  if (!killProcessGroup(pgid, "SIGTERM")) return;
  const termDeadline = Date.now() + (timeouts.termGraceMs ?? 3000);
  while (isProcessGroupAlive(pgid) && Date.now() < termDeadline) await delay(50);
  if (!killProcessGroup(pgid, "SIGKILL")) return;
  const killDeadline = Date.now() + (timeouts.killGraceMs ?? 2000);
  while (isProcessGroupAlive(pgid) && Date.now() < killDeadline) await delay(50);
}
