#!/usr/bin/env node
/**
 * The "no proxy" reference: the MCP SDK serving the benchmark tools itself, over its own Streamable HTTP server
 * transport (`--transport http`, at /mcp, stateful sessions) or its SSE server transport (`--transport sse`, GET /sse
 * + POST /messages); `--json-response` answers POSTs with application/json instead of an SSE stream. The tools run in-process with the same code as the stdio upstream, so what this contender adds
 * over direct stdio is the SDK's HTTP transport alone. Listens on 127.0.0.1, port 0 unless `--port N`; prints
 * `{"port":N}` on stdout once listening.
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { SSEServerTransport } from "@modelcontextprotocol/sdk/server/sse.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { BENCH_TOOLS, callBenchTool } from "./lib/tools.mjs";

function argValue(name, fallback) {
  const index = process.argv.indexOf(name);
  return index > 0 ? process.argv[index + 1] : fallback;
}

const transportKind = argValue("--transport", "http");
const port = Number(argValue("--port", "0"));
const jsonResponse = process.argv.includes("--json-response");

/** One SDK Server per session: an SDK Server is bound to exactly one transport. */
function createBenchServer() {
  const server = new Server({ name: "bench-sdk", version: "1.0.0" }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: BENCH_TOOLS }));
  server.setRequestHandler(CallToolRequestSchema, (request) =>
    callBenchTool(request.params.name, request.params.arguments),
  );
  return server;
}

function readJsonBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => {
      try {
        resolve(chunks.length === 0 ? undefined : JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch (error) {
        reject(error);
      }
    });
    req.on("error", reject);
  });
}

function reply(res, status, text) {
  res.writeHead(status, { "content-type": "text/plain" }).end(text);
}

const httpSessions = new Map();

async function handleStreamableHttp(req, res) {
  const sessionId = req.headers["mcp-session-id"];
  const body = req.method === "POST" ? await readJsonBody(req) : undefined;
  let transport = typeof sessionId === "string" ? httpSessions.get(sessionId) : undefined;
  if (transport === undefined) {
    if (sessionId !== undefined) return reply(res, 404, "unknown session");
    if (req.method !== "POST") return reply(res, 400, "missing session");
    transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: jsonResponse,
      onsessioninitialized: (id) => httpSessions.set(id, transport),
    });
    transport.onclose = () => {
      if (transport.sessionId !== undefined) httpSessions.delete(transport.sessionId);
    };
    await createBenchServer().connect(transport);
  }
  await transport.handleRequest(req, res, body);
}

const sseSessions = new Map();

async function handleSse(req, res, url) {
  if (req.method === "GET" && url.pathname === "/sse") {
    const transport = new SSEServerTransport("/messages", res);
    sseSessions.set(transport.sessionId, transport);
    res.on("close", () => sseSessions.delete(transport.sessionId));
    await createBenchServer().connect(transport);
    return;
  }
  if (req.method === "POST" && url.pathname === "/messages") {
    const transport = sseSessions.get(url.searchParams.get("sessionId") ?? "");
    if (transport === undefined) return reply(res, 404, "unknown session");
    const body = await readJsonBody(req);
    await transport.handlePostMessage(req, res, body);
    return;
  }
  reply(res, 404, "not found");
}

const httpServer = createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  const handled =
    transportKind === "sse"
      ? handleSse(req, res, url)
      : url.pathname === "/mcp"
        ? handleStreamableHttp(req, res)
        : Promise.resolve(reply(res, 404, "not found"));
  handled.catch((error) => {
    if (!res.headersSent) reply(res, 500, String(error?.message ?? error));
  });
});
httpServer.keepAliveTimeout = 60_000;
httpServer.listen(port, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: httpServer.address().port })}\n`);
});
process.on("SIGTERM", () => process.exit(0));
