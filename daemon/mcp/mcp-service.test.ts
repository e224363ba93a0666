import test, { type ExecutionContext } from "ava";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { McpService, OpenSessionRequestSchema, type OpenSessionRequest, type OpenSessionResponse } from "../../gen/deploystack/gateway/v1/mcp_service_pb.js";
import { SessionTransport } from "../../gen/deploystack/gateway/v1/mcp_pb.js";
import { silentLogger } from "../../shared/logger.js";
import { createErrorInterceptor } from "../api/errors.js";
import { mcpServiceRoutes } from "../api/mcp-service.js";
import { createMcpEngine } from "./engine.js";
import { createMemorySupervisor } from "./testing/memory-supervisor.js";
import { createProbe, createTestServer } from "./testing/test-server.js";
import { requestStream } from "./testing/request-stream.js";

type Json = Record<string, any>;

async function setup(t: ExecutionContext) {
  const probe = createProbe();
  const supervisor = createMemorySupervisor([
    { name: "alpha", create: () => createTestServer("alpha", probe) },
    { name: "beta", create: () => createTestServer("beta", createProbe()) },
  ]);
  await supervisor.start();
  const engine = createMcpEngine({ supervisor, logger: silentLogger, version: "1.2.3" });
  t.teardown(async () => {
    engine.close();
    await supervisor.shutdown();
  });
  const transport = createRouterTransport(mcpServiceRoutes(engine), { router: { interceptors: [createErrorInterceptor(silentLogger)] } });
  return { engine, probe, client: createClient(McpService, transport) };
}


const encoder = new TextEncoder();
const decoder = new TextDecoder();

function message(exchangeId: number, body: unknown): OpenSessionRequest {
  return create(OpenSessionRequestSchema, {
    frame: { case: "message", value: { exchangeId: BigInt(exchangeId), json: encoder.encode(JSON.stringify(body)) } },
  });
}

test("OpenSession: start, initialize, call, frames with exchange ids; ending the stream closes the session", async (t) => {
  const { client, engine } = await setup(t);
  const requests = requestStream<OpenSessionRequest>();
  const responses = client.openSession(requests)[Symbol.asyncIterator]();
  const next = async (): Promise<OpenSessionResponse> => (await responses.next()).value as OpenSessionResponse;
  requests.push(create(OpenSessionRequestSchema, { frame: { case: "start", value: { sessionId: "abc", transport: SessionTransport.STREAMABLE_HTTP } } }));
  requests.push(message(1, { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {} } }));
  const initialized = await next();
  t.is(initialized.frame.case, "initialized");
  t.is(initialized.frame.case === "initialized" && initialized.frame.value.protocolVersion, "2025-06-18");
  const answer = await next();
  t.is(answer.frame.case, "message");
  if (answer.frame.case !== "message") return;
  t.is(answer.frame.value.exchangeId, 1n);
  t.true(answer.frame.value.exchangeComplete);
  t.is(JSON.parse(decoder.decode(answer.frame.value.json)).result.serverInfo.name, "deploystack-gateway");
  requests.push(message(2, { jsonrpc: "2.0", method: "notifications/initialized" }));
  const ack = await next();
  t.true(ack.frame.case === "message" && ack.frame.value.json.length === 0 && ack.frame.value.exchangeComplete && ack.frame.value.exchangeId === 2n);
  requests.push(message(3, { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "alpha-echo", arguments: { text: "x" } } }));
  const call = await next();
  t.true(call.frame.case === "message" && call.frame.value.exchangeId === 3n);
  t.is(call.frame.case === "message" && JSON.parse(decoder.decode(call.frame.value.json)).result.content[0].text, "alpha:x");
  t.is(engine.sessionCount(), 1);
  requests.end();
  t.true((await responses.next()).done);
  t.is(engine.sessionCount(), 0);
});

test("OpenSession: the first message must be a start", async (t) => {
  const { client } = await setup(t);
  const requests = requestStream<OpenSessionRequest>();
  requests.push(message(1, { jsonrpc: "2.0", id: 1, method: "ping" }));
  const error = await t.throwsAsync(async () => {
    for await (const _ of client.openSession(requests)) void _;
  });
  t.is(ConnectError.from(error).code, Code.InvalidArgument);
});

