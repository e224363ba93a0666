import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { ExecutionContext } from "ava";
import { isProcessGroupAlive, killProcessGroup } from "./child-process.js";
import { livingGroupMembers, readProcStat } from "./proc-info.js";
import type { ServerConfig } from "../config/types.js";
import { createSupervisor, type ManagedSupervisor, type SupervisorDeps } from "./supervisor.js";
import type { ServerSnapshot, ServerState, Supervisor } from "./types.js";

/**
 * Helpers shared by the supervisor and upstream tests: fixture paths, temporary state
 * folders, and checks that no process a test started is left running.
 */

/** Absolute path of the repository root. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Absolute path of a fixture server in `test/fixtures/servers/`. */
export function fixturePath(file: string): string {
  return join(repoRoot, "test/fixtures/servers", file);
}

/** Absolute path of server-everything's stdio entry point. */
export const serverEverythingPath = join(repoRoot, "node_modules/@modelcontextprotocol/server-everything/dist/index.js");

/** A temporary `DEPLOYSTACK_HOME`, removed when the test ends. */
export function tempHome(t: ExecutionContext): string {
  const home = mkdtempSync(join(tmpdir(), "dsgw-"));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  return home;
}

/** Whether a single process is running (not a zombie). */
export function isPidRunning(pid: number): boolean {
  const stat = readProcStat(pid);
  if (stat) return stat.state !== "Z" && stat.state !== "X";
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `condition` every 50 ms until it holds or `timeoutMs` passed (generous by default). */
export async function waitFor(condition: () => boolean, timeoutMs = 30_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/**
 * Records process groups a test started; at teardown SIGKILLs whatever is left, so that a
 * failing test never leaks processes into the next one.
 */
export function trackGroups(t: ExecutionContext): (pgid: number | undefined) => void {
  const groups = new Set<number>();
  t.teardown(() => {
    for (const pgid of groups) if (isProcessGroupAlive(pgid)) killProcessGroup(pgid, "SIGKILL");
  });
  return (pgid) => {
    if (pgid !== undefined) groups.add(pgid);
  };
}

/** Non-zombie members of a group, [] when none (or `/proc` is missing and the group is gone). */
export function groupMembers(pgid: number): number[] {
  return livingGroupMembers(pgid) ?? (isProcessGroupAlive(pgid) ? [pgid] : []);
}

/** A server config with test-friendly defaults. */
export function serverConfig(name: string, command: string, args: string[], overrides: Partial<ServerConfig> = {}): ServerConfig {
  return {
    name,
    command,
    args,
    env: {},
    enabled: true,
    startup: "eager",
    idleTimeoutMs: 600_000,
    startupTimeoutMs: 60_000,
    prefix: name,
    ...overrides,
  };
}

/** A config running a fixture server with node. */
export function nodeFixture(name: string, file: string, overrides: Partial<ServerConfig> = {}, extraArgs: string[] = []): ServerConfig {
  return serverConfig(name, process.execPath, [fixturePath(file), ...extraArgs], overrides);
}

/**
 * Creates a supervisor for a test and guarantees at teardown that it was shut down and that
 * no process it ever spawned is still running (asserted by `assertNoLeftovers`).
 */
export function supervisorForTest(t: ExecutionContext, deps: SupervisorDeps): { supervisor: ManagedSupervisor; spawned: Set<number> } {
  const supervisor = createSupervisor({ stopTimeouts: { stdinGraceMs: 300, termGraceMs: 1000 }, ...deps });
  const spawned = new Set<number>();
  supervisor.on("state", (snapshot) => {
    if (snapshot.pid !== undefined) spawned.add(snapshot.pid);
  });
  t.teardown(async () => {
    await supervisor.shutdown();
    for (const pgid of spawned) if (isProcessGroupAlive(pgid)) killProcessGroup(pgid, "SIGKILL");
  });
  return { supervisor, spawned };
}

/** After `shutdown()`: asserts that no process group the supervisor spawned has a running member. */
export async function assertNoLeftovers(t: ExecutionContext, spawned: Iterable<number>): Promise<void> {
  const groups = [...spawned];
  const gone = await waitFor(() => groups.every((pgid) => groupMembers(pgid).length === 0), 10_000);
  t.true(gone, `processes left in groups ${groups.filter((pgid) => groupMembers(pgid).length > 0).join(",")}`);
}

/** Waits until the server reaches `state` (generous bound), failing with the last snapshot. */
export async function waitForState(
  t: ExecutionContext,
  supervisor: Supervisor,
  name: string,
  state: ServerState,
  timeoutMs = 60_000,
): Promise<ServerSnapshot> {
  const reached = await waitFor(() => supervisor.get(name).state === state, timeoutMs);
  const snapshot = supervisor.get(name);
  if (!reached) t.fail(`server "${name}" did not reach ${state}: ${JSON.stringify(snapshot)}`);
  return snapshot;
}
