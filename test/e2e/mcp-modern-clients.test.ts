import anyTest, { type TestFn } from "ava";
import { Client as ClientV2, StreamableHTTPClientTransport as StreamableHttpV2 } from "@modelcontextprotocol/client";
import { waitUntil } from "./helpers/daemon-process.js";
import { connectGatewayClient } from "./helpers/mcp-clients.js";
import { startGateway, teamFile, type Gateway } from "./helpers/mcp-gateway.js";
import { rawRequest, type RawResponse } from "./helpers/mcp-raw-http.js";

/**
 * `/mcp` serves both eras (MCP 2026-07-28 "Versioning › Backward Compatibility"), through the whole running gateway
 * with server-everything (legacy upstream) and the modern fixture (test/fixtures/servers/modern-server.mjs):
 * - the SDK v2 client pinned to 2026-07-28 talks to it statelessly: discovery, tools of both upstream eras,
 *   progress on the call's own stream, cancellation by closing it, resources, prompts, completion,
 *   `subscriptions/listen`;
 * - raw HTTP checks what the SDK does not show: `resultType`, cache hints, the 400 bodies of -32022/-32020/-32602,
 *   404 for an unknown method, 405 for GET/DELETE without a session, request-scoped log messages;
 * - the SDK v2 client in legacy mode and the v1 client keep their sessions (-32002 stays theirs).
 */

interface Context {
  gateway: Gateway;
}

const test = anyTest as TestFn<Context>;
type Json = Record<string, any>;

const MODERN = "2026-07-28";
const META = {
  "io.modelcontextprotocol/protocolVersion": MODERN,
  "io.modelcontextprotocol/clientCapabilities": {},
  "io.modelcontextprotocol/clientInfo": { name: "raw-modern", version: "1" },
};

test.before(async (t) => {
  t.context = { gateway: await startGateway({ configPath: teamFile("mcp-eras.yaml"), servers: ["modern", "everything"] }) };
});

test.after.always(async (t) => {
  await t.context.gateway?.close();
});

/** The SDK v2 client in modern mode (pinned: no legacy fallback, so a legacy answer would fail the test). */
async function modernClient(t: { teardown(fn: () => unknown): void }, url: string, name = "e2e-modern"): Promise<ClientV2> {
  const client = new ClientV2({ name, version: "1.0.0" }, { versionNegotiation: { mode: { pin: MODERN } } });
  client.onerror = () => undefined;
  await client.connect(new StreamableHttpV2(new URL(url)));
  t.teardown(() => client.close());
  return client;
}

/** One modern POST with the headers the binding requires (overridable), read to its end or `readTimeoutMs`. */
function modernPost(
  url: string,
  message: { id?: number | string; method: string; params?: Json },
  headers: Record<string, string> = {},
  readTimeoutMs?: number,
): Promise<RawResponse> {
  const params: Json = { ...message.params, _meta: { ...META, ...message.params?._meta } };
  const name = params.name ?? params.uri;
  return rawRequest({
    method: "POST",
    url,
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": MODERN,
      "mcp-method": message.method,
      ...(typeof name === "string" ? { "mcp-name": name } : {}),
      ...headers,
    },
    body: JSON.stringify({ jsonrpc: "2.0", ...(message.id !== undefined ? { id: message.id } : {}), method: message.method, params }),
    ...(readTimeoutMs !== undefined ? { readTimeoutMs } : {}),
  });
}

/** The JSON-RPC messages of an SSE body. */
const sseMessages = (body: string): Json[] =>
  body
    .split(/\n\n/)
    .flatMap((event) => event.split("\n").filter((line) => line.startsWith("data: ")).map((line) => line.slice(6)))
    .filter((data) => data.trim() !== "")
    .map((data) => JSON.parse(data) as Json);

const text = (result: Json): string => String((result.content as Json[])[0]?.text ?? "");

test("the v2 client in modern mode: discovery, both upstream eras' tools in a stable order, calls and progress", async (t) => {
  const client = await modernClient(t, t.context.gateway.mcpUrl);
  t.is(client.getServerVersion()?.name, "deploystack-gateway");
  const { tools } = await client.listTools();
  const names = tools.map((tool) => tool.name);
  t.deepEqual(names, [...names].sort(), "tools/list order is deterministic");
  for (const name of ["everything-echo", "modern-echo", "modern-progress"]) t.true(names.includes(name), name);

  t.is(text(await client.callTool({ name: "everything-echo", arguments: { message: "modern to legacy" } })), "Echo: modern to legacy");
  t.is(text(await client.callTool({ name: "modern-echo", arguments: { text: "modern to modern" } })), "modern to modern");

  const modernSteps: number[] = [];
  const done = await client.callTool({ name: "modern-progress", arguments: { n: 3 } }, { onprogress: (p) => void modernSteps.push(p.progress) });
  t.is(text(done), "done 3");
  t.deepEqual(modernSteps, [1, 2, 3]);
  const legacySteps: number[] = [];
  const long = await client.callTool(
    { name: "everything-trigger-long-running-operation", arguments: { duration: 1, steps: 2 } },
    { onprogress: (p) => void legacySteps.push(p.progress) },
  );
  t.true(JSON.stringify(long.content).includes("completed"));
  t.deepEqual(legacySteps, [1, 2], "a legacy server's progress reaches the modern call's own stream");
});

