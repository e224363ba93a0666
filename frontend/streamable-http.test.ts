import test, { type ExecutionContext } from "ava";
import type { IncomingMessage } from "node:http";
import { type ScriptedDaemon, startScriptedDaemon } from "./testing/scripted-daemon.js";
import { SseReader, type TestFrontend, initializeBody, initializeSession, mcpHeaders, open, send, startTestFrontend, waitFor } from "./testing/harness.js";
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
  t.is(daemon.records[0].sessionId, String(id));
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

test("a POST without a session id that is neither initialize nor modern is 400; GET/DELETE without one 405; an unknown session id is 404", async (t) => {
  const { fe } = await setup(t);
  const ping = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" });
  const missing = await send(fe.port, { method: "POST", headers: mcpHeaders(fe.port), body: ping });
  t.is(missing.status, 400);
  t.is(JSON.parse(missing.body).error.code, -32000);
  const unknown = await send(fe.port, { method: "POST", headers: mcpHeaders(fe.port, { "mcp-session-id": "nope" }), body: ping });
  t.is(unknown.status, 404);
  t.deepEqual(JSON.parse(unknown.body), { jsonrpc: "2.0", id: null, error: { code: -32001, message: "session not found" } });
  for (const method of ["GET", "DELETE"]) {
    const noId = await send(fe.port, { method, headers: { host: `localhost:${fe.port}`, accept: "text/event-stream" } });
    // Without a session id it is modern-era traffic, which has no GET stream and no sessions (2026-07-28).
    t.is(noId.status, 405, method);
    t.is(noId.headers.allow, "POST", method);
    const badId = await send(fe.port, { method, headers: { host: `localhost:${fe.port}`, accept: "text/event-stream", "mcp-session-id": "x".repeat(43) } });
    t.is(badId.status, 404, method);
  }
  t.is(fe.sessions.size, 0);
});

test("a malformed body is HTTP 400 with JSON-RPC -32700; JSON that is not JSON-RPC is forwarded to the engine", async (t) => {
  const { daemon, fe } = await setup(t);
  const sid = await initializeSession(fe.port);
  for (const body of ["{", "", "not json", '{"jsonrpc":"2.0",', "\u0000"]) {
    const result = await send(fe.port, { method: "POST", headers: mcpHeaders(fe.port, { "mcp-session-id": sid }), body });
    t.is(result.status, 400);
    t.is(result.body, '{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}');
  }
  const invalid = await send(fe.port, { method: "POST", headers: mcpHeaders(fe.port, { "mcp-session-id": sid, accept: "application/json" }), body: '{"foo":1}' });
  t.is(invalid.status, 200);
  t.is(JSON.parse(invalid.body).error.code, -32600);
  const unknown = await send(fe.port, {
    method: "POST",
    headers: mcpHeaders(fe.port, { "mcp-session-id": sid, accept: "application/json" }),
    body: JSON.stringify({ jsonrpc: "2.0", id: 5, method: "no/such" }),
  });
  t.is(JSON.parse(unknown.body).error.code, -32601);
  t.is(daemon.records[0].bodies.length, 3);
});

test("Accept, Content-Type and MCP-Protocol-Version are checked", async (t) => {
  const { fe } = await setup(t);
  const sid = await initializeSession(fe.port);
  const ping = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" });
  const noAccept = await send(fe.port, { method: "POST", headers: mcpHeaders(fe.port, { "mcp-session-id": sid, accept: "text/html" }), body: ping });
  t.is(noAccept.status, 406);
  const wrongType = await send(fe.port, { method: "POST", headers: mcpHeaders(fe.port, { "mcp-session-id": sid, "content-type": "text/plain" }), body: ping });
  t.is(wrongType.status, 415);
  const badVersion = await send(fe.port, { method: "POST", headers: mcpHeaders(fe.port, { "mcp-session-id": sid, "mcp-protocol-version": "1999-01-01" }), body: ping });
  t.is(badVersion.status, 400);
  t.regex(JSON.parse(badVersion.body).error.message, /unsupported mcp-protocol-version/);
  const absentVersion = await send(fe.port, { method: "POST", headers: mcpHeaders(fe.port, { "mcp-session-id": sid, accept: "application/json" }), body: ping });
  t.is(absentVersion.status, 200);
  const getNoSse = await send(fe.port, { method: "GET", headers: { host: `localhost:${fe.port}`, accept: "application/json", "mcp-session-id": sid } });
  t.is(getNoSse.status, 406);
  const put = await send(fe.port, { method: "PUT", headers: mcpHeaders(fe.port, { "mcp-session-id": sid }), body: ping });
  t.is(put.status, 405);
  t.is(put.headers.allow, "GET, POST, DELETE");
});

