import test from "ava";
import { spawn } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { statePaths } from "../../shared/paths.js";
import { buildChildEnv, spawnChild } from "./child-process.js";
import { readProcStat } from "./proc-info.js";
import { createProcessRegistry, readChildrenFile, writeChildrenFile } from "./process-registry.js";
import { reapLeftovers } from "./reap.js";
import {
  fixturePath,
  groupMembers,
  isPidRunning,
  repoRoot,
  tempHome,
  trackGroups,
  waitFor,
} from "./test-support.js";
import { startWatchdog } from "./watchdog.js";

const tsxArgs = ["--import", "tsx"];
const watchdogScript = join(repoRoot, "daemon/supervisor/watchdog-main.ts");

/** Spawns the stubborn fixture (ignores SIGTERM, has a grandchild); resolves with both pids. */
async function stubbornGroup(t: import("ava").ExecutionContext) {
  const track = trackGroups(t);
  const child = spawnChild({ command: process.execPath, args: [fixturePath("stubborn.mjs")], env: buildChildEnv({}) });
  track(child.pid);
  let stderr = "";
  child.process.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  t.true(await waitFor(() => /grandchild pid \d+/.test(stderr)));
  const grandchild = Number(/grandchild pid (\d+)/.exec(stderr)![1]);
  // The daemon would keep these pipes; drop ours so the test process can exit.
  child.process.stdin!.destroy();
  child.process.stdout!.destroy();
  child.process.stderr!.destroy();
  child.process.unref();
  return { pgid: child.pid!, grandchild };
}

test("the registry writes pgids and start times only, 0600, atomically", (t) => {
  const paths = statePaths(tempHome(t));
  const registry = createProcessRegistry(paths.childrenFile);
  registry.add(process.pid);
  const mode = statSync(paths.childrenFile).mode & 0o777;
  t.is(mode, 0o600);
  const content = JSON.parse(readFileSync(paths.childrenFile, "utf8"));
  t.deepEqual(Object.keys(content).sort(), ["daemonPid", "groups", "version"]);
  t.deepEqual(content.groups, [{ pgid: process.pid, startTime: readProcStat(process.pid)!.startTime }]);
  registry.remove(process.pid);
  t.deepEqual(readChildrenFile(paths.childrenFile), []);
});

test("the watchdog kills recorded groups, grandchildren included, when its pipe closes", async (t) => {
  const { pgid, grandchild } = await stubbornGroup(t);
  const watchdog = spawn(process.execPath, [...tsxArgs, watchdogScript, "300"], { cwd: repoRoot, stdio: ["pipe", "ignore", "inherit"] });
  t.teardown(() => {
    if (watchdog.exitCode === null) watchdog.kill("SIGKILL");
  });
  watchdog.stdin.write(JSON.stringify({ groups: [{ pgid: 424242 }] }) + "\n");
  watchdog.stdin.write(JSON.stringify({ groups: [{ pgid, startTime: readProcStat(pgid)!.startTime }] }) + "\n");
  await new Promise((resolve) => setTimeout(resolve, 1500));
  t.true(isPidRunning(pgid), "nothing happens while the pipe is open");
  const exited = new Promise<number | null>((resolve) => watchdog.once("exit", (code) => resolve(code)));
  watchdog.stdin.destroy();
  t.is(await exited, 0);
  t.false(isPidRunning(pgid));
  t.false(isPidRunning(grandchild));
});

test("startWatchdog follows the registry and a clean close kills nothing", async (t) => {
  const paths = statePaths(tempHome(t));
  const registry = createProcessRegistry(paths.childrenFile);
  const { pgid } = await stubbornGroup(t);
  const watchdog = startWatchdog({ registry, termGraceMs: 300, scriptPath: watchdogScript, execArgv: tsxArgs });
  registry.add(pgid);
  const watchdogPid = watchdog.pid!;
  t.true(isPidRunning(watchdogPid));
  await new Promise((resolve) => setTimeout(resolve, 1500));
  registry.remove(pgid);
  await watchdog.close();
  t.false(isPidRunning(watchdogPid));
  t.true(isPidRunning(pgid), "the daemon stopped its servers itself; the watchdog had nothing left to kill");
});

