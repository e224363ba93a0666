import test from "ava";
import { GatewayError } from "../errors.js";
import { createManualClock } from "./clock.js";
import {
  assertNoLeftovers,
  fixturePath,
  isPidRunning,
  nodeFixture,
  serverConfig,
  serverEverythingPath,
  supervisorForTest,
  waitFor,
  waitForState,
} from "./test-support.js";
import type { ServerState } from "./types.js";

const textOf = (result: Record<string, unknown>): string => (result.content as Array<{ text: string }>)[0].text;

test("servers start in parallel; a failing one holds up no other; calls go through", async (t) => {
  const { supervisor, spawned } = supervisorForTest(t, {
    servers: [
      serverConfig("everything", process.execPath, [serverEverythingPath, "stdio"]),
      nodeFixture("normal", "normal-server.mjs"),
      serverConfig("python", "python3", [fixturePath("python-server.py")]),
      nodeFixture("broken", "crash-on-start.mjs"),
      serverConfig("missing", "/nonexistent/dsgw-missing-binary", []),
    ],
    restartPolicy: { initialDelayMs: 60_000 },
  });
  const catalogs = new Map<string, number>();
  supervisor.on("catalog", (name, catalog) => catalogs.set(name, catalog.tools.length));
  await supervisor.start();
  for (const name of ["everything", "normal", "python"]) await waitForState(t, supervisor, name, "running");
  await waitForState(t, supervisor, "broken", "backoff");
  const missing = await waitForState(t, supervisor, "missing", "backoff");
  t.regex(missing.lastError ?? "", /could not start: spawn \/nonexistent\/dsgw-missing-binary ENOENT/);
  t.deepEqual(
    supervisor.list().map((s) => s.name),
    ["broken", "everything", "missing", "normal", "python"],
  );
  const normal = supervisor.get("normal");
  t.true(normal.toolCount >= 5);
  t.is(catalogs.get("normal"), normal.toolCount);
  t.is(supervisor.get("python").identity?.serverInfo.name, "fixture-python");
  t.is(supervisor.catalog("python")?.tools.length, 3);
  const everything = await supervisor.acquire("everything");
  t.is(textOf(await everything.request("tools/call", { name: "echo", arguments: { message: "hi" } })), "Echo: hi");
  const python = await supervisor.acquire("python");
  t.is(textOf(await python.request("tools/call", { name: "echo", arguments: { text: "from python" } })), "from python");
  const broken = supervisor.get("broken");
  t.regex(broken.lastError ?? "", /exited with code 1\nfatal: missing API_KEY/);
  t.is(broken.restarts, 1);
  await supervisor.shutdown();
  t.true(supervisor.list().every((s) => s.state === "stopped" || s.state === "backoff"));
  await assertNoLeftovers(t, spawned);
});

test("back-off grows with the injected clock and a crash loop ends FAILED with the stderr reason", async (t) => {
  const clock = createManualClock();
  const { supervisor, spawned } = supervisorForTest(t, {
    servers: [nodeFixture("broken", "crash-on-start.mjs")],
    clock,
    random: () => 0.5,
    restartPolicy: { initialDelayMs: 1000, maxCrashes: 4, windowMs: 60_000 },
  });
  const states: ServerState[] = [];
  supervisor.on("state", (snapshot) => states.push(snapshot.state));
  await supervisor.start();
  const delays: number[] = [];
  for (let crash = 1; crash <= 3; crash++) {
    t.true(await waitFor(() => supervisor.get("broken").state === "backoff" && supervisor.get("broken").restarts === crash));
    const snapshot = supervisor.get("broken");
    delays.push(snapshot.nextStartAt! - clock.now());
    t.deepEqual(clock.pendingDelays(), [delays[crash - 1]]);
    clock.advance(delays[crash - 1]);
  }
  t.deepEqual(delays, [1000, 2000, 4000]);
  const failed = await waitForState(t, supervisor, "broken", "failed");
  t.regex(failed.lastError ?? "", /^crash loop: 4 crashes within 60s; last: exited with code 1\nfatal: missing API_KEY/);
  t.deepEqual(clock.pendingDelays(), [], "no restart is scheduled once failed");
  t.deepEqual(states.slice(0, 3), ["starting", "backoff", "starting"]);
  const error = await t.throwsAsync(supervisor.acquire("broken"), { instanceOf: GatewayError });
  t.is(error?.kind, "unavailable");
  t.is(error!.message, 'server "broken" is failed; see `dsctl servers logs broken` for why', "no stderr text in the error");
  const log = supervisor.log("broken").tail().map((entry) => `${entry.source}: ${entry.text}`);
  t.true(log.includes("supervisor: backing off 2s"));
  t.true(log.includes("stderr: fatal: missing API_KEY (fixture crash-on-start)"));
  const restarted = await supervisor.restart("broken");
  t.is(restarted.restarts, 0);
  t.is(restarted.state, "starting");
  t.is(restarted.lastError, undefined);
  await waitForState(t, supervisor, "broken", "backoff");
  await supervisor.shutdown();
  await assertNoLeftovers(t, spawned);
});

