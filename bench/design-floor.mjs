#!/usr/bin/env node
/**
 * The design floor: the least any gateway of a given process layout can cost, measured with the same client and
 * upstream as every contender. It is a benchmark instrument, not a gateway — one upstream, tools/list and tools/call
 * only, no policy, no namespacing, no server-to-client requests — but it does the work every layout must do: parse
 * each client message, remap its id onto the shared upstream connection, restore it on the way back, answer with
 * JSON on Streamable HTTP (plain `node:http`, no framework).
 *
 * Layouts (`--layout`):
 * - `two-process` (this project's design): an HTTP process holds the client sessions and carries each one as an
 *   `McpService.OpenSession` stream over a unix socket to a second process that owns the upstream over stdio — the
 *   frontend/daemon split, with nothing else in it. `--wire lean` (default) speaks the Connect protocol on node's
 *   HTTP/2 with the gateway's written-out codec (dist/shared/open-session-wire, as the gateway does); `--wire
 *   connect-es` uses connect-es at both ends (the generic client and connect-node's handler);
 * - `one-process`: one process serves HTTP and owns the upstream's stdio (the shape of every peer).
 * `--upstream-url URL`: the upstream is that remote Streamable HTTP server instead of the bench server over stdio.
 * `--role back --socket PATH` is the second process of `two-process` (started by the first).
 *
 * Prints `{"port":N}` once listening. Needs `npm run build` (the generated code is imported from dist/gen).
 */
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { createServer as createHttp2Server } from "node:http2";
import { connect as netConnect } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createPushable } from "./lib/pushable.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const option = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const layout = option("--layout", "one-process");
const role = option("--role", "front");
const wire = option("--wire", "lean");
const upstreamUrl = option("--upstream-url");
const genUrl = new URL("../dist/gen/deploystack/gateway/v1/mcp_service_pb.js", import.meta.url);
const codecUrl = new URL("../dist/shared/open-session-wire/codec.js", import.meta.url);
const envelopeUrl = new URL("../dist/shared/open-session-wire/envelope.js", import.meta.url);
const OPEN_SESSION_PATH = "/deploystack.gateway.v1.McpService/OpenSession";

/**
 * The upstream with id remapping: `request(message, onAnswer)` answers with the parsed response. Over stdio (the bench
 * upstream as a child), or with `--upstream-url URL` over Streamable HTTP to a remote server.
 */
function openUpstream() {
  return upstreamUrl ? openRemoteUpstream(new URL(upstreamUrl)) : openStdioUpstream();
}

/**
 * A remote upstream: one legacy session, every message a POST on undici's keep-alive pool (the gateway's HTTP client),
 * the answer read from the JSON body or from the event stream's data lines.
 */
function openRemoteUpstream(url) {
  const agent = import("undici").then(({ Agent }) => new Agent({ keepAliveTimeout: 30_000, connections: 64 }));
  let sessionId;
  let nextId = 1;
  const post = async (message) => {
    const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
    if (sessionId !== undefined) Object.assign(headers, { "mcp-session-id": sessionId, "mcp-protocol-version": "2025-06-18" });
    const response = await (await agent).request({ origin: url.origin, path: url.pathname, method: "POST", headers, body: JSON.stringify(message) });
    sessionId ??= response.headers["mcp-session-id"];
    const text = await response.body.text();
    if (message.id === undefined) return undefined;
    if (!String(response.headers["content-type"]).includes("text/event-stream")) return JSON.parse(text);
    for (const line of text.split("\n")) {
      if (!line.startsWith("data:")) continue;
      const answer = JSON.parse(line.slice(5));
      if (answer.id === message.id && answer.method === undefined) return answer;
    }
    throw new Error(`no answer to ${message.method} in the event stream`);
  };
  const request = (message, onAnswer) => {
    post({ ...message, id: nextId++ }).then(onAnswer, (error) => console.error(error));
  };
  const ready = (async () => {
    const answer = await post({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "floor", version: "1" } } });
    await post({ jsonrpc: "2.0", method: "notifications/initialized" });
    return answer.result;
  })();
  return { request, ready };
}

