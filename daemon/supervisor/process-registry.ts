import { renameSync, writeFileSync, readFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { readProcStat } from "./proc-info.js";

/**
 * The record of the process groups this daemon started, kept on disk so that the next daemon
 * can reap leftovers (`reapLeftovers`) and pushed to the watchdog so it can kill them if the
 * daemon dies. The file holds ids and start times only — never commands or environments.
 */

/** One recorded process group: its leader's pid (= pgid) and the leader's start time. */
export interface RecordedGroup {
  readonly pgid: number;
  /** `/proc/<pid>/stat` start time (clock ticks since boot), to tell a reused pid apart; absent without /proc. */
  readonly startTime?: number;
}

/** The file's format. */
export interface ChildrenFile {
  readonly version: 1;
  /** The daemon that wrote it. */
  readonly daemonPid: number;
  readonly groups: readonly RecordedGroup[];
}

/** What the supervisor tells about the groups it spawns and stops. */
export interface ProcessRegistry {
  add(pgid: number): void;
  remove(pgid: number): void;
  /** The groups currently recorded. */
  groups(): RecordedGroup[];
  /** Calls `listener` with the current list after every change, until the returned function is called. */
  subscribe(listener: (groups: readonly RecordedGroup[]) => void): () => void;
}

/**
 * A registry persisted to `childrenFile` (0600, written to a temporary file and renamed, so
 * a reader never sees half a file). Write failures are reported to `onError` and never thrown:
 * losing the record must not stop a server from starting.
 */
export function createProcessRegistry(
  childrenFile: string,
  options: { onError?: (error: unknown) => void } = {},
): ProcessRegistry {
  const recorded = new Map<number, RecordedGroup>();
  const listeners = new Set<(groups: readonly RecordedGroup[]) => void>();
  const persist = (): void => {
    const groups = [...recorded.values()];
    try {
      writeChildrenFile(childrenFile, { version: 1, daemonPid: process.pid, groups });
    } catch (error) {
      options.onError?.(error);
    }
    for (const listener of [...listeners]) {
      try {
        listener(groups);
      } catch (error) {
        options.onError?.(error);
      }
    }
  };
  persist();
  return {
    add(pgid) {
      const startTime = readProcStat(pgid)?.startTime;
      recorded.set(pgid, startTime === undefined ? { pgid } : { pgid, startTime });
      persist();
    },
    remove(pgid) {
      if (recorded.delete(pgid)) persist();
    },
    groups: () => [...recorded.values()],
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** Writes the file atomically with mode 0600. */
export function writeChildrenFile(path: string, content: ChildrenFile): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(content) + "\n", { mode: 0o600 });
  renameSync(temporary, path);
}

/** Reads the file; an absent or malformed file yields no groups. */
export function readChildrenFile(path: string): RecordedGroup[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch {
    return [];
  }
  const groups = (parsed as { groups?: unknown })?.groups;
  if (!Array.isArray(groups)) return [];
  const result: RecordedGroup[] = [];
  for (const group of groups) {
    const pgid = (group as { pgid?: unknown })?.pgid;
    const startTime = (group as { startTime?: unknown })?.startTime;
    if (typeof pgid !== "number" || !Number.isInteger(pgid) || pgid <= 1) continue;
    result.push(typeof startTime === "number" ? { pgid, startTime } : { pgid });
  }
  return result;
}
