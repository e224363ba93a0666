import { readdirSync, readFileSync } from "node:fs";

/**
 * Reading process facts from Linux's `/proc`, for the two questions `kill(2)` cannot
 * answer: "is anything in this group still *running*" (a zombie counts for `kill -0`, and
 * when PID 1 of a container does not reap, orphaned zombies stay forever) and "is this
 * the same process we recorded" (pid reuse, checked through the start time).
 * On systems without `/proc` every function answers `undefined` and callers fall back to signals.
 */

/** The fields of `/proc/<pid>/stat` we use. */
export interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  /** Process group id. */
  readonly pgrp: number;
  /** One letter: R, S, D, Z (zombie), T, X… */
  readonly state: string;
  /** Clock ticks since boot when the process started; stable for its whole life. */
  readonly startTime: number;
}

/** Whether `/proc` can be read here. */
export const hasProcFs: boolean = (() => {
  try {
    readFileSync("/proc/self/stat", "utf8");
    return true;
  } catch {
    return false;
  }
})();

/** Parses `/proc/<pid>/stat`; undefined when the process does not exist or `/proc` is missing. */
export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may itself contain spaces and parentheses.
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  const fields = text.slice(close + 2).split(" ");
  // fields[0] is field 3 (state); field N is fields[N - 3].
  return {
    pid,
    state: fields[0] ?? "?",
    ppid: Number(fields[1]),
    pgrp: Number(fields[2]),
    startTime: Number(fields[19]),
  };
}

/**
 * Pids of the non-zombie processes in group `pgid`, or undefined without `/proc`.
 * Scans `/proc`, so it is meant for shutdown paths, not hot paths.
 */
export function livingGroupMembers(pgid: number): number[] | undefined {
  if (!hasProcFs) return undefined;
  const members: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return undefined;
  }
  for (const entry of entries) {
    const first = entry.charCodeAt(0);
    if (first < 48 || first > 57) continue;
    const stat = readProcStat(Number(entry));
    if (stat && stat.pgrp === pgid && stat.state !== "Z" && stat.state !== "X") members.push(stat.pid);
  }
  return members;
}
