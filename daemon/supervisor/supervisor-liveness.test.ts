import test, { type ExecutionContext } from "ava";
import { GatewayError } from "../errors.js";
import { killProcessGroup } from "./child-process.js";
import { nodeFixture, supervisorForTest, waitFor, waitForState } from "./test-support.js";
import type { ServerState } from "./types.js";

/**
 * A hung server must not hang its callers: a real server process is stopped with SIGSTOP in
 * the middle of a call. The caller gets a clear error within bounds, the server is marked
 * UNHEALTHY, killed, restarted with back-off, and serves the next call. Real time with small
 * configured timeouts; every wait has a generous bound.
 */

const textOf = (result: Record<string, unknown>): string => (result.content as Array<{ text: string }>)[0].text;

/** SIGSTOPs a server's process group; at teardown continues and kills it, whatever the test did. */
function freeze(t: ExecutionContext, pid: number): void {
  t.teardown(() => {
    killProcessGroup(pid, "SIGCONT");
    killProcessGroup(pid, "SIGKILL");
  });
  t.true(killProcessGroup(pid, "SIGSTOP"));
}

/** Records the state changes of one server. */
function stateLog(supervisor: { on(event: "state", listener: (snapshot: { name: string; state: ServerState }) => void): unknown }, name: string) {
  const states: ServerState[] = [];
  supervisor.on("state", (snapshot) => {
    if (snapshot.name === name && states.at(-1) !== snapshot.state) states.push(snapshot.state);
  });
  return states;
}

test("SIGSTOP mid-call: the caller times out, the server turns UNHEALTHY, is restarted, and the next call works", async (t) => {
  const { supervisor } = supervisorForTest(t, {
    servers: [nodeFixture("frozen", "normal-server.mjs", { requestTimeoutMs: 1_500 })],
    upstreamTimeouts: { quietMs: 60_000, pingMs: 1_000 },
    restartPolicy: { initialDelayMs: 200, jitter: 0 },
  });
  const states = stateLog(supervisor, "frozen");
  await supervisor.start();
  const running = await waitForState(t, supervisor, "frozen", "running");
  const connection = await supervisor.acquire("frozen");
  const startedAt = Date.now();
  const call = connection.request("tools/call", { name: "slow", arguments: { ms: 120_000 } });
  freeze(t, running.pid!);
  const error = await t.throwsAsync(call, { instanceOf: GatewayError });
  const elapsed = Date.now() - startedAt;
  t.is(error?.kind, "deadline_exceeded");
  t.is(error?.message, 'tools/call on server "frozen" timed out: no answer within 1.5s');
  t.true(elapsed >= 1_400 && elapsed < 30_000, `answered after ${elapsed} ms`);
  // The timeout made the connection ping the server; the frozen process cannot answer.
  t.true(await waitFor(() => states.includes("unhealthy"), 30_000), `states: ${states.join(" → ")}`);
  const restarted = await waitFor(() => supervisor.get("frozen").state === "running" && supervisor.get("frozen").pid !== running.pid, 60_000);
  t.true(restarted, `not running again: ${JSON.stringify(supervisor.get("frozen"))}`);
  const snapshot = supervisor.get("frozen");
  t.is(snapshot.restarts, 1);
  t.regex(snapshot.lastError ?? "", /^stopped responding: no answer to a ping within 1s/);
  t.deepEqual(states.slice(states.indexOf("unhealthy")), ["unhealthy", "backoff", "starting", "running"]);
  const fresh = await supervisor.acquire("frozen");
  t.is(textOf(await fresh.request("tools/call", { name: "echo", arguments: { text: "alive again" } })), "alive again");
  t.true(supervisor.log("frozen").tail().some((entry) => entry.text.includes("unhealthy, restarting it")));
});

test("SIGSTOP with a long call: the liveness ping finds it hung and the waiting caller is told it is being restarted", async (t) => {
  const { supervisor } = supervisorForTest(t, {
    servers: [nodeFixture("frozen", "normal-server.mjs")],
    upstreamTimeouts: { quietMs: 500, pingMs: 1_000 },
    restartPolicy: { initialDelayMs: 200, jitter: 0 },
  });
  const states = stateLog(supervisor, "frozen");
  await supervisor.start();
  const running = await waitForState(t, supervisor, "frozen", "running");
  const connection = await supervisor.acquire("frozen");
  const startedAt = Date.now();
  const call = connection.request("tools/call", { name: "slow", arguments: { ms: 120_000 } });
  freeze(t, running.pid!);
  const error = await t.throwsAsync(call, { instanceOf: GatewayError });
  const elapsed = Date.now() - startedAt;
  t.is(error?.kind, "unavailable");
  t.is(error?.message, 'server "frozen" stopped responding (no answer to a ping within 1s); it is being restarted');
  t.true(elapsed >= 1_400 && elapsed < 30_000, `answered after ${elapsed} ms (5 min tool-call timeout not needed)`);
  t.true(states.includes("unhealthy"));
  await waitFor(() => supervisor.get("frozen").state === "running" && supervisor.get("frozen").pid !== running.pid, 60_000);
  t.is(supervisor.get("frozen").state, "running");
  const fresh = await supervisor.acquire("frozen");
  t.is(textOf(await fresh.request("tools/call", { name: "echo", arguments: { text: "back" } })), "back");
});

test("a busy but healthy server is pinged while a call waits and is left alone", async (t) => {
  const { supervisor } = supervisorForTest(t, {
    servers: [nodeFixture("busy", "normal-server.mjs")],
    upstreamTimeouts: { quietMs: 200, pingMs: 2_000 },
  });
  const states = stateLog(supervisor, "busy");
  await supervisor.start();
  await waitForState(t, supervisor, "busy", "running");
  const connection = await supervisor.acquire("busy");
  const result = await connection.request("tools/call", { name: "slow", arguments: { ms: 1_500 } });
  t.is(textOf(result), "waited 1500");
  t.false(states.includes("unhealthy"));
  t.is(supervisor.get("busy").restarts, 0);
});

test("a changed requestTimeout applies to the running server's next calls without a restart", async (t) => {
  const { supervisor } = supervisorForTest(t, { servers: [nodeFixture("tuned", "normal-server.mjs")] });
  await supervisor.start();
  const before = await waitForState(t, supervisor, "tuned", "running");
  await supervisor.replaceServers([nodeFixture("tuned", "normal-server.mjs", { requestTimeoutMs: 500 })]);
  const connection = await supervisor.acquire("tuned");
  const error = await t.throwsAsync(connection.request("tools/call", { name: "slow", arguments: { ms: 10_000 } }), { instanceOf: GatewayError });
  t.is(error?.message, 'tools/call on server "tuned" timed out: no answer within 500ms');
  const after = supervisor.get("tuned");
  t.is(after.pid, before.pid, "not restarted");
  t.is(after.state, "running", "it answers pings: one slow call is no reason to restart it");
  t.true(await waitFor(() => supervisor.log("tuned").tail().some((entry) => entry.text === "slow: cancelled"), 30_000), "the call was cancelled in the server");
});
