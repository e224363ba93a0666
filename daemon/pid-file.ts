import { readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { GatewayError } from "./errors.js";

/**
 * The daemon's pid file doubles as its start-up lock. The socket check alone leaves a
 * window — a daemon that is still starting does not answer on the socket yet — in which a
 * second daemon would reap the first one's freshly started servers. Creating the pid file
 * exclusively (`wx`) closes that window: only one daemon per state folder gets past it.
 */

/** Whether `pid` is a running gateway daemon (not a reused pid of another program). */
function isLiveDaemon(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "latin1").includes("daemon/main");
  } catch {
    return true; // no /proc: a live pid is taken at its word
  }
}

/**
 * Creates `pidFile` (0600) with our pid. A file left by a dead daemon is replaced; a file of a
 * live daemon means another daemon owns this state folder: `GatewayError("failed_precondition")`.
 */
export function acquirePidFile(pidFile: string, socketPath: string): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(pidFile, `${process.pid}\n`, { flag: "wx", mode: 0o600 });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    let owner = Number.NaN;
    try {
      owner = Number(readFileSync(pidFile, "utf8").trim());
    } catch {
      // vanished meanwhile: retry
    }
    if (isLiveDaemon(owner)) {
      throw new GatewayError("failed_precondition", `a gateway daemon is already running at ${socketPath} (pid ${owner})`);
    }
    try {
      unlinkSync(pidFile);
    } catch {
      // another starter removed it first; the exclusive create decides
    }
  }
  throw new GatewayError("failed_precondition", `another gateway daemon is starting in this state folder (${pidFile})`);
}

/** Removes the pid file if it is still ours. */
export function releasePidFile(pidFile: string): void {
  try {
    if (readFileSync(pidFile, "utf8").trim() === String(process.pid)) rmSync(pidFile, { force: true });
  } catch {
    // already gone
  }
}