test("the v2 client in modern mode: resources, templates, reads, prompts and completion", async (t) => {
  const client = await modernClient(t, t.context.gateway.mcpUrl, "e2e-modern-resources");
  const { resources } = await client.listResources();
  t.true(resources.some((resource) => resource.uri === "fixture://counter"));
  const { resourceTemplates } = await client.listResourceTemplates();
  t.true(resourceTemplates.some((template) => template.uriTemplate.startsWith("demo://resource/dynamic/")));
  const read = await client.readResource({ uri: "demo://resource/dynamic/text/3" });
  t.true(JSON.stringify(read.contents).includes("3"));
  const error = await t.throwsAsync(client.readResource({ uri: "demo://nowhere/at/all" }));
  t.is((error as { code?: number }).code, -32602, "an unknown resource is -32602 for a modern client");

  const { prompts } = await client.listPrompts();
  t.true(prompts.some((prompt) => prompt.name === "everything-simple-prompt"));
  const prompt = await client.getPrompt({ name: "everything-simple-prompt" });
  t.true(prompt.messages.length > 0);
  const completion = await client.complete({ ref: { type: "ref/prompt", name: "everything-completable-prompt" }, argument: { name: "department", value: "E" } });
  t.true(Array.isArray(completion.completion.values));
});

test("subscriptions/listen: list changes and resource updates fanned in, acknowledged with what can be honoured, tagged", async (t) => {
  const url = t.context.gateway.mcpUrl;
  const listen = rawRequest({
    method: "POST",
    url,
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": MODERN, "mcp-method": "subscriptions/listen" },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: "listen-1",
      method: "subscriptions/listen",
      params: { _meta: META, notifications: { toolsListChanged: true, resourceSubscriptions: ["fixture://counter", "nowhere://x"] } },
    }),
    readTimeoutMs: 8_000,
  });
  // The listener is open once acknowledged; then a tool is added and the resource changes on the modern server.
  const client = await modernClient(t, url, "e2e-modern-listen-trigger");
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  await client.callTool({ name: "modern-add_tool", arguments: {} });
  await client.callTool({ name: "modern-touch", arguments: {} });
  const answer = await listen;
  t.true(answer.timedOut, "the listen stream stays open");
  t.regex(String(answer.headers["content-type"]), /text\/event-stream/);
  const messages = sseMessages(answer.body);
  t.is(messages[0]?.method, "notifications/subscriptions/acknowledged", "acknowledged first");
  t.deepEqual(messages[0]?.params.notifications, { toolsListChanged: true, resourceSubscriptions: ["fixture://counter"] });
  const methods = messages.map((m) => m.method);
  t.true(methods.includes("notifications/tools/list_changed"), methods.join(", "));
  t.true(methods.includes("notifications/resources/updated"), methods.join(", "));
  for (const message of messages) t.is(message.params._meta["io.modelcontextprotocol/subscriptionId"], "listen-1");
  t.false(methods.includes("notifications/message"), "no log messages on a listen stream");
});

test("closing a call's response cancels it upstream", async (t) => {
  const { gateway } = t.context;
  const controller = new AbortController();
  const call = fetch(gateway.mcpUrl, {
    method: "POST",
    signal: controller.signal,
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": MODERN, "mcp-method": "tools/call", "mcp-name": "modern-slow" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "modern-slow", arguments: { ms: 60_000 }, _meta: META } }),
  }).catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  controller.abort();
  await call;
  t.true(await waitUntil(async () => (await gateway.serverLog("modern")).includes("slow: cancelled"), 30_000), "the modern server saw the cancellation");
});

