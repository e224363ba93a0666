import test from "ava";
import { createInterface } from "node:readline";
import { PassThrough } from "node:stream";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { CreateMessageRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import * as z from "zod";
import { GatewayError } from "../errors.js";
import { createUpstreamConnection, GATEWAY_CLIENT_CAPABILITIES } from "./connection.js";
import type { MessageTransport } from "./message-transport.js";
import { RawJson } from "./raw-json.js";
import { createStdioMessageTransport, RAW_RESULT_MIN_BYTES } from "./stdio-transport.js";
import { UpstreamRpcError, type JsonObject } from "./types.js";

/** An SDK server on one end of a linked in-memory pair; the other end is our seam. */
async function linkedServer() {
  const server = new McpServer({ name: "in-memory", version: "2.0.0" }, { instructions: "be nice" });
  let cancelled = 0;
  server.registerTool("echo", { inputSchema: { text: z.string() } }, async ({ text }) => ({
    content: [{ type: "text", text }],
    structuredContent: { text },
  }));
  server.registerTool("slow", {}, async (extra) => {
    await new Promise<void>((resolve) => extra.signal.addEventListener("abort", () => resolve()));
    cancelled++;
    return { content: [] };
  });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const transport: MessageTransport = clientSide;
  return { server, transport, cancelled: () => cancelled };
}

test("initialize declares our capabilities, negotiates the version and exposes the identity", async (t) => {
  const { server, transport } = await linkedServer();
  const connection = await createUpstreamConnection({ serverName: "mem", transport });
  t.teardown(() => connection.close());
  t.is(connection.identity.protocolVersion, "2025-11-25");
  t.is(connection.identity.serverInfo.name, "in-memory");
  t.is(connection.identity.instructions, "be nice");
  t.truthy(connection.identity.capabilities.tools);
  const declared = server.server.getClientCapabilities() as JsonObject;
  t.deepEqual(Object.keys(declared).sort(), Object.keys(GATEWAY_CLIENT_CAPABILITIES).sort());
  t.deepEqual(declared.roots, { listChanged: true });
});

test("request resolves the result untouched and keeps JSON-RPC errors", async (t) => {
  const { transport } = await linkedServer();
  const connection = await createUpstreamConnection({ serverName: "mem", transport });
  t.teardown(() => connection.close());
  const result = await connection.request("tools/call", { name: "echo", arguments: { text: "hi" } });
  t.deepEqual(result, { content: [{ type: "text", text: "hi" }], structuredContent: { text: "hi" } });
  const error = await t.throwsAsync(connection.request("no/such/method", {}), { instanceOf: UpstreamRpcError });
  t.is(error?.code, -32601);
});

test("abort sends notifications/cancelled upstream and rejects at once", async (t) => {
  const { transport, cancelled } = await linkedServer();
  const connection = await createUpstreamConnection({ serverName: "mem", transport });
  t.teardown(() => connection.close());
  const controller = new AbortController();
  const call = connection.request("tools/call", { name: "slow", arguments: {} }, { signal: controller.signal });
  await new Promise((resolve) => setTimeout(resolve, 20));
  controller.abort("user pressed ctrl-c");
  const error = await t.throwsAsync(call, { instanceOf: GatewayError });
  t.is(error?.kind, "cancelled");
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.is(cancelled(), 1);
  t.deepEqual(await connection.request("ping", undefined), {});
});

test("answers the server's ping itself and routes other server requests to the handlers", async (t) => {
  const { server, transport } = await linkedServer();
  const connection = await createUpstreamConnection({ serverName: "mem", transport });
  t.teardown(() => connection.close());
  t.deepEqual(await server.server.ping(), {});
  t.deepEqual(await server.server.listRoots(), { roots: [] }, "default: no roots yet");
  await t.throwsAsync(
    server.server.request({ method: "sampling/createMessage", params: { messages: [], maxTokens: 1 } }, CreateMessageRequestSchema),
    { message: /method not found/ },
  );
  const seen: string[] = [];
  connection.setHandlers({
    onNotification: (method) => seen.push(method),
    async onRequest(method, params) {
      if (method === "sampling/createMessage") return { role: "assistant", content: { type: "text", text: "ok" }, model: "m" };
      throw new UpstreamRpcError(-32000, "nope", { why: params?.why });
    },
  });
  const sampled = await server.server.createMessage({ messages: [], maxTokens: 1 });
  t.is(sampled.model, "m");
  await server.server.sendLoggingMessage({ level: "info", data: "x" }).catch(() => undefined);
  await server.sendToolListChanged();
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.true(seen.includes("notifications/tools/list_changed"));
});

test("closing rejects pending requests with unavailable and aborts closed", async (t) => {
  const { transport } = await linkedServer();
  const connection = await createUpstreamConnection({ serverName: "mem", transport });
  const call = connection.request("tools/call", { name: "slow", arguments: {} });
  t.false(connection.closed.aborted);
  await connection.close();
  const error = await t.throwsAsync(call, { instanceOf: GatewayError });
  t.is(error?.kind, "unavailable");
  t.is(error?.message, 'server "mem" stopped');
  t.true(connection.closed.aborted);
  await t.throwsAsync(connection.request("ping", undefined), { message: 'server "mem" stopped' });
});

test("a server answering an unknown protocol version is refused", async (t) => {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  serverSide.onmessage = (message) => {
    const request = message as { id?: number; method?: string };
    if (request.method === "initialize") {
      void serverSide.send({
        jsonrpc: "2.0",
        id: request.id!,
        result: { protocolVersion: "1999-01-01", capabilities: {}, serverInfo: { name: "old", version: "0" } },
      });
    }
  };
  await serverSide.start();
  const error = await t.throwsAsync(createUpstreamConnection({ serverName: "old", transport: clientSide }), {
    instanceOf: GatewayError,
  });
  t.regex(error!.message, /server "old" answered an unsupported protocol version/);
});

test("an aborted start rejects with unavailable and closes the transport", async (t) => {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  let closed = false;
  serverSide.onclose = () => (closed = true);
  await serverSide.start();
  const controller = new AbortController();
  const connecting = createUpstreamConnection({ serverName: "mute", transport: clientSide, signal: controller.signal });
  setTimeout(() => controller.abort(), 20);
  const error = await t.throwsAsync(connecting, { instanceOf: GatewayError });
  t.is(error?.message, 'server "mute" did not complete initialize');
  t.true(closed);
});

/** A scripted server on the far end of a stdio transport: answers initialize, then every request with `result`. */
function scriptedStdioServer(result: JsonObject) {
  const input = new PassThrough();
  const output = new PassThrough();
  createInterface({ input }).on("line", (line) => {
    const message = JSON.parse(line) as JsonObject;
    if (message.id === undefined) return;
    const answer =
      message.method === "initialize"
        ? { protocolVersion: "2025-11-25", capabilities: { tools: {} }, serverInfo: { name: "scripted", version: "1" } }
        : result;
    output.write(JSON.stringify({ jsonrpc: "2.0", id: message.id, result: answer }) + "\n");
  });
  return createStdioMessageTransport({ input, output });
}

test("forward hands a large result over as the server's bytes; request parses it", async (t) => {
  const result = { content: [{ type: "text", text: "é".repeat(RAW_RESULT_MIN_BYTES) }] };
  const connection = await createUpstreamConnection({ serverName: "scripted", transport: scriptedStdioServer(result) });
  t.teardown(() => connection.close());
  const forwarded = await connection.forward("tools/call", { name: "big" });
  t.true(forwarded instanceof RawJson);
  t.is(Buffer.concat((forwarded as RawJson).pieces).toString("utf8"), JSON.stringify(result));
  const parsed = await connection.request("tools/call", { name: "big" });
  t.false(parsed instanceof RawJson);
  t.deepEqual(parsed, result);
});
