/**
 * Child processes of the benchmark: spawned in their own process group, tracked, and always killed — at the end,
 * on Ctrl-C, on errors — together with every descendant (supergateway's per-session servers, the gateway's
 * upstreams). Also the /proc readers behind the CPU and memory figures (Linux only).
 */
import { spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { createServer } from "node:net";
import { execFileSync } from "node:child_process";

const tracked = new Set();
const extraPids = new Set();

let clockTicks = 100;
try {
  clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
} catch {
  clockTicks = 100;
}

/** Spawns a tracked child in its own process group; stderr (and stdout unless piped for the caller) is kept in a tail. */
export function spawnTracked(command, args, options = {}) {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  child.outputTail = "";
  const keep = (chunk) => {
    child.outputTail = (child.outputTail + chunk.toString("utf8")).slice(-4000);
  };
  child.stderr.on("data", keep);
  if (!options.keepStdout) child.stdout.on("data", keep);
  tracked.add(child);
  child.on("exit", () => tracked.delete(child));
  return child;
}

/** Registers a pid spawned by someone else (the SDK's stdio client transport) for the final kill. */
export function trackPid(pid) {
  if (pid) extraPids.add(pid);
}

/** Maps every live pid to its parent pid. */
function parentMap() {
  const parents = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      parents.set(Number(entry), Number(fields[1]));
    } catch {
      // the process ended while we looked
    }
  }
  return parents;
}

/** The pid and all its live descendants. */
export function processTree(rootPid) {
  const parents = parentMap();
  const tree = [rootPid];
  for (let i = 0; i < tree.length; i++) {
    for (const [pid, ppid] of parents) if (ppid === tree[i]) tree.push(pid);
  }
  return tree.filter((pid) => parents.has(pid));
}

/** The command line of a pid ("" when gone). */
export function commandLine(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return "";
  }
}

/** CPU time (user + system) a process has used, in microseconds; 0 when it is gone. */
export function cpuMicros(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / clockTicks;
  } catch {
    return 0;
  }
}

/** Resident set size of a process in KiB (VmRSS); 0 when it is gone. */
export function rssKiB(pid) {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

function signalTree(child, signal) {
  if (child.pid === undefined) return;
  for (const pid of processTree(child.pid)) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
  try {
    process.kill(-child.pid, signal);
  } catch {
    // group already gone
  }
}

/** Stops one tracked child and its descendants: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopTracked(child, graceMs = 2000) {
  if (child.exitCode !== null || child.signalCode !== null) {
    signalTree(child, "SIGKILL");
    return;
  }
  const descendants = child.pid === undefined ? [] : processTree(child.pid).slice(1);
  const exited = new Promise((resolve) => child.once("exit", resolve));
  signalTree(child, "SIGTERM");
  const timer = new Promise((resolve) => setTimeout(resolve, graceMs).unref());
  await Promise.race([exited, timer]);
  signalTree(child, "SIGKILL");
  for (const pid of descendants) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
}

/** Kills every process the benchmark started, synchronously (safe in an `exit` handler). */
export function killEverything() {
  for (const child of tracked) signalTree(child, "SIGKILL");
  for (const pid of extraPids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
}

let hooksInstalled = false;

/** Makes sure nothing outlives the harness: normal exit, Ctrl-C, SIGTERM, uncaught errors. */
export function installCleanupHooks() {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", killEverything);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping every process it started\n`);
      killEverything();
      process.exit(130);
    });
  }
  process.on("uncaughtException", (error) => {
    process.stderr.write(`bench: uncaught ${error?.stack ?? error}\n`);
    killEverything();
    process.exit(1);
  });
}

/** A free loopback TCP port (bind port 0, read it, close). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Resolves when `test()` returns truthy, polling every `intervalMs`; rejects after `timeoutMs`. */
export async function waitFor(test, { timeoutMs = 20000, intervalMs = 25, what = "condition", child } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`${what}: process exited (${child.exitCode ?? child.signalCode}): ${child.outputTail?.slice(-800)}`);
    }
    try {
      const value = await test();
      if (value) return value;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${child ? `: ${child.outputTail?.slice(-800)}` : ""}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** True when an HTTP GET to the url gets any answer (the port is listening). */
export async function httpAnswers(url) {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await response.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

/** Reads the first JSON line a child prints on stdout. */
export function readJsonLine(child, timeoutMs = 20000) {
  return new Promise((resolve, reject) => {
    let buffer = "";
    const timer = setTimeout(() => reject(new Error(`no JSON line: ${child.outputTail}`)), timeoutMs);
    child.stdout.on("data", (chunk) => {
      buffer += chunk.toString("utf8");
      const newline = buffer.indexOf("\n");
      if (newline >= 0) {
        clearTimeout(timer);
        try {
          resolve(JSON.parse(buffer.slice(0, newline)));
        } catch (error) {
          reject(error);
        }
      }
    });
    child.on("exit", () => reject(new Error(`exited: ${child.outputTail}`)));
  });
}
