import test, { type ExecutionContext } from "ava";
import { mkdtempSync, rmSync } from "node:fs";
import { connect as http2Connect, constants } from "node:http2";
import { connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { Http2SessionManager, compressionGzip, createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { McpService, OpenSessionRequestSchema, type OpenSessionRequest, type OpenSessionResponse } from "../../gen/deploystack/gateway/v1/mcp_service_pb.js";
import { SessionTransport } from "../../gen/deploystack/gateway/v1/mcp_pb.js";
import { silentLogger } from "../../shared/logger.js";
import { encodeOpenSessionRequest, OPEN_SESSION_PATH } from "../../shared/open-session-wire/codec.js";
import { EnvelopeReader, FLAG_END_STREAM, encodeEnvelope, parseEndStream } from "../../shared/open-session-wire/envelope.js";
import { createMcpEngine } from "../mcp/engine.js";
import { createMemorySupervisor } from "../mcp/testing/memory-supervisor.js";
import { createProbe, createTestServer } from "../mcp/testing/test-server.js";
import { startControlServer } from "./control-server.js";
import { mcpServiceRoutes } from "./mcp-service.js";
import { createOpenSessionFastPath, type FastPath } from "./open-session-fast-path.js";
import { createOpenSessionLoops } from "./open-session-loop.js";
import { requestStream } from "../mcp/testing/request-stream.js";

type Json = Record<string, any>;

/** The real control server on a unix socket, with the fast path counted so each test knows who served it. */
async function setup(t: ExecutionContext, loopOptions: { maxQueuedBytes?: number } = {}) {
  const probe = createProbe();
  const supervisor = createMemorySupervisor([{ name: "alpha", create: () => createTestServer("alpha", probe) }]);
  await supervisor.start();
  const engine = createMcpEngine({ supervisor, logger: silentLogger, version: "1.2.3" });
  const openSessionLoop = createOpenSessionLoops(engine, { logger: silentLogger, ...loopOptions });
  const fastPath = createOpenSessionFastPath(openSessionLoop, { maxMessageBytes: 64 * 1024 });
  const counter = { taken: 0 };
  const counted: FastPath = (req, res) => {
    const taken = fastPath(req, res);
    if (taken) counter.taken++;
    return taken;
  };
  const dir = mkdtempSync(join(tmpdir(), "dsgw-fast-"));
  const socketPath = join(dir, "run", "gateway.sock");
  const shutdown = new AbortController();
  const server = await startControlServer({
    routes: mcpServiceRoutes(engine, { openSessionLoop }),
    socketFastPaths: [counted],
    socketPath,
    logger: silentLogger,
    shutdownSignal: shutdown.signal,
  });
  const managers: Http2SessionManager[] = [];
  const transport = (kind: "connect" | "grpc", options: { gzip?: boolean } = {}): Transport => {
    const sessionManager = new Http2SessionManager("http://localhost", undefined, { createConnection: () => netConnect(socketPath) });
    managers.push(sessionManager);
    const base = { httpVersion: "2" as const, baseUrl: "http://localhost", sessionManager };
    if (kind === "grpc") return createGrpcTransport(base);
    // compressMinBytes 0: every message is gzipped, so the call must leave the fast path.
    return createConnectTransport(options.gzip ? { ...base, sendCompression: compressionGzip, compressMinBytes: 0 } : base);
  };
  t.teardown(async () => {
    for (const manager of managers) manager.abort();
    shutdown.abort();
    engine.close();
    await server.close(0);
    await supervisor.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });
  return { engine, probe, socketPath, counter, transport };
}


const encoder = new TextEncoder();
const decoder = new TextDecoder();
const start = create(OpenSessionRequestSchema, { frame: { case: "start", value: { sessionId: "s", transport: SessionTransport.STDIO } } });
const message = (exchangeId: number, body: unknown): OpenSessionRequest =>
  create(OpenSessionRequestSchema, { frame: { case: "message", value: { exchangeId: BigInt(exchangeId), json: encoder.encode(JSON.stringify(body)) } } });
const initialize = (exchangeId: number) =>
  message(exchangeId, { jsonrpc: "2.0", id: exchangeId, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {} } });

/** Runs initialize and one tools/call on an open session and ends it; returns the call's result. */
async function initializeAndCall(client: ReturnType<typeof createClient<typeof McpService>>): Promise<Json> {
  const requests = requestStream<OpenSessionRequest>();
  const responses = client.openSession(requests)[Symbol.asyncIterator]();
  const next = async (): Promise<OpenSessionResponse> => (await responses.next()).value as OpenSessionResponse;
  requests.push(start);
  requests.push(initialize(1));
  const initialized = await next();
  if (initialized.frame.case !== "initialized") throw new Error(`expected initialized, got ${initialized.frame.case}`);
  await next();
  requests.push(message(2, { jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "alpha-echo", arguments: { text: "fast" } } }));
  const answer = await next();
  if (answer.frame.case !== "message" || answer.frame.value.exchangeId !== 2n || !answer.frame.value.exchangeComplete) {
    throw new Error("expected the call's complete answer on exchange 2");
  }
  requests.end();
  const rest = await responses.next();
  if (!rest.done) throw new Error("the stream should end after the client half-closes");
  return JSON.parse(decoder.decode(answer.frame.value.json)) as Json;
}