test("a body over the limit is 413", async (t) => {
  const { fe } = await setup(t, { maxBodyBytes: 1024 });
  const sid = await initializeSession(fe.port);
  const big = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "echo", params: { pad: "x".repeat(2000) } });
  const result = await send(fe.port, { method: "POST", headers: mcpHeaders(fe.port, { "mcp-session-id": sid }), body: big });
  t.is(result.status, 413);
  t.is(JSON.parse(result.body).error.code, -32000);
  const ok = await send(fe.port, {
    method: "POST",
    headers: mcpHeaders(fe.port, { "mcp-session-id": sid, accept: "application/json" }),
    body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "echo", params: { pad: "x".repeat(900) } }),
  });
  t.is(ok.status, 200);
});

test("the standalone GET stream carries messages not tied to a POST; a second GET is 409", async (t) => {
  const { fe } = await setup(t);
  const sid = await initializeSession(fe.port);
  const get = await open(fe.port, { method: "GET", headers: { host: `localhost:${fe.port}`, accept: "text/event-stream", "mcp-session-id": sid } });
  t.is(get.statusCode, 200);
  const stream = new SseReader(get);
  const second = await send(fe.port, { method: "GET", headers: { host: `localhost:${fe.port}`, accept: "text/event-stream", "mcp-session-id": sid } });
  t.is(second.status, 409);
  const post = await send(fe.port, {
    method: "POST",
    headers: mcpHeaders(fe.port, { "mcp-session-id": sid, accept: "application/json" }),
    body: JSON.stringify({ jsonrpc: "2.0", id: 9, method: "broadcast" }),
  });
  t.is(post.status, 200);
  const event = await stream.nextData();
  t.is(event?.id, "0-1");
  t.is(JSON.parse(event?.data ?? "{}").method, "notifications/tools/list_changed");
  stream.close();
});

test("messages sent while no GET stream is open are delivered when one opens; Last-Event-ID replays after that event", async (t) => {
  const { fe } = await setup(t);
  const sid = await initializeSession(fe.port);
  const headers = mcpHeaders(fe.port, { "mcp-session-id": sid, accept: "application/json" });
  for (const id of [1, 2]) await send(fe.port, { method: "POST", headers, body: JSON.stringify({ jsonrpc: "2.0", id, method: "broadcast" }) });
  const getHeaders = { host: `localhost:${fe.port}`, accept: "text/event-stream", "mcp-session-id": sid };
  const first = new SseReader(await open(fe.port, { method: "GET", headers: getHeaders }));
  t.is((await first.nextData())?.id, "0-1");
  t.is((await first.nextData())?.id, "0-2");
  first.close();
  await new Promise((resolve) => first.res.once("close", resolve));
  const resumed = new SseReader(await open(fe.port, { method: "GET", headers: { ...getHeaders, "last-event-id": "0-1" } }));
  const replayed = await resumed.nextData();
  t.is(replayed?.id, "0-2");
  resumed.close();
  const bad = await send(fe.port, { method: "GET", headers: { ...getHeaders, "last-event-id": "garbage" } });
  t.is(bad.status, 400);
});

