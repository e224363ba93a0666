import test from "ava";
import { SessionTransport } from "../../gen/deploystack/gateway/v1/mcp_pb.js";
import { type ScriptedDaemon, startScriptedDaemon } from "../testing/scripted-daemon.js";
import { SseReader, type TestFrontend, initializeBody, open, send, startTestFrontend, waitFor } from "../testing/harness.js";

async function setup(t: import("ava").ExecutionContext): Promise<{ daemon: ScriptedDaemon; fe: TestFrontend }> {
  const daemon = await startScriptedDaemon();
  const fe = await startTestFrontend({ socketPath: daemon.socketPath });
  t.teardown(async () => {
    await fe.close();
    await daemon.dispose();
  });
  return { daemon, fe };
}

test("GET /sse announces the endpoint; POST /message is 202 and every answer arrives as event: message", async (t) => {
  const { daemon, fe } = await setup(t);
  const res = await open(fe.port, { path: "/sse", headers: { host: `localhost:${fe.port}`, accept: "text/event-stream" } });
  t.is(res.statusCode, 200);
  t.is(res.headers["content-type"], "text/event-stream");
  const stream = new SseReader(res);
  const endpoint = await stream.nextData();
  t.is(endpoint?.event, "endpoint");
  t.regex(endpoint?.data ?? "", /^\/message\?sessionId=[A-Za-z0-9_-]{43}$/);
  const path = endpoint?.data ?? "";
  const headers = { host: `localhost:${fe.port}`, "content-type": "application/json" };
  const init = await send(fe.port, { method: "POST", path, headers, body: initializeBody("2024-11-05") });
  t.is(init.status, 202);
  t.is(init.body, "");
  const answer = await stream.nextData();
  t.is(answer?.event, "message");
  t.is(JSON.parse(answer?.data ?? "{}").result.protocolVersion, "2024-11-05");
  await send(fe.port, { method: "POST", path, headers, body: '{"jsonrpc":"2.0","id":2,"method":"notify"}' });
  t.is(JSON.parse((await stream.nextData())?.data ?? "{}").method, "notifications/progress");
  t.deepEqual(JSON.parse((await stream.nextData())?.data ?? "{}"), { jsonrpc: "2.0", id: 2, result: { notified: true } });
  t.is(daemon.records[0].transport, SessionTransport.SSE);
  const bad = await send(fe.port, { method: "POST", path, headers, body: "{oops" });
  t.is(bad.status, 400);
  t.is(JSON.parse(bad.body).error.code, -32700);
  const legacyId = path.split("=")[1];
  const crossed = await send(fe.port, {
    method: "POST",
    path: "/mcp",
    headers: { ...headers, accept: "application/json", "mcp-session-id": legacyId },
    body: '{"jsonrpc":"2.0","id":4,"method":"ping"}',
  });
  t.is(crossed.status, 404, "a legacy session id is not a Streamable HTTP session");
  stream.close();
  await waitFor(() => fe.sessions.size === 0);
  const gone = await send(fe.port, { method: "POST", path, headers, body: '{"jsonrpc":"2.0","id":3,"method":"ping"}' });
  t.is(gone.status, 404, "closing the stream ends a legacy session");
  await waitFor(() => daemon.records[0].closed);
});

test("POST /message refuses a missing or unknown session, and a Streamable HTTP session id", async (t) => {
  const { fe } = await setup(t);
  const headers = { host: `localhost:${fe.port}`, "content-type": "application/json" };
  const body = '{"jsonrpc":"2.0","id":1,"method":"ping"}';
  t.is((await send(fe.port, { method: "POST", path: "/message", headers, body })).status, 400);
  t.is((await send(fe.port, { method: "POST", path: "/message?sessionId=unknown", headers, body })).status, 404);
  const init = await send(fe.port, { method: "POST", path: "/mcp", headers: { ...headers, accept: "application/json" }, body: initializeBody() });
  const sid = String(init.headers["mcp-session-id"]);
  t.is((await send(fe.port, { method: "POST", path: `/message?sessionId=${sid}`, headers, body })).status, 404);
  t.is((await send(fe.port, { method: "GET", path: "/message", headers })).status, 405);
  t.is((await send(fe.port, { method: "POST", path: "/sse", headers, body })).status, 405);
});