test("raw modern requests: resultType and cache hints, request-scoped log messages, and the spec's refusals with 400/404/405", async (t) => {
  const url = t.context.gateway.mcpUrl;
  const list = await modernPost(url, { id: 1, method: "tools/list" });
  t.is(list.status, 200);
  t.is(list.headers["mcp-session-id"], undefined, "no session for a modern request");
  const listed = JSON.parse(list.body) as Json;
  t.deepEqual([listed.result.resultType, listed.result.cacheScope, typeof listed.result.ttlMs], ["complete", "private", "number"]);
  const called = JSON.parse((await modernPost(url, { id: 2, method: "tools/call", params: { name: "everything-echo", arguments: { message: "x" } } })).body) as Json;
  t.is(called.result.resultType, "complete", "added to a legacy server's result");

  const logged = await modernPost(url, { id: 3, method: "tools/call", params: { name: "modern-log", arguments: { text: "for this call" }, _meta: { "io.modelcontextprotocol/logLevel": "info" } } });
  const logMessages = sseMessages(logged.body);
  t.true(logMessages.some((m) => m.method === "notifications/message"), "a request that sets a level gets its log messages");
  t.is(logMessages.at(-1)?.id, 3);
  const quiet = await modernPost(url, { id: 4, method: "tools/call", params: { name: "modern-log", arguments: { text: "no level" } } });
  const quietMessages = quiet.headers["content-type"]?.includes("event-stream") ? sseMessages(quiet.body) : [JSON.parse(quiet.body) as Json];
  t.false(quietMessages.some((m) => m.method === "notifications/message"), "none without a level");

  const unsupported = await modernPost(url, { id: 5, method: "tools/list", params: { _meta: { "io.modelcontextprotocol/protocolVersion": "2099-01-01" } } }, { "mcp-protocol-version": "2099-01-01" });
  t.is(unsupported.status, 400);
  const unsupportedError = (JSON.parse(unsupported.body) as Json).error;
  t.is(unsupportedError.code, -32022);
  t.is(unsupportedError.data.requested, "2099-01-01");
  t.true(unsupportedError.data.supported.includes(MODERN) && unsupportedError.data.supported.includes("2025-11-25"));

  for (const [headers, why] of [
    [{ "mcp-protocol-version": "2025-11-25" }, "version header differs from _meta"],
    [{ "mcp-method": "tools/list" }, "Mcp-Method differs"],
    [{ "mcp-name": "modern-slow" }, "Mcp-Name differs"],
  ] as const) {
    const refused = await modernPost(url, { id: 6, method: "tools/call", params: { name: "modern-echo", arguments: { text: "x" } } }, headers);
    t.is(refused.status, 400, why);
    t.like(JSON.parse(refused.body), { id: 6, error: { code: -32020 } }, why);
  }
  const encoded = await modernPost(url, { id: 7, method: "tools/call", params: { name: "modern-echo", arguments: { text: "b64" } } }, { "mcp-name": `=?base64?${Buffer.from("modern-echo").toString("base64")}?=` });
  t.is(encoded.status, 200, "a Base64-encoded Mcp-Name is decoded before comparing");

  const noCaps = await modernPost(url, { id: 8, method: "tools/list", params: { _meta: { "io.modelcontextprotocol/clientCapabilities": undefined } } });
  t.is(noCaps.status, 400);
  t.is((JSON.parse(noCaps.body) as Json).error.code, -32602);

  const unknown = await modernPost(url, { id: 9, method: "no/such/method" });
  t.is(unknown.status, 404);
  t.is((JSON.parse(unknown.body) as Json).error.code, -32601);

  for (const method of ["GET", "DELETE"]) {
    const refused = await rawRequest({ method, url, headers: { accept: "text/event-stream" } });
    t.is(refused.status, 405, `${method} without a session`);
  }
});

test("legacy clients keep their sessions: the v1 client, the v2 client in legacy mode, GET with a session, -32002", async (t) => {
  const { gateway } = t.context;
  const v1 = await connectGatewayClient(gateway, "streamable", { name: "e2e-legacy-v1" });
  t.teardown(() => v1.close());
  t.is(((await v1.client.callTool({ name: "everything-echo", arguments: { message: "v1" } })).content as Json[])[0]?.text, "Echo: v1");
  const missing = await t.throwsAsync(v1.client.readResource({ uri: "demo://nowhere/at/all" }));
  t.is((missing as { code?: number }).code, -32002, "a legacy session keeps -32002");

  const v2 = new ClientV2({ name: "e2e-legacy-v2", version: "1.0.0" });
  v2.onerror = () => undefined;
  const transport = new StreamableHttpV2(new URL(gateway.mcpUrl));
  await v2.connect(transport);
  t.teardown(() => v2.close());
  t.truthy(transport.sessionId, "the v2 client in legacy mode has a session");
  t.is(text(await v2.callTool({ name: "modern-echo", arguments: { text: "v2 legacy" } })), "v2 legacy");

  const legacyHeaders = { "content-type": "application/json", accept: "application/json, text/event-stream" };
  const initialized = await rawRequest({
    method: "POST",
    url: gateway.mcpUrl,
    headers: legacyHeaders,
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw-legacy", version: "1" } } }),
  });
  const sessionId = String(initialized.headers["mcp-session-id"]);
  t.truthy(initialized.headers["mcp-session-id"]);
  const get = await rawRequest({
    method: "GET",
    url: gateway.mcpUrl,
    headers: { accept: "text/event-stream", "mcp-session-id": sessionId, "mcp-protocol-version": "2025-11-25" },
    readTimeoutMs: 500,
  });
  t.is(get.status, 200, "a legacy GET with its session still opens the standalone stream");
  const deleted = await rawRequest({ method: "DELETE", url: gateway.mcpUrl, headers: { "mcp-session-id": sessionId, "mcp-protocol-version": "2025-11-25" } });
  t.is(deleted.status, 204, "and DELETE still ends it");
});
