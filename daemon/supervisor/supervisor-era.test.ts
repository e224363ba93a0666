import test from "ava";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { assertNoLeftovers, nodeFixture, serverConfig, serverEverythingPath, supervisorForTest, tempHome, waitFor, waitForState } from "./test-support.js";
import type { ServerState } from "./types.js";

/**
 * The era of each server is detected at its first start (a `server/discover` probe on the real
 * process, falling back to `initialize`), recorded in its snapshot, and reused by later starts
 * of the same configuration; a legacy server that dies of the probe is restarted once as
 * legacy without counting a crash.
 */

const logText = (supervisor: ReturnType<typeof supervisorForTest>["supervisor"], name: string): string =>
  supervisor
    .log(name)
    .tail()
    .map((entry) => `${entry.source}: ${entry.text}`)
    .join("\n");

test("server-everything (legacy) starts at once on its first process and is recorded legacy", async (t) => {
  const { supervisor, spawned } = supervisorForTest(t, {
    servers: [serverConfig("everything", process.execPath, [serverEverythingPath, "stdio"])],
  });
  const started = Date.now();
  await supervisor.start();
  const running = await waitForState(t, supervisor, "everything", "running");
  t.is(running.era, "legacy");
  t.is(running.identity?.era, "legacy");
  t.is(running.identity?.protocolVersion, "2025-11-25");
  t.is(running.restarts, 0);
  t.is(spawned.size, 1, "the probe was answered in the process itself: no second process");
  t.notRegex(logText(supervisor, "everything"), /starting it again/);
  // It answered the probe with an error at once: no probe bound was waited out.
  t.true(Date.now() - started < 4_000, `started in ${Date.now() - started} ms`);
  await supervisor.shutdown();
  await assertNoLeftovers(t, spawned);
});

test("a legacy server that exits on the probe still starts: once more as legacy, no crash counted; later starts skip the probe", async (t) => {
  const { supervisor, spawned } = supervisorForTest(t, {
    servers: [nodeFixture("fragile", "legacy-fragile.mjs", {}, ["--before-init", "exit"])],
  });
  const states: ServerState[] = [];
  supervisor.on("state", (snapshot) => states.push(snapshot.state));
  await supervisor.start();
  const running = await waitForState(t, supervisor, "fragile", "running");
  t.is(running.era, "legacy");
  t.is(running.restarts, 0);
  t.is(running.lastError, undefined);
  t.deepEqual(states, ["starting", "running"], "one start as far as observers can tell");
  const log = logText(supervisor, "fragile");
  t.regex(log, /server\/discover before initialize \(exit\)/);
  t.regex(log, /starting it again as a legacy server \(not counted as a crash\)/);
  t.is(log.match(/before initialize/g)?.length, 1);

  const restarted = await supervisor.restart("fragile");
  t.is(restarted.state, "starting");
  const again = await waitForState(t, supervisor, "fragile", "running");
  t.is(again.era, "legacy");
  t.is(logText(supervisor, "fragile").match(/before initialize/g)?.length, 1, "the known era is used: no second probe");
  await supervisor.shutdown();
  await assertNoLeftovers(t, spawned);
});

test("a legacy server wedged by the probe is restarted once as legacy and runs", async (t) => {
  const { supervisor, spawned } = supervisorForTest(t, {
    servers: [nodeFixture("wedged", "legacy-fragile.mjs", {}, ["--before-init", "wedge"])],
    eraProbeTimeoutMs: 300,
  });
  await supervisor.start();
  const running = await waitForState(t, supervisor, "wedged", "running");
  t.is(running.era, "legacy");
  t.is(running.restarts, 0);
  t.regex(logText(supervisor, "wedged"), /did not survive the server\/discover probe/);
  await supervisor.shutdown();
  await assertNoLeftovers(t, spawned);
});