test("connect-es with the Connect protocol is served by the fast path: a whole session, ended by the client", async (t) => {
  const { transport, counter, engine } = await setup(t);
  const result = await initializeAndCall(createClient(McpService, transport("connect")));
  t.is(result.id, 7);
  t.is(result.result.content[0].text, "alpha:fast");
  t.is(counter.taken, 1);
  t.is(engine.sessionCount(), 0);
});

test("gRPC and compressed Connect calls go to connect-node and behave the same", async (t) => {
  const { transport, counter } = await setup(t);
  const viaGrpc = await initializeAndCall(createClient(McpService, transport("grpc")));
  t.is(viaGrpc.result.content[0].text, "alpha:fast");
  const gzipped = await initializeAndCall(createClient(McpService, transport("connect", { gzip: true })));
  t.is(gzipped.result.content[0].text, "alpha:fast");
  t.is(counter.taken, 0);
});

test("a stateless stream (modern requests) works on both carriers: each message a request of its own, answered on its exchange", async (t) => {
  const { transport, counter } = await setup(t);
  const meta = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} };
  const statelessStart = create(OpenSessionRequestSchema, {
    frame: { case: "start", value: { sessionId: "pool-0", transport: SessionTransport.STREAMABLE_HTTP, stateless: true } },
  });
  for (const [kind, fast] of [["connect", 1], ["grpc", 0]] as const) {
    const before = counter.taken;
    const client = createClient(McpService, transport(kind));
    const requests = requestStream<OpenSessionRequest>();
    const responses = client.openSession(requests)[Symbol.asyncIterator]();
    requests.push(statelessStart);
    // No initialize: two requests, each standing alone, answered on their own exchanges.
    requests.push(message(5, { jsonrpc: "2.0", id: "a", method: "tools/call", params: { name: "alpha-echo", arguments: { text: kind }, _meta: meta } }));
    requests.push(message(6, { jsonrpc: "2.0", id: "b", method: "server/discover", params: { _meta: meta } }));
    const answers = new Map<bigint, Json>();
    while (answers.size < 2) {
      const next = (await responses.next()).value as OpenSessionResponse;
      if (next.frame.case === "message" && next.frame.value.exchangeComplete) {
        answers.set(next.frame.value.exchangeId, JSON.parse(decoder.decode(next.frame.value.json)) as Json);
      }
    }
    t.is(answers.get(5n)?.result.content[0].text, `alpha:${kind}`, kind);
    t.is(answers.get(5n)?.result.resultType, "complete", kind);
    t.true(answers.get(6n)?.result.supportedVersions.includes("2026-07-28"), kind);
    requests.end();
    t.true((await responses.next()).done, kind);
    t.is(counter.taken - before, fast, `${kind}: ${fast ? "the fast path" : "connect-node"}`);
  }
});

test("the first message must be a SessionStart, and only the first: invalid_argument, as from connect-node", async (t) => {
  const { transport, counter } = await setup(t);
  const client = createClient(McpService, transport("connect"));
  for (const frames of [[initialize(1)], [start, initialize(1), start]]) {
    const requests = requestStream<OpenSessionRequest>();
    for (const frame of frames) requests.push(frame);
    const error = await t.throwsAsync(async () => {
      for await (const _ of client.openSession(requests)) void _;
    });
    const connectError = ConnectError.from(error);
    t.is(connectError.code, Code.InvalidArgument);
    t.regex(connectError.rawMessage, /SessionStart/);
  }
  t.is(counter.taken, 2);
});

/** A raw HTTP/2 OpenSession call: writes `body`, returns the envelopes that came back. */
async function rawCall(socketPath: string, body: Buffer): Promise<{ status: number; envelopes: [number, Buffer][] }> {
  const session = http2Connect("http://localhost", { createConnection: () => netConnect(socketPath) });
  try {
    const stream = session.request({
      [constants.HTTP2_HEADER_METHOD]: "POST",
      [constants.HTTP2_HEADER_PATH]: OPEN_SESSION_PATH,
      "content-type": "application/connect+proto",
    });
    let status = 0;
    const envelopes: [number, Buffer][] = [];
    const reader = new EnvelopeReader(1 << 20);
    stream.on("response", (headers) => (status = Number(headers[constants.HTTP2_HEADER_STATUS])));
    stream.on("data", (chunk: Buffer) => reader.push(chunk, (flags, payload) => envelopes.push([flags, Buffer.from(payload)])));
    stream.end(body);
    await new Promise<void>((resolve) => stream.on("close", () => resolve()));
    return { status, envelopes };
  } finally {
    session.close();
  }
}