test("a SIGKILLed daemon leaves nothing behind: its watchdog kills the servers", async (t) => {
  const home = tempHome(t);
  const paths = statePaths(home);
  // A stand-in daemon: a supervisor with the stubborn server, a registry and a watchdog.
  const script = `
    const { createSupervisor } = await import(${JSON.stringify(join(repoRoot, "daemon/supervisor/supervisor.ts"))});
    const { createProcessRegistry } = await import(${JSON.stringify(join(repoRoot, "daemon/supervisor/process-registry.ts"))});
    const { startWatchdog } = await import(${JSON.stringify(join(repoRoot, "daemon/supervisor/watchdog.ts"))});
    const registry = createProcessRegistry(${JSON.stringify(paths.childrenFile)});
    startWatchdog({ registry, termGraceMs: 300, scriptPath: ${JSON.stringify(watchdogScript)}, execArgv: ["--import", "tsx"] });
    const supervisor = createSupervisor({ processRegistry: registry, servers: [{
      name: "stubborn", command: process.execPath, args: [${JSON.stringify(fixturePath("stubborn.mjs"))}], env: {},
      enabled: true, startup: "eager", idleTimeoutMs: 60000, startupTimeoutMs: 60000, prefix: "stubborn" }] });
    supervisor.log("stubborn").subscribe((entry) => process.stdout.write(entry.text + "\\n"));
    supervisor.on("state", (s) => s.state === "running" && process.stdout.write("RUNNING " + s.pid + "\\n"));
    await supervisor.start();
    setInterval(() => {}, 1000);
  `;
  const daemon = spawn(process.execPath, [...tsxArgs, "--input-type=module", "-e", script], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "inherit"],
  });
  t.teardown(() => {
    if (daemon.exitCode === null) daemon.kill("SIGKILL");
  });
  let out = "";
  daemon.stdout.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
  t.true(await waitFor(() => /RUNNING \d+/.test(out) && /grandchild pid \d+/.test(out), 60_000), out);
  const server = Number(/RUNNING (\d+)/.exec(out)![1]);
  const grandchild = Number(/grandchild pid (\d+)/.exec(out)![1]);
  t.teardown(() => {
    for (const pid of [server, grandchild]) if (isPidRunning(pid)) process.kill(pid, "SIGKILL");
  });
  t.deepEqual(
    readChildrenFile(paths.childrenFile).map((group) => group.pgid),
    [server],
  );
  daemon.kill("SIGKILL");
  t.true(await waitFor(() => !isPidRunning(server) && !isPidRunning(grandchild), 30_000));
  t.deepEqual(groupMembers(server), []);
});

test("reapLeftovers kills a previous daemon's groups and spares a reused pid", async (t) => {
  const paths = statePaths(tempHome(t));
  const { pgid, grandchild } = await stubbornGroup(t);
  const other = await stubbornGroup(t);
  const startTime = readProcStat(pgid)!.startTime;
  writeChildrenFile(paths.childrenFile, {
    version: 1,
    daemonPid: 999_999,
    groups: [
      { pgid, startTime },
      // Same pid as a live group but another start time: a reused pid, not ours.
      { pgid: other.pgid, startTime: readProcStat(other.pgid)!.startTime + 1 },
      { pgid: 999_999_9 },
    ],
  });
  const reaped = await reapLeftovers(paths.childrenFile, { termGraceMs: 300 });
  t.deepEqual(reaped, [pgid]);
  t.false(isPidRunning(pgid));
  t.false(isPidRunning(grandchild));
  t.true(isPidRunning(other.pgid), "a group that is not ours is left alone");
  t.deepEqual(await reapLeftovers(join(paths.runDir, "absent.json")), []);
});

