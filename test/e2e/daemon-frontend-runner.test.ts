import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import { silentLogger } from "../../shared/logger.js";
import { createFrontendRunner, type FrontendConfig, type FrontendStatus } from "../../daemon/frontend-runner.js";
import { parseListeningLine } from "../../shared/frontend-contract.js";
import { isAlive, tempHome, waitUntil } from "./helpers/daemon-process.js";

// The frontend runner with small real stand-in programs: the process contract (environment,
// the listening line), restart with back-off, the ready timeout, and stop.

const config: FrontendConfig = {
  host: "127.0.0.1",
  port: 0,
  controlSocket: "/tmp/none.sock",
  allowedOrigins: ["http://x.localhost"],
  clientAuth: "none",
  sessionIdleTimeoutMs: 1000,
  maxSessions: 3,
};

function script(folder: string, name: string, body: string): string {
  const path = join(folder, name);
  writeFileSync(path, body);
  return path;
}

test("the listening line is parsed strictly", (t) => {
  t.is(parseListeningLine('{"event":"listening","port":9095}'), 9095);
  t.is(parseListeningLine('{"event":"listening","port":0}'), undefined);
  t.is(parseListeningLine('{"event":"other","port":1}'), undefined);
  t.is(parseListeningLine("listening on 9095"), undefined);
});

test("not built: an honest not-running status and nothing spawned", (t) => {
  const home = tempHome(t);
  const runner = createFrontendRunner({ config, home, logger: silentLogger, entry: join(home, "missing.js") });
  runner.start();
  t.deepEqual(runner.status(), { built: false, running: false, port: undefined, pid: undefined, restarts: 0 });
});

test("the frontend gets its config and a minimal environment, reports its port, and is stopped", async (t) => {
  const home = tempHome(t);
  const envOut = join(home, "env.json");
  const entry = script(
    home,
    "frontend.mjs",
    `import { writeFileSync } from "node:fs";
writeFileSync(${JSON.stringify(envOut)}, JSON.stringify(process.env));
process.stdout.write(JSON.stringify({ event: "listening", port: 4321 }) + "\\n");
setInterval(() => {}, 1000);
process.on("SIGTERM", () => process.exit(0));`,
  );
  process.env.DSGW_TEST_DAEMON_ONLY = "must-not-leak";
  t.teardown(() => delete process.env.DSGW_TEST_DAEMON_ONLY);
  const changes: FrontendStatus[] = [];
  const spawned: number[] = [];
  const runner = createFrontendRunner({
    config,
    home,
    logger: silentLogger,
    entry,
    onChange: (status) => changes.push(status),
    onProcess: (event, pid) => event === "spawned" && spawned.push(pid),
  });
  t.teardown(() => runner.stop());
  runner.start();
  t.true(await waitUntil(() => runner.status().running));
  const status = runner.status();
  t.is(status.port, 4321);
  t.is(status.pid, spawned[0]);
  t.true(changes.some((change) => change.running && change.port === 4321));
  const env = JSON.parse(readFileSync(envOut, "utf8")) as Record<string, string | undefined>;
  t.is(env.DEPLOYSTACK_HOME, home);
  t.deepEqual(JSON.parse(env.DEPLOYSTACK_FRONTEND_CONFIG ?? "{}"), config);
  t.is(env.DSGW_TEST_DAEMON_ONLY, undefined);

  await runner.stop();
  t.false(isAlive(spawned[0]));
  t.false(runner.status().running);
  await new Promise((r) => setTimeout(r, 300));
  t.is(spawned.length, 1, "no restart after stop");
});

test("a frontend that dies is restarted with back-off; one that never reports is replaced", async (t) => {
  const home = tempHome(t);
  const counter = join(home, "count");
  writeFileSync(counter, "0");
  // Dies twice at start, then serves.
  const entry = script(
    home,
    "flaky.mjs",
    `import { readFileSync, writeFileSync } from "node:fs";
const n = Number(readFileSync(${JSON.stringify(counter)}, "utf8")) + 1;
writeFileSync(${JSON.stringify(counter)}, String(n));
if (n <= 2) process.exit(3);
process.stdout.write(JSON.stringify({ event: "listening", port: 5000 + n }) + "\\n");
setInterval(() => {}, 1000);`,
  );
  const runner = createFrontendRunner({ config, home, logger: silentLogger, entry, backoff: { initialMs: 50, maxMs: 200 } });
  t.teardown(() => runner.stop());
  runner.start();
  t.true(await waitUntil(() => runner.status().running));
  t.is(runner.status().port, 5003);
  t.is(runner.status().restarts, 2);

  const silentEntry = script(home, "silent.mjs", "setInterval(() => {}, 1000);");
  const spawned: number[] = [];
  const silent = createFrontendRunner({
    config,
    home,
    logger: silentLogger,
    entry: silentEntry,
    readyTimeoutMs: 300,
    backoff: { initialMs: 50, maxMs: 100 },
    onProcess: (event, pid) => event === "spawned" && spawned.push(pid),
  });
  t.teardown(() => silent.stop());
  silent.start();
  t.true(await waitUntil(() => spawned.length >= 2));
  t.false(silent.status().running);
  await silent.stop();
  t.true(await waitUntil(() => spawned.every((pid) => !isAlive(pid))));
});
