import test from "ava";
import { type ScriptedDaemon, startScriptedDaemon } from "../testing/scripted-daemon.js";
import { SseReader, type TestFrontend, initializeBody, initializeSession, mcpHeaders, open, send, startTestFrontend, waitFor } from "../testing/harness.js";
import { SESSION_ID_BYTES, SESSION_ID_PATTERN, createSessionId } from "./session-id.js";

test("session ids are 256 random bits in base64url, taken from the injected source", (t) => {
  const fixed = Buffer.alloc(SESSION_ID_BYTES, 0xff);
  t.is(createSessionId(() => fixed), "_".repeat(42) + "8");
  const seen = new Set<string>();
  const counts = new Array<number>(64).fill(0);
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (let i = 0; i < 4000; i++) {
    const id = createSessionId();
    t.regex(id, SESSION_ID_PATTERN);
    seen.add(id);
    for (const ch of id.slice(0, 42)) counts[alphabet.indexOf(ch)]++;
  }
  t.is(seen.size, 4000);
  // 42 full 6-bit characters per id: every symbol ~2625 times; a broken source (constant, 8-bit-only) is far off.
  const expected = (4000 * 42) / 64;
  for (const count of counts) t.true(Math.abs(count - expected) < expected * 0.2);
});

async function setup(t: import("ava").ExecutionContext, settings = {}, clock?: { now(): number }): Promise<{ daemon: ScriptedDaemon; fe: TestFrontend }> {
  const daemon = await startScriptedDaemon();
  const fe = await startTestFrontend({ socketPath: daemon.socketPath, settings, clock });
  t.teardown(async () => {
    await fe.close();
    await daemon.dispose();
  });
  return { daemon, fe };
}

test("past maxSessions a new session gets 503 with a clear JSON body; ending one makes room", async (t) => {
  const { fe } = await setup(t, { maxSessions: 2 });
  const a = await initializeSession(fe.port);
  await initializeSession(fe.port);
  const refused = await send(fe.port, { method: "POST", headers: mcpHeaders(fe.port), body: initializeBody() });
  t.is(refused.status, 503);
  t.regex(JSON.parse(refused.body).error.message, /too many sessions: the gateway serves at most 2 at once/);
  t.truthy(refused.headers["retry-after"]);
  const sse = await send(fe.port, { path: "/sse", headers: { host: `localhost:${fe.port}` } });
  t.is(sse.status, 503);
  await send(fe.port, { method: "DELETE", headers: { host: `localhost:${fe.port}`, "mcp-session-id": a } });
  await initializeSession(fe.port);
  t.is(fe.sessions.size, 2);
});

test("a session idle past the timeout is gone (404) by the injected clock; traffic refreshes it", async (t) => {
  let now = 1_000_000;
  const { daemon, fe } = await setup(t, { sessionIdleTimeoutMs: 60_000 }, { now: () => now });
  const sid = await initializeSession(fe.port);
  const ping = (id: number) =>
    send(fe.port, { method: "POST", headers: mcpHeaders(fe.port, { "mcp-session-id": sid, accept: "application/json" }), body: JSON.stringify({ jsonrpc: "2.0", id, method: "ping" }) });
  now += 50_000;
  t.is((await ping(1)).status, 200);
  now += 50_000;
  t.is((await ping(2)).status, 200, "the ping 50 s ago refreshed the session");
  now += 60_001;
  t.is((await ping(3)).status, 404);
  t.is(fe.sessions.size, 0);
  await waitFor(() => daemon.records[0].closed);
  t.true(daemon.records[0].closed, "the daemon stream was closed");
});

test("an open stream keeps a session alive; sweep() ends idle ones and frees their slot", async (t) => {
  let now = 0;
  const { fe } = await setup(t, { sessionIdleTimeoutMs: 1000, maxSessions: 2 }, { now: () => now });
  const streaming = await initializeSession(fe.port);
  const idle = await initializeSession(fe.port);
  const get = new SseReader(await open(fe.port, { method: "GET", headers: { host: `localhost:${fe.port}`, accept: "text/event-stream", "mcp-session-id": streaming } }));
  now += 5000;
  t.is(fe.sessions.sweep(), 1);
  t.truthy(fe.sessions.get(streaming));
  t.is(fe.sessions.get(idle), undefined);
  await initializeSession(fe.port);
  get.close();
});
