import test from "ava";
import { startScriptedDaemon } from "./testing/scripted-daemon.js";
import { SseReader, initializeBody, initializeSession, mcpHeaders, open, send, startTestFrontend, waitFor } from "./testing/harness.js";

test("daemon unreachable → 503 JSON-RPC error; once it is back new sessions work", async (t) => {
  const daemon = await startScriptedDaemon();
  await daemon.stop();
  const fe = await startTestFrontend({ socketPath: daemon.socketPath });
  t.teardown(async () => {
    await fe.close();
    await daemon.dispose();
  });
  for (const accept of ["application/json, text/event-stream", "application/json"]) {
    const refused = await send(fe.port, { method: "POST", headers: mcpHeaders(fe.port, { accept }), body: initializeBody() });
    t.is(refused.status, 503);
    const body = JSON.parse(refused.body) as { jsonrpc: string; error: { code: number; message: string } };
    t.is(body.jsonrpc, "2.0");
    t.regex(body.error.message, /gateway daemon unavailable/);
  }
  const sse = await send(fe.port, { path: "/sse", headers: { host: `localhost:${fe.port}`, accept: "text/event-stream" } });
  t.is(sse.status, 503, "a legacy stream is not opened while the daemon is away");
  t.is(fe.sessions.size, 0);
  const health = await send(fe.port, { path: "/healthz", headers: { host: `localhost:${fe.port}` } });
  t.deepEqual(JSON.parse(health.body), { status: "ok", sessions: 0 });
  await daemon.start();
  const sid = await initializeSession(fe.port);
  t.regex(sid, /^[A-Za-z0-9_-]{43}$/);
});

test("the daemon going away ends its sessions: streams close, waiting POSTs get 503, ids become 404; a restarted daemon serves new sessions", async (t) => {
  const daemon = await startScriptedDaemon();
  const fe = await startTestFrontend({ socketPath: daemon.socketPath });
  t.teardown(async () => {
    await fe.close();
    await daemon.dispose();
  });
  const sid = await initializeSession(fe.port);
  const get = new SseReader(await open(fe.port, { method: "GET", headers: { host: `localhost:${fe.port}`, accept: "text/event-stream", "mcp-session-id": sid } }));
  const waiting = send(fe.port, { method: "POST", headers: mcpHeaders(fe.port, { "mcp-session-id": sid, accept: "application/json" }), body: '{"jsonrpc":"2.0","id":1,"method":"slow"}' });
  await waitFor(() => daemon.control.held === 1);
  await daemon.stop();
  t.is((await waiting).status, 503);
  t.deepEqual((await get.rest()).filter((e) => e.comment === undefined), []);
  const after = await send(fe.port, { method: "POST", headers: mcpHeaders(fe.port, { "mcp-session-id": sid }), body: '{"jsonrpc":"2.0","id":2,"method":"ping"}' });
  t.is(after.status, 404);
  await daemon.start();
  const fresh = await initializeSession(fe.port);
  const ping = await send(fe.port, { method: "POST", headers: mcpHeaders(fe.port, { "mcp-session-id": fresh, accept: "application/json" }), body: '{"jsonrpc":"2.0","id":3,"method":"ping"}' });
  t.deepEqual(JSON.parse(ping.body), { jsonrpc: "2.0", id: 3, result: {} });
});
