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

const host = (port: number) => ({ host: `localhost:${port}` });
const ping = (port: number, sid: string, id = 1) =>
  send(port, {
    method: "POST",
    headers: mcpHeaders(port, { "mcp-session-id": sid, accept: "application/json" }),
    body: JSON.stringify({ jsonrpc: "2.0", id, method: "ping" }),
  });
const openGet = async (port: number, sid: string) =>
  new SseReader(await open(port, { method: "GET", headers: { ...host(port), accept: "text/event-stream", "mcp-session-id": sid } }));

test("at the cap the least recently used idle session is evicted (never-used ones first) and answers 404 next time", async (t) => {
  let now = 1_000_000;
  const { daemon, fe } = await setup(t, { maxSessions: 3 }, { now: () => now });
  const a = await initializeSession(fe.port);
  now += 10;
  const b = await initializeSession(fe.port);
  now += 10;
  const c = await initializeSession(fe.port);
  now += 10;
  // a and c are used (a request after initialize), c more recently; b never was, though it is not the oldest.
  t.is((await ping(fe.port, a)).status, 200);
  now += 10;
  t.is((await ping(fe.port, c)).status, 200);
  now += 10;
  const d = await initializeSession(fe.port);
  t.is(fe.sessions.size, 3);
  t.is((await ping(fe.port, b)).status, 404, "the never-used session went first");
  t.is((await ping(fe.port, d)).status, 200);
  now += 10;
  // Now every session is used: d (pinged just now) and c are newer than a, so a goes.
  t.is((await ping(fe.port, c)).status, 200);
  now += 10;
  await initializeSession(fe.port);
  t.is((await ping(fe.port, a)).status, 404, "the least recently used session was evicted");
  t.is((await ping(fe.port, c)).status, 200);
  t.is((await ping(fe.port, d)).status, 200);
  const record = daemon.records.find((r) => r.sessionId === a);
  await waitFor(() => record?.closed === true);
  t.true(record?.closed, "the evicted session's daemon stream was closed");
});

test("503 only when every session has work in flight; a session with an open stream or a pending call is never evicted", async (t) => {
  const { daemon, fe } = await setup(t, { maxSessions: 2 });
  const streaming = await initializeSession(fe.port);
  const calling = await initializeSession(fe.port);
  const get = await openGet(fe.port, streaming);
  const slow = send(fe.port, {
    method: "POST",
    headers: mcpHeaders(fe.port, { "mcp-session-id": calling, accept: "application/json" }),
    body: JSON.stringify({ jsonrpc: "2.0", id: 9, method: "slow" }),
  });
  await waitFor(() => daemon.control.held === 1);
  const refused = await send(fe.port, { method: "POST", headers: mcpHeaders(fe.port), body: initializeBody() });
  t.is(refused.status, 503);
  t.regex(JSON.parse(refused.body).error.message, /too many sessions: the gateway serves at most 2 at once and every one has work in flight/);
  t.truthy(refused.headers["retry-after"]);
  t.is(refused.headers["mcp-session-id"], undefined);
  const sse = await send(fe.port, { path: "/sse", headers: host(fe.port) });
  t.is(sse.status, 503);
  daemon.control.release();
  t.is((await slow).status, 200);
  // The finished call made its session idle: the next client takes its slot, the streaming one stays.
  await initializeSession(fe.port);
  t.is((await ping(fe.port, calling)).status, 404);
  t.is((await ping(fe.port, streaming)).status, 200);
  get.close();
});

test("a failed initialize creates no session: no Mcp-Session-Id, no slot, and its daemon stream is closed", async (t) => {
  const { daemon, fe } = await setup(t, { maxSessions: 1 });
  const bad = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { capabilities: {} } });
  for (const accept of ["application/json", "text/event-stream", "application/json, text/event-stream"]) {
    const res = await send(fe.port, { method: "POST", headers: mcpHeaders(fe.port, { accept }), body: bad });
    t.is(res.status, 200, accept);
    t.is(res.headers["mcp-session-id"], undefined, accept);
    const text = String(res.headers["content-type"]).startsWith("text/event-stream") ? res.body.split("\n").find((line) => line.startsWith("data: {"))!.slice(6) : res.body;
    t.is(JSON.parse(text).error.code, -32602, accept);
  }
  t.is(fe.sessions.size, 0);
  await waitFor(() => daemon.records.length === 3 && daemon.records.every((r) => r.closed));
  t.true(daemon.records.every((r) => r.closed));
  // The one slot is free for a real client.
  const sid = await initializeSession(fe.port);
  t.is((await ping(fe.port, sid)).status, 200);
});