test("crash windows are measured with the clock: old crashes do not count", async (t) => {
  const clock = createManualClock();
  const { supervisor } = supervisorForTest(t, {
    servers: [nodeFixture("broken", "crash-on-start.mjs")],
    clock,
    random: () => 0,
    restartPolicy: { initialDelayMs: 100, jitter: 0.5, maxCrashes: 2, windowMs: 10_000 },
  });
  await supervisor.start();
  const first = await waitForState(t, supervisor, "broken", "backoff");
  t.is(first.nextStartAt! - clock.now(), 50, "jitter applied: 100 × (1 − 0.5)");
  clock.advance(20_000);
  t.true(await waitFor(() => supervisor.get("broken").restarts === 2));
  t.is(supervisor.get("broken").state, "backoff", "the first crash fell out of the window, so no crash loop");
});

test("a server that never answers initialize is killed at the start-up timeout and counts as a crash", async (t) => {
  const clock = createManualClock();
  const { supervisor, spawned } = supervisorForTest(t, {
    servers: [nodeFixture("silent", "silent.mjs", { startupTimeoutMs: 45_000 })],
    clock,
    random: () => 0.5,
  });
  await supervisor.start();
  const starting = supervisor.get("silent");
  t.is(starting.state, "starting");
  t.true(await waitFor(() => supervisor.log("silent").tail().some((e) => e.text.includes("reading and ignoring"))));
  clock.advance(45_000);
  const backoff = await waitForState(t, supervisor, "silent", "backoff");
  t.regex(backoff.lastError ?? "", /^did not answer initialize within 45s/);
  t.false(isPidRunning(starting.pid!));
  await supervisor.shutdown();
  await assertNoLeftovers(t, spawned);
});

test("enable, disable and restart at any time never leave two processes", async (t) => {
  const { supervisor, spawned } = supervisorForTest(t, { servers: [nodeFixture("normal", "normal-server.mjs")] });
  await supervisor.start();
  const first = await waitForState(t, supervisor, "normal", "running");
  const disabled = await supervisor.disable("normal");
  t.is(disabled.state, "stopped");
  t.false(disabled.enabled);
  t.false(isPidRunning(first.pid!));
  const error = await t.throwsAsync(supervisor.acquire("normal"), { instanceOf: GatewayError });
  t.is(error?.message, 'server "normal" is disabled');
  await t.throwsAsync(supervisor.restart("normal"), { message: 'server "normal" is disabled' });
  const enabled = await supervisor.enable("normal");
  t.is(enabled.state, "starting");
  const second = await waitForState(t, supervisor, "normal", "running");
  t.not(second.pid, first.pid);
  // A burst of operations while starting: serialised, one process at the end.
  void supervisor.restart("normal");
  void supervisor.disable("normal");
  void supervisor.enable("normal");
  const last = await supervisor.restart("normal");
  t.is(last.state, "starting");
  const running = await waitForState(t, supervisor, "normal", "running");
  t.is(running.restarts, 0);
  const alive = [...spawned].filter((pid) => isPidRunning(pid));
  t.deepEqual(alive, [running.pid!]);
  const lease = await supervisor.acquire("normal");
  t.is(textOf(await lease.request("tools/call", { name: "echo", arguments: { text: "still here" } })), "still here");
  await supervisor.shutdown();
  await assertNoLeftovers(t, spawned);
});

