import test from "ava";
import { type ScriptedDaemon, startScriptedDaemon } from "./testing/scripted-daemon.js";
import { SseReader, type TestFrontend, initializeBody, initializeSession, mcpHeaders, open, send, startTestFrontend } from "./testing/harness.js";
import { SESSION_ID_PATTERN } from "./session/session-id.js";

async function setup(t: import("ava").ExecutionContext, settings = {}): Promise<{ daemon: ScriptedDaemon; fe: TestFrontend }> {
  const daemon = await startScriptedDaemon();
  const fe = await startTestFrontend({ socketPath: daemon.socketPath, settings });
  t.teardown(async () => {
    await fe.close();
    await daemon.dispose();
  });
  return { daemon, fe };
}

test("initialize over SSE creates a session, answers on the POST stream and reports it to the daemon", async (t) => {
  const { daemon, fe } = await setup(t);
  const res = await open(fe.port, { method: "POST", headers: mcpHeaders(fe.port), body: initializeBody("2025-06-18") });
  t.is(res.statusCode, 200);
  t.is(res.headers["content-type"], "text/event-stream");
  const id = res.headers["mcp-session-id"];
  t.regex(String(id), SESSION_ID_PATTERN);
  const events = await new SseReader(res).rest();
  t.is(events.length, 1);
  t.is(events[0].id, "1-1");
  t.deepEqual(JSON.parse(events[0].data).result.protocolVersion, "2025-06-18");
  t.is(daemon.records.length, 1);
  t.is(daemon.records[0].sessionId, id);
  t.deepEqual(daemon.records[0].exchangeIds, [1]);
  t.is(fe.sessions.size, 1);
});

test("JSON mode: a client accepting only application/json gets one JSON body, a batch gets an array", async (t) => {
  const { fe } = await setup(t);
  const sid = await initializeSession(fe.port);
  const headers = mcpHeaders(fe.port, { accept: "application/json", "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25" });
  const single = await send(fe.port, { method: "POST", headers, body: JSON.stringify({ jsonrpc: "2.0", id: 7, method: "echo", params: { a: 1 } }) });
  t.is(single.status, 200);
  t.regex(String(single.headers["content-type"]), /^application\/json/);
  t.deepEqual(JSON.parse(single.body), { jsonrpc: "2.0", id: 7, result: { a: 1 } });
  const batch = await send(fe.port, {
    method: "POST",
    headers,
    body: JSON.stringify([
      { jsonrpc: "2.0", id: 1, method: "ping" },
      { jsonrpc: "2.0", method: "notifications/initialized" },
      { jsonrpc: "2.0", id: 2, method: "echo", params: { b: 2 } },
    ]),
  });
  t.is(batch.status, 200);
  const answers = JSON.parse(batch.body) as Array<{ id: number }>;
  t.deepEqual(answers.map((a) => a.id).sort(), [1, 2]);
});

test("a POST holding only notifications or responses gets 202 with no body", async (t) => {
  const { daemon, fe } = await setup(t);
  const sid = await initializeSession(fe.port);
  const result = await send(fe.port, {
    method: "POST",
    headers: mcpHeaders(fe.port, { "mcp-session-id": sid }),
    body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
  });
  t.is(result.status, 202);
  t.is(result.body, "");
  t.deepEqual(daemon.records[0].exchangeIds, [1, 2]);
});

test("SSE POST streams related notifications before the response, with per-stream event ids and a priming event", async (t) => {
  const { fe } = await setup(t);
  const sid = await initializeSession(fe.port);
  const res = await open(fe.port, {
    method: "POST",
    headers: mcpHeaders(fe.port, { "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25" }),
    body: JSON.stringify({ jsonrpc: "2.0", id: 3, method: "notify" }),
  });
  t.is(res.statusCode, 200);
  const events = await new SseReader(res).rest();
  t.deepEqual(events.map((e) => e.id), ["2-0", "2-1", "2-2"]);
  t.is(events[0].data, "");
  t.is(JSON.parse(events[1].data).method, "notifications/progress");
  t.deepEqual(JSON.parse(events[2].data), { jsonrpc: "2.0", id: 3, result: { notified: true } });
});

test("clients older than 2025-11-25 get no priming event", async (t) => {
  const { fe } = await setup(t);
  const sid = await initializeSession(fe.port, "2025-03-26");
  const res = await open(fe.port, {
    method: "POST",
    headers: mcpHeaders(fe.port, { "mcp-session-id": sid, "mcp-protocol-version": "2025-03-26" }),
    body: JSON.stringify({ jsonrpc: "2.0", id: 3, method: "ping" }),
  });
  const events = await new SseReader(res).rest();
  t.deepEqual(events.map((e) => e.id), ["2-1"]);
  t.deepEqual(JSON.parse(events[0].data), { jsonrpc: "2.0", id: 3, result: {} });
});