test("an initialize inside a batch is refused with 400 and creates nothing", async (t) => {
  const { daemon, fe } = await setup(t);
  const res = await send(fe.port, { method: "POST", headers: mcpHeaders(fe.port), body: `[${initializeBody()}]` });
  t.is(res.status, 400);
  t.regex(JSON.parse(res.body).error.message, /initialize must not be part of a batch/);
  t.is(res.headers["mcp-session-id"], undefined);
  t.is(daemon.records.length, 0);
});

test("a session not used after initialize expires after the short init timeout; a used one keeps the idle timeout", async (t) => {
  let now = 0;
  const { fe } = await setup(t, { sessionInitTimeoutMs: 60_000, sessionIdleTimeoutMs: 30 * 60_000 }, { now: () => now });
  const unused = await initializeSession(fe.port);
  const used = await initializeSession(fe.port);
  t.is((await ping(fe.port, used)).status, 200);
  // A notification is not a use: it cannot keep an unused session alive.
  const note = await send(fe.port, {
    method: "POST",
    headers: mcpHeaders(fe.port, { "mcp-session-id": unused }),
    body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
  });
  t.is(note.status, 202);
  now += 60_001;
  t.is(fe.sessions.sweep(), 1);
  t.is((await ping(fe.port, unused)).status, 404);
  t.is((await ping(fe.port, used)).status, 200);
  // Opening the standalone GET stream counts as use.
  const streamer = await initializeSession(fe.port);
  const get = await openGet(fe.port, streamer);
  now += 120_000;
  fe.sessions.sweep();
  t.truthy(fe.sessions.get(streamer));
  get.close();
});

test("legacy SSE: a stream with no request after initialize ends after the init timeout and can be evicted; a used one is busy", async (t) => {
  let now = 0;
  const { fe } = await setup(t, { sessionInitTimeoutMs: 60_000, maxSessions: 2 }, { now: () => now });
  const openSse = async () => {
    const reader = new SseReader(await open(fe.port, { path: "/sse", headers: host(fe.port) }));
    const endpoint = await reader.nextData();
    return { reader, path: endpoint!.data };
  };
  const post = (path: string, body: string) =>
    send(fe.port, { method: "POST", path, headers: { ...host(fe.port), "content-type": "application/json" }, body });
  const idle = await openSse();
  const active = await openSse();
  t.is((await post(active.path, initializeBody("2024-11-05"))).status, 202);
  t.is((await active.reader.nextData())?.event, "message");
  t.is((await post(active.path, JSON.stringify({ jsonrpc: "2.0", id: 2, method: "ping" }))).status, 202);
  t.is((await active.reader.nextData())?.event, "message");
  // At the cap, the unused stream is evicted for a newcomer; the used one is busy (its stream is its session).
  const third = await openSse();
  t.is(await idle.reader.nextData(), undefined, "the evicted stream ended");
  t.is((await post(idle.path, JSON.stringify({ jsonrpc: "2.0", id: 3, method: "ping" }))).status, 404);
  now += 60_001;
  fe.sessions.sweep();
  t.is(await third.reader.nextData(), undefined, "an unused stream ends after the init timeout");
  t.is((await post(active.path, JSON.stringify({ jsonrpc: "2.0", id: 4, method: "ping" }))).status, 202);
  active.reader.close();
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
  const { fe } = await setup(t, { sessionIdleTimeoutMs: 1000, sessionInitTimeoutMs: 1000, maxSessions: 2 }, { now: () => now });
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
