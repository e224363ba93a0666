import net from "node:net";
import test from "ava";
import { startScriptedDaemon } from "./testing/scripted-daemon.js";
import { SseReader, initializeSession, mcpHeaders, open, send, startTestFrontend, waitFor } from "./testing/harness.js";
import type { FrontendSettings } from "./settings.js";

async function setup(t: import("ava").ExecutionContext, settings: Partial<FrontendSettings>) {
  const daemon = await startScriptedDaemon();
  const fe = await startTestFrontend({ socketPath: daemon.socketPath, settings });
  t.teardown(async () => {
    await fe.close();
    await daemon.dispose();
  });
  return { daemon, fe };
}

/** A raw loopback connection that records what it receives and when it closes. */
async function connect(port: number): Promise<{ socket: net.Socket; received: () => string; closed: Promise<void> }> {
  const socket = net.connect(port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  let text = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => (text += chunk));
  socket.on("error", () => {});
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  return { socket, received: () => text, closed };
}

/** Writes `chunks` one every `everyMs` until the socket closes; resolves with how many were written. */
async function trickle(socket: net.Socket, chunks: readonly string[], everyMs: number): Promise<number> {
  let written = 0;
  for (const chunk of chunks) {
    if (socket.destroyed || !socket.writable) break;
    socket.write(chunk);
    written++;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return written;
}

const LIMITS = { headersTimeoutMs: 300, requestTimeoutMs: 600 };

test("a body that trickles is cut off at the request timeout with 408 and the connection closed", async (t) => {
  const { fe, daemon } = await setup(t, LIMITS);
  const conn = await connect(fe.port);
  const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {} } });
  conn.socket.write(
    `POST /mcp HTTP/1.1\r\nHost: localhost:${fe.port}\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
  );
  // One byte every 50 ms would take ~5 s for the whole body; the limit is 0.6 s.
  const written = await trickle(conn.socket, [...body], 50);
  await conn.closed;
  t.true(written < body.length, `the client was cut off after ${written} of ${body.length} bytes`);
  t.regex(conn.received(), /^HTTP\/1\.1 408 Request Timeout\r\n/);
  t.regex(conn.received(), /request timeout/);
  t.is(fe.sessions.size, 0);
  t.is(daemon.records.length, 0, "nothing reached the daemon");
});

test("headers that trickle are cut off at the headers timeout", async (t) => {
  const { fe } = await setup(t, LIMITS);
  const conn = await connect(fe.port);
  const lines = ["GET /healthz HTTP/1.1\r\n", `Host: localhost:${fe.port}\r\n`, ...Array.from({ length: 100 }, (_, i) => `X-Slow-${i}: 1\r\n`)];
  const written = await trickle(conn.socket, lines, 50);
  await conn.closed;
  t.true(written < lines.length, `cut off after ${written} header lines`);
  t.regex(conn.received(), /^HTTP\/1\.1 408 /);
});

test("the timeouts limit receiving a request, never an answer: SSE streams and slow calls outlive them", async (t) => {
  const { fe, daemon } = await setup(t, LIMITS);
  const sid = await initializeSession(fe.port);
  const get = new SseReader(
    await open(fe.port, { method: "GET", headers: { host: `localhost:${fe.port}`, accept: "text/event-stream", "mcp-session-id": sid } }),
  );
  const slow = send(fe.port, {
    method: "POST",
    headers: mcpHeaders(fe.port, { "mcp-session-id": sid, accept: "application/json" }),
    body: JSON.stringify({ jsonrpc: "2.0", id: 5, method: "slow" }),
  });
  await waitFor(() => daemon.control.held === 1);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  daemon.control.release();
  const answer = await slow;
  t.is(answer.status, 200);
  t.deepEqual(JSON.parse(answer.body).result, { slow: true });
  // The GET stream opened before the wait still delivers.
  const broadcast = await send(fe.port, {
    method: "POST",
    headers: mcpHeaders(fe.port, { "mcp-session-id": sid, accept: "application/json" }),
    body: JSON.stringify({ jsonrpc: "2.0", id: 6, method: "broadcast" }),
  });
  t.is(broadcast.status, 200);
  const event = await get.nextData();
  t.is(JSON.parse(event!.data).method, "notifications/tools/list_changed");
  get.close();
});

test("past maxConnections a new connection is closed at once; a freed slot is reused", async (t) => {
  const { fe } = await setup(t, { maxConnections: 3 });
  const held = [await connect(fe.port), await connect(fe.port), await connect(fe.port)];
  // Each held connection is live: a keep-alive request on it is answered.
  for (const conn of held) {
    conn.socket.write(`GET /healthz HTTP/1.1\r\nHost: localhost:${fe.port}\r\n\r\n`);
  }
  await waitFor(() => held.every((conn) => conn.received().startsWith("HTTP/1.1 200")));
  const extra = await connect(fe.port);
  extra.socket.write(`GET /healthz HTTP/1.1\r\nHost: localhost:${fe.port}\r\n\r\n`);
  await extra.closed;
  t.is(extra.received(), "", "the connection over the cap got no answer");
  held[0].socket.destroy();
  await held[0].closed;
  let status = 0;
  for (let attempt = 0; attempt < 100 && status !== 200; attempt++) {
    status = await send(fe.port, { path: "/healthz" }).then((r) => r.status, () => 0);
    if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  t.is(status, 200, "a new client gets the freed slot");
  for (const conn of held) conn.socket.destroy();
});