test("OpenSession: a client that goes away cancels its calls upstream", async (t) => {
  const { client, probe, engine } = await setup(t);
  const requests = requestStream<OpenSessionRequest>();
  const abort = new AbortController();
  const responses = client.openSession(requests, { signal: abort.signal })[Symbol.asyncIterator]();
  requests.push(create(OpenSessionRequestSchema, { frame: { case: "start", value: {} } }));
  requests.push(message(1, { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {} } }));
  await responses.next();
  await responses.next();
  requests.push(message(2, { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "alpha-slow", arguments: { ms: 60_000 } } }));
  while (probe.running === 0) await new Promise((r) => setTimeout(r, 20));
  abort.abort();
  await t.throwsAsync(() => responses.next());
  while (probe.cancelled.length === 0) await new Promise((r) => setTimeout(r, 20));
  t.is(probe.cancelled.length, 1);
  while (engine.sessionCount() > 0) await new Promise((r) => setTimeout(r, 20));
  t.is(engine.sessionCount(), 0);
});

test("typed RPCs: ListTools, CallTool with progress then result, resources and prompts", async (t) => {
  const { client } = await setup(t);
  const tools = await client.listTools({ server: "beta" });
  t.true(tools.tools.length > 0);
  t.true(tools.tools.every((tool) => tool.server === "beta"));
  const echo = tools.tools.find((tool) => tool.name === "beta-echo")!;
  t.is(echo.upstreamName, "echo");
  t.is(echo.description, "echoes text (beta)");
  t.is((echo.definition as Json).name, "beta-echo");
  t.deepEqual((echo.definition as Json).annotations, { readOnlyHint: true });
  const events: string[] = [];
  let result: Json | undefined;
  for await (const event of client.callTool({ name: "alpha-slow", arguments: { ms: 10, tag: "t" } })) {
    events.push(event.event.case ?? "none");
    if (event.event.case === "progress") t.is(event.event.value.total, 2);
    if (event.event.case === "result") result = event.event.value as Json;
  }
  t.deepEqual(events, ["progress", "progress", "result"]);
  t.is(result!.content[0].text, "alpha:slow:t");
  const failed = [];
  for await (const event of client.callTool({ name: "alpha-fail" })) failed.push(event);
  t.is((failed[0]!.event.value as Json).isError, true, "a tool error is a result");
  const resources = await client.listResources({});
  t.deepEqual(resources.resources.map((r) => r.uri).sort(), ["mem://alpha/readme", "mem://beta/readme"]);
  t.deepEqual(resources.resourceTemplates.map((r) => `${r.server}:${r.uri}`).sort(), ["alpha:mem://alpha/items/{id}", "beta:mem://beta/items/{id}"]);
  const read = await client.readResource({ uri: "mem://alpha/items/5" });
  t.is((read.result as Json).contents[0].text, "item 5 of alpha");
  const prompts = await client.listPrompts({});
  t.deepEqual(prompts.prompts.map((p) => p.name), ["alpha-greet", "beta-greet"]);
  const prompt = await client.getPrompt({ name: "alpha-greet", arguments: { name: "kim" } });
  t.is((prompt.result as Json).messages[0].content.text, "hello kim from alpha");
});

test("typed RPCs: errors map to Connect codes; cancelling CallTool cancels upstream", async (t) => {
  const { client, probe } = await setup(t);
  const unknown = await t.throwsAsync(async () => {
    for await (const _ of client.callTool({ name: "nope" })) void _;
  });
  t.is(ConnectError.from(unknown).code, Code.NotFound);
  const missing = await t.throwsAsync(() => client.readResource({ uri: "mem://none" }));
  t.is(ConnectError.from(missing).code, Code.NotFound);
  const upstream = await t.throwsAsync(() => client.readResource({ uri: "mem://alpha/items/boom" }));
  t.regex(ConnectError.from(upstream).message, /boom/);
  const empty = await t.throwsAsync(() => client.getPrompt({ name: "" }));
  t.is(ConnectError.from(empty).code, Code.InvalidArgument);
  const abort = new AbortController();
  const running = (async () => {
    for await (const _ of client.callTool({ name: "alpha-slow", arguments: { ms: 60_000 } }, { signal: abort.signal })) void _;
  })();
  while (probe.running === 0) await new Promise((r) => setTimeout(r, 20));
  abort.abort();
  const cancelled = await t.throwsAsync(running);
  t.is(ConnectError.from(cancelled).code, Code.Canceled);
  while (probe.cancelled.length === 0) await new Promise((r) => setTimeout(r, 20));
  t.is(probe.cancelled.length, 1);
});
