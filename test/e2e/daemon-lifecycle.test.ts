import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import { Code, ConnectError } from "@connectrpc/connect";
import { fixtureServer, isAlive, normalServer, startDaemon, tempHome, waitForRunning, waitUntil, type DaemonProcess } from "./helpers/daemon-process.js";
import { createControlClients } from "./helpers/control-clients.js";
import { livingDescendants } from "./helpers/process-tree.js";

// The daemon as a process: its files, refusing a second daemon, a stale socket, a bad config,
// and that nothing it started outlives it — after Shutdown, SIGTERM, and SIGKILL (watchdog).

/** Two servers, one of which ignores SIGTERM and stdin closing and has a stubborn grandchild. */
const servers = [normalServer("alpha"), { name: "stubborn", args: [fixtureServer("stubborn.mjs")] }];

async function startWithEverything(t: ExecutionContext, home?: string): Promise<{ daemon: DaemonProcess; pids: number[] }> {
  const daemon = await startDaemon(t, { servers, home });
  const byName = await waitForRunning(daemon, ["alpha", "stubborn"]);
  // The frontend and the watchdog are descendants too; wait for the frontend when it is built.
  await waitUntil(async () => (await daemon.clients.gateway.getStatus({})).frontendRunning, 30_000);
  const pids = livingDescendants(daemon.pid);
  for (const pid of byName.values()) t.true(pids.includes(pid), "server pids are among the daemon's descendants");
  daemon.track(byName.values());
  daemon.track(pids);
  return { daemon, pids };
}

async function assertAllGone(t: ExecutionContext, pids: readonly number[]): Promise<void> {
  const gone = await waitUntil(() => pids.every((pid) => !isAlive(pid)), 60_000);
  t.true(gone, `still alive: ${pids.filter(isAlive).join(", ")}`);
}

test("state files: socket 0600 in a 0700 folder, pid file; removed on a clean stop", async (t) => {
  const daemon = await startDaemon(t, { servers: [normalServer("alpha")] });
  t.is(statSync(daemon.home).mode & 0o777, 0o700);
  t.is(statSync(daemon.paths.runDir).mode & 0o777, 0o700);
  t.true(statSync(daemon.paths.controlSocket).isSocket());
  t.is(statSync(daemon.paths.controlSocket).mode & 0o777, 0o600);
  t.is(readFileSync(daemon.paths.pidFile, "utf8").trim(), String(daemon.pid));
  daemon.process.kill("SIGTERM");
  t.is((await daemon.exited).code, 0);
  t.false(existsSync(daemon.paths.controlSocket));
  t.false(existsSync(daemon.paths.pidFile));
});

test("a second daemon on the same state folder is refused and the first keeps running", async (t) => {
  const first = await startDaemon(t, { servers: [normalServer("alpha")] });
  const pids = await waitForRunning(first, ["alpha"]);
  const second = await startDaemon(t, { servers: [normalServer("alpha")], home: first.home, noWait: true });
  const exit = await second.exited;
  t.is(exit.code, 1);
  t.true(second.stderr().includes(`a gateway daemon is already running at ${first.paths.controlSocket}`), second.stderr());
  t.true(isAlive(pids.get("alpha") ?? 0), "the first daemon's server was not touched");
  t.is((await first.clients.servers.getServer({ name: "alpha" })).server?.pid, pids.get("alpha"));
});

test("the pid file is the start-up lock: a live owner refuses the start, a dead one is replaced", async (t) => {
  const home = tempHome(t);
  const paths = { runDir: join(home, "run"), pidFile: join(home, "run", "gateway.pid") };
  mkdirSync(paths.runDir, { recursive: true, mode: 0o700 });
  // A process that looks like a daemon still starting (no socket yet).
  const starting = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)", "dist/daemon/main.js"], { stdio: "ignore" });
  t.teardown(() => void starting.kill("SIGKILL"));
  writeFileSync(paths.pidFile, `${starting.pid}\n`);
  const refused = await startDaemon(t, { servers: [normalServer("alpha")], home, noWait: true });
  t.is((await refused.exited).code, 1);
  t.true(refused.stderr().includes(`(pid ${starting.pid})`), refused.stderr());
  t.is(readFileSync(paths.pidFile, "utf8").trim(), String(starting.pid), "the owner's pid file is left alone");

  starting.kill("SIGKILL");
  await waitUntil(() => !isAlive(starting.pid ?? 0));
  const daemon = await startDaemon(t, { servers: [normalServer("alpha")], home });
  t.is(readFileSync(paths.pidFile, "utf8").trim(), String(daemon.pid));
});

test("Shutdown answers, then the daemon stops every process it started and exits 0", async (t) => {
  const { daemon, pids } = await startWithEverything(t);
  await daemon.clients.gateway.shutdown({});
  const exit = await daemon.exited;
  t.is(exit.code, 0);
  await assertAllGone(t, pids);
  t.false(existsSync(daemon.paths.controlSocket));
  const fresh = createControlClients({ socketPath: daemon.paths.controlSocket });
  t.teardown(() => fresh.close());
  // connect-node reports a missing socket file as Internal "connect ENOENT" (not Unavailable).
  const after = ConnectError.from(await t.throwsAsync(fresh.gateway.getStatus({})));
  t.true(after.code === Code.Unavailable || /ENOENT|ECONNREFUSED/.test(after.rawMessage), after.message);
});

test("SIGTERM stops every process the daemon started and exits 0", async (t) => {
  const { daemon, pids } = await startWithEverything(t);
  daemon.process.kill("SIGTERM");
  t.is((await daemon.exited).code, 0);
  await assertAllGone(t, pids);
});

test("SIGKILL of the daemon: the watchdog stops its servers; the next daemon replaces the stale socket", async (t) => {
  const home = tempHome(t);
  const { daemon, pids } = await startWithEverything(t, home);
  daemon.process.kill("SIGKILL");
  t.is((await daemon.exited).signal, "SIGKILL");
  await assertAllGone(t, pids);
  t.true(existsSync(daemon.paths.controlSocket), "a SIGKILLed daemon leaves its socket file behind");

  const next = await startDaemon(t, { servers: [normalServer("alpha")], home });
  await waitForRunning(next, ["alpha"]);
  t.is((await next.clients.gateway.getStatus({})).pid, next.pid);
});

test("a bad team file: exit code 1 with file, line and field, no stack trace", async (t) => {
  const home = tempHome(t);
  const configPath = join(home, "bad.yaml");
  writeFileSync(configPath, ["teams:", "  - id: broken", "    servers:", "      - name: a", "        command: 42", "        args: []", ""].join("\n"));
  const daemon = await startDaemon(t, { configPath, home, noWait: true });
  const exit = await daemon.exited;
  t.is(exit.code, 1);
  t.true(daemon.stderr().includes(`${configPath}:5:`), daemon.stderr());
  t.regex(daemon.stderr(), /teams\[0\]\.servers\[0\]\.command/);
  t.notRegex(daemon.stderr(), /\n\s+at /, "no stack trace");
  t.false(existsSync(join(home, "run", "gateway.sock")));
});