test("a POST stream cut by the client is resumed with GET and Last-Event-ID: replay, then the live rest", async (t) => {
  const { daemon, fe } = await setup(t);
  const sid = await initializeSession(fe.port);
  const post = new SseReader(
    await open(fe.port, {
      method: "POST",
      headers: mcpHeaders(fe.port, { "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25" }),
      body: JSON.stringify({ jsonrpc: "2.0", id: 4, method: "sample" }),
    }),
  );
  const priming = await post.nextData();
  t.is(priming?.id, "2-0");
  const request = await post.nextData();
  t.is(request?.id, "2-1");
  const sampling = JSON.parse(request?.data ?? "{}") as { id: string; method: string };
  t.is(sampling.method, "sampling/createMessage");
  post.close();
  await new Promise((resolve) => post.res.once("close", resolve));
  // The client answers the server's request in its own POST (202), then resumes the stream.
  const answer = await send(fe.port, {
    method: "POST",
    headers: mcpHeaders(fe.port, { "mcp-session-id": sid }),
    body: JSON.stringify({ jsonrpc: "2.0", id: sampling.id, result: { content: "hi" } }),
  });
  t.is(answer.status, 202);
  const resumed = new SseReader(
    await open(fe.port, { method: "GET", headers: { host: `localhost:${fe.port}`, accept: "text/event-stream", "mcp-session-id": sid, "last-event-id": "2-1" } }),
  );
  const rest = (await resumed.rest()).filter((e) => e.comment === undefined);
  t.deepEqual(rest.map((e) => e.id), ["2-2"]);
  t.deepEqual(JSON.parse(rest[0].data), { jsonrpc: "2.0", id: 4, result: { sampled: { content: "hi" } } });
  t.deepEqual(daemon.records[0].exchangeIds, [1, 2, 3]);
});

test("DELETE ends the session: 204, the daemon stream closes, and the id is 404 afterwards", async (t) => {
  const { daemon, fe } = await setup(t);
  const sid = await initializeSession(fe.port);
  const get = new SseReader(await open(fe.port, { method: "GET", headers: { host: `localhost:${fe.port}`, accept: "text/event-stream", "mcp-session-id": sid } }));
  const deleted = await send(fe.port, { method: "DELETE", headers: { host: `localhost:${fe.port}`, "mcp-session-id": sid } });
  t.is(deleted.status, 204);
  t.deepEqual(await get.rest(), []);
  const again = await send(fe.port, { method: "DELETE", headers: { host: `localhost:${fe.port}`, "mcp-session-id": sid } });
  t.is(again.status, 404);
  const post = await send(fe.port, { method: "POST", headers: mcpHeaders(fe.port, { "mcp-session-id": sid }), body: '{"jsonrpc":"2.0","id":1,"method":"ping"}' });
  t.is(post.status, 404);
  await waitFor(() => daemon.records[0].closed);
  t.true(daemon.records[0].closed);
  t.is(fe.sessions.size, 0);
});

test("a POST waiting for a slow answer gets 404 when the session is deleted meanwhile; the daemon stream is closed", async (t) => {
  const { daemon, fe } = await setup(t);
  const sid = await initializeSession(fe.port);
  const pending = send(fe.port, {
    method: "POST",
    headers: mcpHeaders(fe.port, { "mcp-session-id": sid, accept: "application/json" }),
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "slow" }),
  });
  await waitFor(() => daemon.control.held === 1);
  await send(fe.port, { method: "DELETE", headers: { host: `localhost:${fe.port}`, "mcp-session-id": sid } });
  const result = await pending;
  t.is(result.status, 404);
  await waitFor(() => daemon.records[0].closed);
  t.true(daemon.records[0].closed);
});