test("malformed input ends the stream with a clear error and leaves the daemon serving", async (t) => {
  const { socketPath, transport } = await setup(t);
  const cases: [string, Buffer, RegExp][] = [
    ["not protobuf", encodeEnvelope(0, Buffer.from([0x0a, 0x05, 0x01])), /malformed OpenSessionRequest/],
    ["a compressed flag without an encoding", encodeEnvelope(1, Buffer.from("x")), /compressed/],
    ["a message over the size limit", encodeEnvelope(0, Buffer.alloc(64 * 1024 + 1)), /exceeds the limit/],
    ["a stream cut inside a message", encodeOpenSessionRequest({ kind: "start", sessionId: "x", transport: 0 }, true).subarray(0, 4), /SessionStart/],
    [
      "a stream cut inside the second message",
      Buffer.concat([encodeOpenSessionRequest({ kind: "start", sessionId: "x", transport: 0 }, true), Buffer.from([0, 0, 0])]),
      /ended inside a message/,
    ],
  ];
  for (const [what, body, expected] of cases) {
    const { status, envelopes } = await rawCall(socketPath, body);
    t.is(status, 200, what);
    const last = envelopes.at(-1);
    t.is(last?.[0], FLAG_END_STREAM, what);
    const error = last && parseEndStream(last[1]);
    t.regex(error?.message ?? "", expected, what);
  }
  const result = await initializeAndCall(createClient(McpService, transport("connect")));
  t.is(result.result.content[0].text, "alpha:fast");
});

/**
 * A raw HTTP/2 OpenSession call that writes `frames` and reads nothing until `readWhen` resolves, then returns what
 * came back. With `deadline`, the call carries `connect-timeout-ms`, so connect-node serves it instead of the
 * fast path: the same bytes on the wire, the other carrier.
 */
async function slowReader(socketPath: string, frames: Buffer[], options: { deadline: boolean; readWhen: () => Promise<void> }): Promise<{ envelopes: [number, Buffer][] }> {
  const session = http2Connect("http://localhost", { createConnection: () => netConnect(socketPath) });
  try {
    const stream = session.request({
      [constants.HTTP2_HEADER_METHOD]: "POST",
      [constants.HTTP2_HEADER_PATH]: OPEN_SESSION_PATH,
      "content-type": "application/connect+proto",
      "connect-protocol-version": "1",
      ...(options.deadline ? { "connect-timeout-ms": "60000" } : {}),
    });
    for (const frame of frames) stream.write(frame);
    await options.readWhen();
    const envelopes: [number, Buffer][] = [];
    const reader = new EnvelopeReader(64 << 20);
    await new Promise<void>((resolve) => {
      stream.on("data", (chunk: Buffer) =>
        reader.push(chunk, (flags, payload) => {
          envelopes.push([flags, Buffer.from(payload)]);
          if (flags & FLAG_END_STREAM) resolve();
        }),
      );
      stream.on("close", () => resolve());
    });
    stream.close();
    return { envelopes };
  } finally {
    session.close();
  }
}

test("back-pressure is one rule for both carriers: a client that stops reading is cut off with resource_exhausted", async (t) => {
  const { socketPath, counter, engine } = await setup(t, { maxQueuedBytes: 256 * 1024 });
  const text = "y".repeat(30_000);
  const frames = [
    encodeOpenSessionRequest({ kind: "start", sessionId: "slow", transport: SessionTransport.STDIO }, true),
    encodeOpenSessionRequest({ kind: "message", exchangeId: 1n, json: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {} } }) }, true),
    ...Array.from({ length: 80 }, (_, i) =>
      encodeOpenSessionRequest(
        { kind: "message", exchangeId: BigInt(i + 2), json: JSON.stringify({ jsonrpc: "2.0", id: i + 2, method: "tools/call", params: { name: "alpha-echo", arguments: { text } } }) },
        true,
      ),
    ),
  ];
  for (const deadline of [false, true]) {
    const before = counter.taken;
    // Read only once the daemon has given up on the client (its session closed): however slow the machine.
    const readWhen = async (): Promise<void> => {
      const deadlineAt = Date.now() + 60_000;
      let opened = false;
      while (Date.now() < deadlineAt) {
        if (engine.sessionCount() > 0) opened = true;
        else if (opened) return;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    const { envelopes } = await slowReader(socketPath, frames, { deadline, readWhen });
    t.is(counter.taken - before, deadline ? 0 : 1, deadline ? "served by connect-node" : "served by the fast path");
    const last = envelopes.at(-1);
    t.is(last?.[0], FLAG_END_STREAM);
    t.deepEqual(last && parseEndStream(last[1]), { code: "resource_exhausted", message: "the session's client fell behind; reconnect" }, deadline ? "connect-node" : "fast path");
    t.true(envelopes.length < frames.length + 2, "cut off before every answer was written");
  }
  t.is(engine.sessionCount(), 0);
});