/** The bench upstream over stdio. */
function openStdioUpstream() {
  const child = spawn(process.execPath, [join(here, "upstream-server.mjs")], { stdio: ["pipe", "pipe", "inherit"] });
  const waiting = new Map();
  let nextId = 1;
  let pending = [];
  const deliver = (line) => {
    if (line.length === 0) return;
    const message = JSON.parse(line.toString("utf8"));
    const onAnswer = waiting.get(message.id);
    if (onAnswer) {
      waiting.delete(message.id);
      onAnswer(message);
    }
  };
  child.stdout.on("data", (chunk) => {
    let start = 0;
    let newline = chunk.indexOf(10);
    while (newline !== -1) {
      const piece = chunk.subarray(start, newline);
      deliver(pending.length === 0 ? piece : Buffer.concat([...pending, piece]));
      pending = [];
      start = newline + 1;
      newline = chunk.indexOf(10, start);
    }
    if (start < chunk.length) pending.push(chunk.subarray(start));
  });
  const request = (message, onAnswer) => {
    const id = nextId++;
    waiting.set(id, onAnswer);
    child.stdin.write(`${JSON.stringify({ ...message, id })}\n`);
  };
  const ready = new Promise((resolve) => {
    request({ jsonrpc: "2.0", method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "floor", version: "1" } } }, (answer) => {
      child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })}\n`);
      resolve(answer.result);
    });
  });
  return { request, ready, child };
}

/** What a client message gets from the layer that owns the upstream: `answer(json)` once, or nothing (notification). */
function handleMessage(upstream, initializeResult, text, answer) {
  const message = JSON.parse(text);
  if (message.id === undefined) return false;
  if (message.method === "initialize") {
    answer(JSON.stringify({ jsonrpc: "2.0", id: message.id, result: initializeResult }));
  } else {
    upstream.request({ jsonrpc: "2.0", method: message.method, params: message.params }, (response) => {
      response.id = message.id;
      answer(JSON.stringify(response));
    });
  }
  return true;
}

function readBody(req, onBody) {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => onBody(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
}

function answerJson(res, sessionId, json) {
  const body = Buffer.from(json);
  res.writeHead(200, { "Content-Type": "application/json", "Content-Length": body.length, "Mcp-Session-Id": sessionId });
  res.end(body);
}

/** Streamable HTTP, JSON answers only; `openSession()` returns `{ post(text, answer) → owes, close() }`. */
function serveHttp(openSession) {
  const sessions = new Map();
  let counter = 0;
  const server = createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    if (req.method === "GET") {
      res.writeHead(405).end();
      return;
    }
    if (req.method === "DELETE") {
      sessions.get(req.headers["mcp-session-id"])?.close();
      sessions.delete(req.headers["mcp-session-id"]);
      res.writeHead(204).end();
      return;
    }
    readBody(req, (body) => {
      let sessionId = req.headers["mcp-session-id"];
      let session = sessions.get(sessionId);
      if (!session) {
        sessionId = `floor-${++counter}`;
        session = openSession();
        sessions.set(sessionId, session);
      }
      const owes = session.post(body, (json) => answerJson(res, sessionId, json));
      if (!owes) res.writeHead(202, { "Mcp-Session-Id": sessionId }).end();
    });
  });
  server.listen(0, "127.0.0.1", () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));
}


async function front() {
  if (layout === "one-process") {
    const upstream = openUpstream();
    const initializeResult = await upstream.ready;
    serveHttp(() => ({
      post: (body, answer) => handleMessage(upstream, initializeResult, body.toString("utf8"), answer),
      close() {},
    }));
    return;
  }
  const folder = mkdtempSync(join(tmpdir(), "design-floor-"));
  const socket = join(folder, "back.sock");
  const back = spawn(process.execPath, [fileURLToPath(import.meta.url), "--role", "back", "--socket", socket, "--wire", wire, ...(upstreamUrl ? ["--upstream-url", upstreamUrl] : [])], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise((resolve) => back.stdout.once("data", resolve));
  process.on("exit", () => {
    back.kill();
    rmSync(folder, { recursive: true, force: true });
  });
  if (wire === "lean") {
    await leanFront(socket);
    return;
  }
  const [{ createClient }, { createConnectTransport, Http2SessionManager }, { McpService }] = await Promise.all([
    import("@connectrpc/connect"),
    import("@connectrpc/connect-node"),
    import(genUrl.href),
  ]);
  const sessionManager = new Http2SessionManager("http://localhost", undefined, { createConnection: () => netConnect(socket) });
  const client = createClient(McpService, createConnectTransport({ httpVersion: "2", baseUrl: "http://localhost", sessionManager }));
  serveHttp(() => {
    const outgoing = createPushable();
    const waiting = new Map();
    let nextExchange = 1n;
    outgoing.push({ frame: { case: "start", value: { sessionId: "", transport: 1 } } });
    void (async () => {
      for await (const response of client.openSession(outgoing)) {
        if (response.frame.case !== "message") continue;
        const answer = waiting.get(response.frame.value.exchangeId);
        waiting.delete(response.frame.value.exchangeId);
        answer?.(Buffer.from(response.frame.value.json).toString("utf8"));
      }
    })().catch(() => undefined);
    return {
      post(body, answer) {
        // The front parses too: it must know whether the POST owes an answer (202 or a response), as the real one does.
        const owes = JSON.parse(body.toString("utf8")).id !== undefined;
        const exchangeId = nextExchange++;
        if (owes) waiting.set(exchangeId, answer);
        outgoing.push({ frame: { case: "message", value: { exchangeId, json: body } } });
        return owes;
      },
      close: () => outgoing.end(),
    };
  });
}

/** The front of `two-process --wire lean`: one HTTP/2 connection, a stream per session, the written-out codec. */
async function leanFront(socket) {
  const [{ connect }, codec, { EnvelopeReader }] = await Promise.all([import("node:http2"), import(codecUrl.href), import(envelopeUrl.href)]);
  const connection = connect("http://localhost", { createConnection: () => netConnect(socket) });
  serveHttp(() => {
    const stream = connection.request({ ":method": "POST", ":path": OPEN_SESSION_PATH, "content-type": "application/connect+proto", "connect-protocol-version": "1" });
    const waiting = new Map();
    const reader = new EnvelopeReader(1 << 30);
    let nextExchange = 1n;
    stream.write(codec.encodeOpenSessionRequest({ kind: "start", sessionId: "", transport: 1 }, true));
    stream.on("data", (chunk) =>
      reader.push(chunk, (flags, payload) => {
        if (flags !== 0) return;
        const frame = codec.decodeOpenSessionResponse(payload);
        const answer = waiting.get(frame.exchangeId);
        waiting.delete(frame.exchangeId);
        answer?.(Buffer.from(frame.json).toString("utf8"));
      }),
    );
    stream.on("error", () => undefined);
    return {
      post(body, answer) {
        const owes = JSON.parse(body.toString("utf8")).id !== undefined;
        const exchangeId = nextExchange++;
        if (owes) waiting.set(exchangeId, answer);
        stream.write(codec.encodeOpenSessionRequest({ kind: "message", exchangeId, json: body }, true));
        return owes;
      },
      close: () => stream.end(),
    };
  });
}

/** The back of `two-process --wire lean`: the OpenSession stream served on node's HTTP/2 with the written-out codec. */
async function leanBack() {
  const [codec, { EnvelopeReader }] = await Promise.all([import(codecUrl.href), import(envelopeUrl.href)]);
  const upstream = openUpstream();
  const initializeResult = await upstream.ready;
  const server = createHttp2Server();
  server.on("stream", (stream) => {
    stream.respond({ ":status": 200, "content-type": "application/connect+proto" });
    const reader = new EnvelopeReader(1 << 30);
    stream.on("data", (chunk) =>
      reader.push(chunk, (_flags, payload) => {
        const frame = codec.decodeOpenSessionRequest(payload);
        if (frame.kind !== "message") return;
        handleMessage(upstream, initializeResult, Buffer.from(frame.json).toString("utf8"), (answer) =>
          stream.write(codec.encodeOpenSessionResponse({ kind: "message", exchangeId: frame.exchangeId, json: answer, exchangeComplete: true }, true)),
        );
      }),
    );
    stream.on("end", () => stream.end());
    stream.on("error", () => undefined);
  });
  server.listen(option("--socket"), () => process.stdout.write("ready\n"));
}

async function backRole() {
  if (wire === "lean") {
    await leanBack();
    return;
  }
  const [{ create }, { connectNodeAdapter }, { McpService, OpenSessionResponseSchema }] = await Promise.all([
    import("@bufbuild/protobuf"),
    import("@connectrpc/connect-node"),
    import(genUrl.href),
  ]);
  const upstream = openUpstream();
  const initializeResult = await upstream.ready;
  const encoder = new TextEncoder();
  const handler = connectNodeAdapter({
    routes(router) {
      router.service(McpService, {
        async *openSession(requests) {
          const frames = createPushable();
          void (async () => {
            try {
              for await (const request of requests) {
                if (request.frame.case !== "message") continue;
                const { exchangeId, json } = request.frame.value;
                handleMessage(upstream, initializeResult, Buffer.from(json).toString("utf8"), (answer) =>
                  frames.push(
                    create(OpenSessionResponseSchema, {
                      frame: { case: "message", value: { exchangeId, json: encoder.encode(answer), exchangeComplete: true } },
                    }),
                  ),
                );
              }
            } catch {
              // the front went away mid-stream
            }
            frames.end();
          })();
          yield* frames;
        },
      });
    },
  });
  const server = createHttp2Server(handler);
  server.listen(option("--socket"), () => process.stdout.write("ready\n"));
}

if (role === "back") await backRole();
else await front();