test("SessionEnded from the daemon ends the session: open streams close, later requests get 404", async (t) => {
  const { fe } = await setup(t);
  const sid = await initializeSession(fe.port);
  const get = new SseReader(await open(fe.port, { method: "GET", headers: { host: `localhost:${fe.port}`, accept: "text/event-stream", "mcp-session-id": sid } }));
  await send(fe.port, { method: "POST", headers: mcpHeaders(fe.port, { "mcp-session-id": sid, accept: "application/json" }), body: '{"jsonrpc":"2.0","id":1,"method":"end"}' });
  t.deepEqual((await get.rest()).filter((e) => e.comment === undefined), []);
  await waitFor(() => fe.sessions.size === 0);
  const after = await send(fe.port, { method: "POST", headers: mcpHeaders(fe.port, { "mcp-session-id": sid }), body: '{"jsonrpc":"2.0","id":2,"method":"ping"}' });
  t.is(after.status, 404);
});

test("SSE keep-alive comments are sent on open streams", async (t) => {
  const { fe } = await setup(t, { keepAliveMs: 20 });
  const sid = await initializeSession(fe.port);
  const get = new SseReader(await open(fe.port, { method: "GET", headers: { host: `localhost:${fe.port}`, accept: "text/event-stream", "mcp-session-id": sid } }));
  const event = await get.next();
  t.is(event?.comment, "keepalive");
  get.close();
});

test("a client disconnecting mid-stream harms nothing: the session keeps working", async (t) => {
  const { daemon, fe } = await setup(t);
  const sid = await initializeSession(fe.port);
  const res = await open(fe.port, {
    method: "POST",
    headers: mcpHeaders(fe.port, { "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25" }),
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "slow" }),
  });
  res.destroy();
  await waitFor(() => daemon.control.held === 1);
  daemon.control.release();
  const ok = await send(fe.port, { method: "POST", headers: mcpHeaders(fe.port, { "mcp-session-id": sid, accept: "application/json" }), body: '{"jsonrpc":"2.0","id":2,"method":"ping"}' });
  t.is(ok.status, 200);
  t.deepEqual(JSON.parse(ok.body), { jsonrpc: "2.0", id: 2, result: {} });
});

/**
 * A POST to the daemon's held `slow` method: its SSE headers and a keep-alive come while the call is held, then,
 * once released, its one answer.
 */
async function keepAliveThenAnswer(t: ExecutionContext, res: IncomingMessage, daemon: ScriptedDaemon): Promise<void> {
  t.is(res.statusCode, 200, "headers came before the answer");
  const stream = new SseReader(res);
  t.is((await stream.next())?.comment, "keepalive");
  await waitFor(() => daemon.control.held === 1);
  daemon.control.release();
  const rest = (await stream.rest()).filter((e) => e.comment === undefined);
  t.deepEqual(rest.map((e) => JSON.parse(e.data)), [{ jsonrpc: "2.0", id: 1, result: { slow: true } }]);
}

test("an older client's slow POST gets its SSE headers (and keep-alives) after one keep-alive interval, then the answer", async (t) => {
  const { daemon, fe } = await setup(t, { keepAliveMs: 30 });
  const sid = await initializeSession(fe.port, "2025-06-18");
  const res = await open(fe.port, {
    method: "POST",
    headers: mcpHeaders(fe.port, { "mcp-session-id": sid, "mcp-protocol-version": "2025-06-18" }),
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "slow" }),
  });
  await keepAliveThenAnswer(t, res, daemon);
});

test("a modern (stateless) slow POST gets its SSE headers and keep-alives after one keep-alive interval, then the answer", async (t) => {
  const { daemon, fe } = await setup(t, { keepAliveMs: 30 });
  const meta = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
  };
  const modernHeaders = (method: string) => mcpHeaders(fe.port, { "mcp-protocol-version": "2026-07-28", "mcp-method": method });
  const res = await open(fe.port, { method: "POST", headers: modernHeaders("slow"), body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "slow", params: { _meta: meta } }) });
  t.is(res.headers["content-type"], "text/event-stream");
  await keepAliveThenAnswer(t, res, daemon);
});