test("a killed server is restarted after back-off and acquire waits for it", async (t) => {
  const { supervisor, spawned } = supervisorForTest(t, {
    servers: [nodeFixture("normal", "normal-server.mjs")],
    restartPolicy: { initialDelayMs: 50 },
  });
  await supervisor.start();
  const first = await waitForState(t, supervisor, "normal", "running");
  const lease = await supervisor.acquire("normal");
  const pending = lease.request("tools/call", { name: "slow", arguments: { ms: 60_000 } });
  process.kill(first.pid!, "SIGKILL");
  const error = await t.throwsAsync(pending, { instanceOf: GatewayError });
  t.is(error?.message, 'server "normal" stopped');
  t.true(lease.closed.aborted);
  const again = await supervisor.acquire("normal", { timeoutMs: 60_000 });
  t.not(again, lease);
  const snapshot = supervisor.get("normal");
  t.is(snapshot.state, "running");
  t.is(snapshot.restarts, 1);
  t.regex(snapshot.lastError ?? "", /^killed by SIGKILL/);
  await supervisor.shutdown();
  await assertNoLeftovers(t, spawned);
});

test("lazy servers: discovered at start, IDLE after the idle timeout, started again on acquire", async (t) => {
  const clock = createManualClock();
  const { supervisor, spawned } = supervisorForTest(t, {
    servers: [nodeFixture("lazy", "normal-server.mjs", { startup: "lazy", idleTimeoutMs: 600_000 })],
    clock,
    // The manual clock jumps 700 s while a call waits: request timeouts and pings (which read the same clock) are
    // kept out of the way; supervisor-liveness.test.ts covers them.
    upstreamTimeouts: { toolCallMs: 3_600_000, quietMs: 3_600_000 },
  });
  await supervisor.start();
  const discovered = await waitForState(t, supervisor, "lazy", "running");
  const toolCount = discovered.toolCount;
  t.true(toolCount > 0);
  clock.advance(600_000);
  const idle = await waitForState(t, supervisor, "lazy", "idle");
  t.false(isPidRunning(discovered.pid!));
  t.is(idle.toolCount, toolCount, "catalog kept while idle");
  t.is(supervisor.catalog("lazy")?.tools.length, toolCount);
  const lease = await supervisor.acquire("lazy");
  const awake = supervisor.get("lazy");
  t.is(awake.state, "running");
  t.not(awake.pid, discovered.pid);
  // A request in flight keeps it running past the idle timeout.
  const slow = lease.request("tools/call", { name: "slow", arguments: { ms: 1500 } });
  clock.advance(700_000);
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.is(supervisor.get("lazy").state, "running");
  t.is(textOf(await slow), "waited 1500");
  clock.advance(600_000);
  await waitForState(t, supervisor, "lazy", "idle");
  await supervisor.shutdown();
  await assertNoLeftovers(t, spawned);
});

test("acquire is bounded and names the server when it is not ready in time", async (t) => {
  const clock = createManualClock();
  const { supervisor } = supervisorForTest(t, { servers: [nodeFixture("silent", "silent.mjs")], clock });
  await supervisor.start();
  const waiting = supervisor.acquire("silent", { timeoutMs: 5000 });
  clock.advance(5000);
  const error = await t.throwsAsync(waiting, { instanceOf: GatewayError });
  t.is(error?.message, 'server "silent" is not ready (starting) after 5s');
  const controller = new AbortController();
  const cancelled = supervisor.acquire("silent", { signal: controller.signal });
  controller.abort();
  t.is((await t.throwsAsync(cancelled, { instanceOf: GatewayError }))?.kind, "cancelled");
  await t.throwsAsync(supervisor.acquire("nope"), { message: 'server "nope" not found' });
});

test("logs: tail and follow, with supervisor notes", async (t) => {
  const { supervisor } = supervisorForTest(t, { servers: [nodeFixture("normal", "normal-server.mjs")] });
  await supervisor.start();
  const running = await waitForState(t, supervisor, "normal", "running");
  const tail = supervisor.log("normal").tail();
  t.deepEqual(tail[0].source, "supervisor");
  t.regex(tail[0].text, new RegExp(`^spawned pid ${running.pid}: `));
  t.true(tail.some((e) => e.source === "stderr" && e.text === `normal server ${running.pid} starting`));
  t.is(supervisor.log("normal").tail(1).length, 1);
  const followed: string[] = [];
  const unsubscribe = supervisor.log("normal").subscribe((entry) => followed.push(entry.text));
  const lease = await supervisor.acquire("normal");
  await lease.request("tools/call", { name: "crash", arguments: {} });
  t.true(await waitFor(() => followed.includes("exited with code 3")));
  t.true(followed.includes("crash tool called, exiting"));
  unsubscribe();
});

