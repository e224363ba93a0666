import { readdirSync } from "node:fs";
import { readProcStat } from "../../../daemon/supervisor/proc-info.js";

/**
 * Every living (non-zombie) descendant of `pid`, found through `/proc` parent links: the
 * daemon's servers, their grandchildren, the frontend and the watchdog. Taken before a daemon
 * is stopped or killed, it is the list of processes that must all be gone afterwards.
 */
export function livingDescendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcStat(Number(entry));
    if (!stat || stat.state === "Z" || stat.state === "X") continue;
    const siblings = children.get(stat.ppid) ?? [];
    siblings.push(stat.pid);
    children.set(stat.ppid, siblings);
  }
  const found: number[] = [];
  const queue = [...(children.get(pid) ?? [])];
  while (queue.length > 0) {
    const next = queue.shift() as number;
    found.push(next);
    queue.push(...(children.get(next) ?? []));
  }
  return found;
}
