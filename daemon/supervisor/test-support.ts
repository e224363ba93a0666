import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { ExecutionContext } from "ava";
import { isProcessGroupAlive, killProcessGroup } from "./child-process.js";
import { livingGroupMembers, readProcStat } from "./proc-info.js";

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