test("secrets: masked in logs and reasons, the child reads them, the daemon's env never reaches it", async (t) => {
  const canary = "canary-9f8e7d6c5b4a";
  process.env.DSGW_PARENT_CANARY = "parent-only-canary-value";
  t.teardown(() => delete process.env.DSGW_PARENT_CANARY);
  const { supervisor, spawned } = supervisorForTest(t, {
    servers: [
      nodeFixture("dump", "env-dump.mjs", { env: { SECRET_TOKEN: canary, SHORT: "abc" } }),
      nodeFixture("normal", "normal-server.mjs", { env: { API_TOKEN: canary } }, ["--name", canary]),
    ],
  });
  await supervisor.start();
  await waitForState(t, supervisor, "dump", "running");
  await waitForState(t, supervisor, "normal", "running");
  const lines = supervisor.log("dump").tail().map((entry) => entry.text);
  t.true(lines.includes("SECRET_TOKEN=***"));
  t.true(lines.includes("SHORT=abc"), "values under 4 characters are not masked");
  t.false(lines.some((line) => line.includes(canary)));
  t.false(lines.some((line) => line.includes("DSGW_PARENT_CANARY")));
  const names = textOf(await (await supervisor.acquire("dump")).request("tools/call", { name: "env_names", arguments: {} }));
  const allowed = new Set(["PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER", "LOGNAME", "SHELL", "TERM", "TZ", "SECRET_TOKEN", "SHORT"]);
  t.deepEqual(names.split(",").filter((name) => !allowed.has(name)), []);
  const normal = await supervisor.acquire("normal");
  t.is(textOf(await normal.request("tools/call", { name: "env_get", arguments: { name: "API_TOKEN" } })), canary);
  t.is(textOf(await normal.request("tools/call", { name: "env_get", arguments: { name: "DSGW_PARENT_CANARY" } })), "<unset>");
  const snapshot = supervisor.get("normal");
  t.deepEqual(snapshot.envNames, ["API_TOKEN"]);
  t.false(JSON.stringify(supervisor.list()).includes(canary), "snapshots never carry the value (argv masked too)");
  t.false(JSON.stringify(supervisor.log("normal").tail()).includes(canary));
  await supervisor.shutdown();
  await assertNoLeftovers(t, spawned);
});

test("disable escalates to SIGKILL for a server ignoring SIGTERM, grandchild included", async (t) => {
  const { supervisor, spawned } = supervisorForTest(t, {
    servers: [nodeFixture("stubborn", "stubborn.mjs")],
    stopTimeouts: { stdinGraceMs: 200, termGraceMs: 2000 },
  });
  await supervisor.start();
  const running = await waitForState(t, supervisor, "stubborn", "running");
  const line = supervisor.log("stubborn").tail().find((e) => e.text.startsWith("grandchild pid "));
  const grandchild = Number(line?.text.slice("grandchild pid ".length));
  t.true(isPidRunning(grandchild));
  await supervisor.disable("stubborn");
  t.false(isPidRunning(running.pid!));
  t.false(isPidRunning(grandchild));
  const log = supervisor.log("stubborn").tail().map((e) => e.text);
  t.true(log.includes("stubborn: ignoring SIGTERM"));
  t.true(log.includes("killed by SIGKILL"));
  await assertNoLeftovers(t, spawned);
});

test("replaceServers: removed stop, new start, changed restart with the new config, unchanged untouched", async (t) => {
  const keep = nodeFixture("keep", "normal-server.mjs");
  const change = nodeFixture("change", "normal-server.mjs", { env: { VALUE: "old-value" } });
  const drop = nodeFixture("drop", "normal-server.mjs");
  const { supervisor, spawned } = supervisorForTest(t, { servers: [keep, change, drop] });
  let serversEvents = 0;
  supervisor.on("servers", () => serversEvents++);
  await supervisor.start();
  const before = new Map<string, number>();
  for (const name of ["keep", "change", "drop"]) before.set(name, (await waitForState(t, supervisor, name, "running")).pid!);
  await supervisor.replaceServers([
    { ...keep, prefix: "kept" },
    { ...change, env: { VALUE: "new-value" } },
    nodeFixture("added", "normal-server.mjs"),
  ]);
  t.is(serversEvents, 1);
  t.deepEqual(
    supervisor.list().map((s) => s.name),
    ["added", "change", "keep"],
  );
  t.false(isPidRunning(before.get("drop")!));
  t.throws(() => supervisor.get("drop"), { message: 'server "drop" not found' });
  t.is(supervisor.get("keep").pid, before.get("keep"));
  t.is(supervisor.get("keep").prefix, "kept");
  await waitForState(t, supervisor, "change", "running");
  t.not(supervisor.get("change").pid, before.get("change"));
  const lease = await supervisor.acquire("change");
  t.is(textOf(await lease.request("tools/call", { name: "env_get", arguments: { name: "VALUE" } })), "new-value");
  await waitForState(t, supervisor, "added", "running");
  await supervisor.shutdown();
  await assertNoLeftovers(t, spawned);
});

