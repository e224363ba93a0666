import { stopProcessGroup, killProcessGroup } from "./child-process.js";
import { hasProcFs, livingGroupMembers, readProcStat } from "./proc-info.js";
import { readChildrenFile, type RecordedGroup } from "./process-registry.js";

/**
 * Killing recorded process groups that outlived their daemon: used by the watchdog when the
 * daemon's pipe closes and by the next daemon at start (`reapLeftovers`). A recorded pgid is
 * only signalled when it is still ours: the leader's start time must match what was recorded
 * (a reused pid leads a different process), and a leaderless group may only hold processes
 * started after our leader (a live group keeps its id from being reused).
 */

/** Whether `group` still has running members that belong to the process group we recorded. */
export function isRecordedGroupAlive(group: RecordedGroup): boolean {
  if (!hasProcFs) return killProcessGroup(group.pgid, 0);
  const members = livingGroupMembers(group.pgid) ?? [];
  if (members.length === 0) return false;
  if (group.startTime === undefined) return true;
  const leader = readProcStat(group.pgid);
  if (leader && leader.pgrp === group.pgid && leader.state !== "Z") return leader.startTime === group.startTime;
  return members.every((pid) => (readProcStat(pid)?.startTime ?? Infinity) >= group.startTime!);
}

/**
 * SIGTERMs every recorded group that is still ours, waits up to `termGraceMs`, then SIGKILLs
 * the rest. Resolves with the pgids that were signalled. Never throws.
 */
export async function killRecordedGroups(
  groups: readonly RecordedGroup[],
  options: { termGraceMs?: number; killGraceMs?: number } = {},
): Promise<number[]> {
  const ours = groups.filter(isRecordedGroupAlive);
  await Promise.all(ours.map((group) => stopProcessGroup(group.pgid, options)));
  return ours.map((group) => group.pgid);
}

/**
 * Kills the process groups a previous daemon recorded in `childrenFile` and that are still
 * running (it was SIGKILLed and its watchdog could not finish, or the machine's PID 1 kept
 * them). Call at daemon start, before the new registry overwrites the file. Resolves with the
 * pgids that were signalled.
 */
export function reapLeftovers(
  childrenFile: string,
  options: { termGraceMs?: number; killGraceMs?: number } = {},
): Promise<number[]> {
  return killRecordedGroups(readChildrenFile(childrenFile), options);
}
