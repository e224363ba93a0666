import { request } from "node:http";
import test from "ava";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { type DaemonProcess, normalServer, startDaemon, waitForRunning, waitUntil } from "./helpers/daemon-process.js";

// The frontend with the real daemon and real MCP SDK clients: both transports, session end, the DNS-rebinding
// guard, and concurrent sessions reusing the same JSON-RPC ids.

async function mcpUrl(daemon: DaemonProcess): Promise<URL> {
  let url = "";
  const up = await waitUntil(async () => {
    const status = await daemon.clients.gateway.getStatus({});
    url = status.mcpUrl;
    return status.frontendRunning && url !== "";
  }, 90_000);
  if (!up) throw new Error(`frontend did not come up:\n${daemon.stderr()}`);
  return new URL(url);
}

function raw(port: number, method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const all = body === undefined ? headers : { ...headers, "content-length": String(Buffer.byteLength(body)) };
    const req = request({ host: "127.0.0.1", port, method, path, headers: all, setHost: false, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      if (String(res.headers["content-type"]).startsWith("text/event-stream")) {
        res.destroy();
        resolve({ status: res.statusCode ?? 0, body: "" });
        return;
      }
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

let daemon: DaemonProcess;
let url: URL;
// One daemon for the whole file: the helper registers its cleanups with `teardown`, which hooks do not have.
const cleanups: Array<() => unknown> = [];
test.before(async () => {
  const hookContext = { teardown: (fn: () => unknown) => cleanups.unshift(fn) };
  daemon = await startDaemon(hookContext as never, { servers: [normalServer("alpha")] });
  await waitForRunning(daemon, ["alpha"]);
  url = await mcpUrl(daemon);
});
test.after.always(async () => {
  for (const cleanup of cleanups) await cleanup();
});

test("Streamable HTTP: the SDK client lists and calls tools; DELETE ends the session (404 after), a new one works", async (t) => {
  const transport = new StreamableHTTPClientTransport(url);
  const client = new Client({ name: "e2e-http", version: "1.0.0" });
  await client.connect(transport);
  const sessionId = transport.sessionId ?? "";
  t.regex(sessionId, /^[A-Za-z0-9_-]{43}$/);
  const { tools } = await client.listTools();
  t.true(tools.some((tool) => tool.name === "alpha-echo"));
  const result = await client.callTool({ name: "alpha-echo", arguments: { text: "over streamable http" } });
  t.deepEqual(result.content, [{ type: "text", text: "over streamable http" }]);
  await client.ping();
  await transport.terminateSession();
  await client.close();
  const after = await raw(Number(url.port), "POST", "/mcp", {
    host: url.host,
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    "mcp-session-id": sessionId,
    "mcp-protocol-version": "2025-11-25",
  }, '{"jsonrpc":"2.0","id":9,"method":"ping"}');
  t.is(after.status, 404);
  const again = new Client({ name: "e2e-http-2", version: "1.0.0" });
  await again.connect(new StreamableHTTPClientTransport(url));
  t.true((await again.listTools()).tools.length > 0);
  await again.close();
});

test("legacy HTTP+SSE: the SDK's SSEClientTransport lists and calls tools", async (t) => {
  const client = new Client({ name: "e2e-sse", version: "1.0.0" });
  await client.connect(new SSEClientTransport(new URL("/sse", url)));
  const { tools } = await client.listTools();
  t.true(tools.some((tool) => tool.name === "alpha-echo"));
  const result = await client.callTool({ name: "alpha-echo", arguments: { text: "over sse" } });
  t.deepEqual(result.content, [{ type: "text", text: "over sse" }]);
  await client.close();
});

test("a foreign Host or Origin is refused with 403 on every route of the real process", async (t) => {
  const port = Number(url.port);
  for (const path of ["/mcp", "/sse", "/message?sessionId=x", "/healthz"]) {
    const foreign: Array<Record<string, string>> = [{ host: "evil.com" }, { host: `localhost.evil.com:${port}` }, { host: `localhost:${port}`, origin: "http://evil.com" }];
    for (const headers of foreign) {
      const method = path.startsWith("/message") || path === "/mcp" ? "POST" : "GET";
      const result = await raw(port, method, path, { ...headers, "content-type": "application/json", accept: "application/json, text/event-stream" }, method === "POST" ? "{}" : undefined);
      t.is(result.status, 403, `${method} ${path} ${JSON.stringify(headers)}`);
    }
  }
  const health = await raw(port, "GET", "/healthz", { host: `localhost:${port}` });
  t.is(health.status, 200);
  t.is(JSON.parse(health.body).status, "ok");
});

test("concurrent sessions using the same JSON-RPC ids each get their own answers", async (t) => {
  const clients = await Promise.all(
    Array.from({ length: 10 }, async (_, i) => {
      const client = new Client({ name: `e2e-${i}`, version: "1.0.0" });
      await client.connect(new StreamableHTTPClientTransport(url));
      return client;
    }),
  );
  const results = await Promise.all(clients.map((client, i) => client.callTool({ name: "alpha-echo", arguments: { text: `session ${i}` } })));
  t.deepEqual(results.map((r) => r.content), clients.map((_, i) => [{ type: "text", text: `session ${i}` }]));
  await Promise.all(clients.map((client) => client.close()));
});