test("a server that crashes after a while is restarted, and is RUNNING again", async (t) => {
  const { supervisor, spawned } = supervisorForTest(t, {
    servers: [nodeFixture("flaky", "crash-after.mjs", { env: { CRASH_AFTER_MS: "1500" } })],
    restartPolicy: { initialDelayMs: 50 },
  });
  const states: ServerState[] = [];
  let restartedAndRunning = false;
  supervisor.on("state", (snapshot) => {
    states.push(snapshot.state);
    if (snapshot.state === "running" && snapshot.restarts === 1) restartedAndRunning = true;
  });
  await supervisor.start();
  t.true(await waitFor(() => restartedAndRunning, 60_000));
  t.deepEqual(states.slice(0, 4), ["starting", "running", "backoff", "starting"]);
  // "1500" is a configured env value, so it is masked like any other.
  t.true(await waitFor(() => (supervisor.get("flaky").lastError ?? "").includes("crash-after")));
  t.regex(supervisor.get("flaky").lastError ?? "", /^exited with code 2\ncrash-after: exiting after \*\*\* ms/);
  await supervisor.shutdown();
  await assertNoLeftovers(t, spawned);
});

test("aborting a call through an acquired connection cancels it in the server process", async (t) => {
  const { supervisor } = supervisorForTest(t, { servers: [nodeFixture("normal", "normal-server.mjs")] });
  await supervisor.start();
  await waitForState(t, supervisor, "normal", "running");
  const lease = await supervisor.acquire("normal");
  const controller = new AbortController();
  const call = lease.request("tools/call", { name: "slow", arguments: { ms: 60_000 } }, { signal: controller.signal });
  await new Promise((resolve) => setTimeout(resolve, 200));
  controller.abort();
  t.is((await t.throwsAsync(call, { instanceOf: GatewayError }))?.kind, "cancelled");
  t.true(await waitFor(() => supervisor.log("normal").tail().some((entry) => entry.text === "slow: cancelled")));
  t.is(textOf(await lease.request("tools/call", { name: "echo", arguments: { text: "after" } })), "after");
});

test("a command that cannot be spawned at all ends FAILED with a clear reason, and enable retries it", async (t) => {
  const { supervisor } = supervisorForTest(t, { servers: [serverConfig("bad", process.execPath, ["a\u0000b"])] });
  await supervisor.start();
  const failed = supervisor.get("bad");
  t.is(failed.state, "failed");
  t.regex(failed.lastError ?? "", /^could not start: /);
  await t.throwsAsync(supervisor.acquire("bad"), { message: 'server "bad" is failed; see `dsctl servers logs bad` for why' });
  t.is((await supervisor.enable("bad")).state, "failed");
});

test("disable while backing off cancels the restart; restart while starting replaces the process", async (t) => {
  const clock = createManualClock();
  const { supervisor, spawned } = supervisorForTest(t, {
    servers: [nodeFixture("broken", "crash-on-start.mjs"), nodeFixture("silent", "silent.mjs", { startupTimeoutMs: 86_400_000 })],
    clock,
    random: () => 0.5,
  });
  await supervisor.start();
  await waitForState(t, supervisor, "broken", "backoff");
  const disabled = await supervisor.disable("broken");
  t.is(disabled.state, "stopped");
  t.is(disabled.nextStartAt, undefined);
  clock.advance(3_600_000);
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.is(supervisor.get("broken").state, "stopped", "the cancelled back-off never fires");
  const first = supervisor.get("silent");
  t.is(first.state, "starting");
  const restarted = await supervisor.restart("silent");
  t.is(restarted.state, "starting");
  t.not(restarted.pid, first.pid);
  t.false(isPidRunning(first.pid!));
  await supervisor.shutdown();
  await assertNoLeftovers(t, spawned);
});