test("a modern server (SDK v2, modern only) is detected modern: identity from server/discover, catalog discovered", async (t) => {
  const { supervisor, spawned } = supervisorForTest(t, {
    servers: [nodeFixture("modern", "modern-server.mjs", {}, ["--name", "fixture-modern"])],
  });
  await supervisor.start();
  const running = await waitForState(t, supervisor, "modern", "running");
  t.is(running.era, "modern");
  t.is(running.identity?.protocolVersion, "2026-07-28");
  t.is(running.identity?.serverInfo.name, "fixture-modern");
  t.is(running.toolCount, 7);
  t.regex(logText(supervisor, "modern"), /running: fixture-modern 2\.0\.0 \(protocol 2026-07-28\)/);
  const connection = await supervisor.acquire("modern");
  const result = await connection.request("tools/call", { name: "echo", arguments: { text: "through the supervisor" } });
  t.is(result.resultType, "complete");
  // A restart reuses the known era (no probe needed) and is still modern.
  await supervisor.restart("modern");
  const again = await waitForState(t, supervisor, "modern", "running");
  t.is(again.era, "modern");
  await supervisor.shutdown();
  await assertNoLeftovers(t, spawned);
});

test("a changed configuration forgets the known era and probes again", async (t) => {
  // A legacy server that dies on the probe: no probe timeout is involved, so the modern server's probe below has the
  // default's time to answer (a short timeout failed it on a loaded machine).
  const legacy = nodeFixture("switch", "legacy-fragile.mjs", {}, ["--before-init", "exit"]);
  const { supervisor, spawned } = supervisorForTest(t, { servers: [legacy] });
  await supervisor.start();
  t.is((await waitForState(t, supervisor, "switch", "running")).era, "legacy");
  await supervisor.replaceServers([nodeFixture("switch", "modern-server.mjs")]);
  const modern = await waitForState(t, supervisor, "switch", "running");
  t.is(modern.era, "modern");
  t.notRegex(logText(supervisor, "switch"), /refused initialize/, "probed at once, not started as legacy first");
  await supervisor.shutdown();
  await assertNoLeftovers(t, spawned);
});

test("a known era that no longer holds (a legacy server now modern, same configuration) is forgotten and probed again", async (t) => {
  const modeFile = join(tempHome(t), "mode");
  writeFileSync(modeFile, "legacy");
  const { supervisor, spawned } = supervisorForTest(t, {
    servers: [nodeFixture("switch", "era-switch.mjs", {}, ["--mode-file", modeFile])],
    restartPolicy: { initialDelayMs: 100, maxCrashes: 5, windowMs: 60_000 },
  });
  await supervisor.start();
  t.is((await waitForState(t, supervisor, "switch", "running")).era, "legacy");
  writeFileSync(modeFile, "modern");
  await supervisor.restart("switch");
  // The known (legacy) era is tried first: the server refuses initialize with -32022, so the next start probes.
  const modern = await waitFor(() => supervisor.get("switch").state === "running" && supervisor.get("switch").era === "modern", 30_000);
  t.true(modern, JSON.stringify(supervisor.get("switch")));
  t.regex(logText(supervisor, "switch"), /refused initialize: Unsupported protocol version/);
  await supervisor.shutdown();
  await assertNoLeftovers(t, spawned);
});

test("an era the tool cache remembers (knownEra) skips the probe on the first start; asked once per configuration", async (t) => {
  const asked: string[] = [];
  const { supervisor, spawned } = supervisorForTest(t, {
    servers: [nodeFixture("fragile", "legacy-fragile.mjs", {}, ["--before-init", "exit"])],
    knownEra: (config) => {
      asked.push(config.name);
      return "legacy";
    },
  });
  await supervisor.start();
  const running = await waitForState(t, supervisor, "fragile", "running");
  t.is(running.era, "legacy");
  t.is(running.restarts, 0);
  t.is(spawned.size, 1, "one process: no probe cost it its start");
  t.notRegex(logText(supervisor, "fragile"), /before initialize/, "the server received no request before initialize");
  await supervisor.restart("fragile");
  await waitForState(t, supervisor, "fragile", "running");
  t.deepEqual(asked, ["fragile"], "asked before the first start only");
  await supervisor.shutdown();
  await assertNoLeftovers(t, spawned);
});

test("a remembered era that is wrong (a modern server remembered legacy) is forgotten and the server probed", async (t) => {
  const { supervisor, spawned } = supervisorForTest(t, {
    servers: [nodeFixture("modern", "modern-server.mjs")],
    knownEra: () => "legacy",
    restartPolicy: { initialDelayMs: 100, maxCrashes: 5, windowMs: 60_000 },
  });
  await supervisor.start();
  const modern = await waitFor(() => supervisor.get("modern").state === "running" && supervisor.get("modern").era === "modern", 30_000);
  t.true(modern, JSON.stringify(supervisor.get("modern")));
  await supervisor.shutdown();
  await assertNoLeftovers(t, spawned);
});
