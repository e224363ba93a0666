import { killRecordedGroups } from "./reap.js";
import type { RecordedGroup } from "./process-registry.js";

/**
 * The watchdog process. Node has no parent-death signal, and many MCP servers ignore their
 * stdin closing, so a daemon killed with SIGKILL would orphan them. The daemon spawns this
 * tiny process with a pipe on its stdin and writes the current list of server process groups
 * to it, one JSON line per change (`{"groups":[{"pgid":123,"startTime":456}]}`). When the pipe
 * closes — the daemon exited, however it died — the watchdog SIGTERMs, then SIGKILLs, every
 * recorded group that is still alive, and exits.
 *
 * Usage: node watchdog-main.js [termGraceMs]
 */

const termGraceMs = Number(process.argv[2] ?? "3000") || 3000;
let groups: RecordedGroup[] = [];
let partial = "";
let finishing = false;

// The daemon's terminal going away must not stop the cleanup.
process.on("SIGHUP", () => {});
process.on("SIGINT", () => {});

process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk: string) => {
  const lines = (partial + chunk).split("\n");
  partial = lines.pop() ?? "";
  for (const line of lines) {
    if (line.trim() === "") continue;
    try {
      const parsed = JSON.parse(line) as { groups?: RecordedGroup[] };
      if (Array.isArray(parsed.groups)) groups = parsed.groups.filter((group) => Number.isInteger(group?.pgid) && group.pgid > 1);
    } catch {
      // A torn line from a dying daemon: keep the previous list.
    }
  }
});

const finish = (): void => {
  if (finishing) return;
  finishing = true;
  void killRecordedGroups(groups, { termGraceMs }).finally(() => process.exit(0));
};
process.stdin.on("end", finish);
process.stdin.on("close", finish);
process.stdin.on("error", finish);
