import test, { type ExecutionContext } from "ava";
import { silentLogger } from "../../shared/logger.js";
import { createMcpEngine } from "./engine.js";
import type { Clock } from "./clock.js";
import { createMemorySupervisor } from "./testing/memory-supervisor.js";
import { RawSession } from "./testing/session-harness.js";
import { createProbe, createTestServer } from "./testing/test-server.js";

type Json = Record<string, any>;

async function setup(t: ExecutionContext, options: { clock?: Clock; coldEnabled?: boolean } = {}) {
  const probes = { alpha: createProbe(), beta: createProbe(), cold: createProbe() };
  const supervisor = createMemorySupervisor([
    { name: "alpha", create: () => createTestServer("alpha", probes.alpha) },
    { name: "beta", create: () => createTestServer("beta", probes.beta) },
    { name: "cold", enabled: options.coldEnabled ?? false, create: () => createTestServer("cold", probes.cold) },
  ]);
  await supervisor.start();
  const engine = createMcpEngine({
    supervisor,
    logger: silentLogger,
    version: "9.9.9",
    acquireTimeoutMs: 2_000,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  t.teardown(async () => {
    engine.close();
    await supervisor.shutdown();
  });
  return { supervisor, engine, probes };
}

async function initialized(engine: ReturnType<typeof createMcpEngine>, capabilities: Json = {}): Promise<RawSession> {
  const session = new RawSession(engine);
  await session.initialize(1, capabilities);
  return session;
}

test("initialize: negotiates the version, advertises only routable capabilities, emits initialized first", async (t) => {
  const { engine } = await setup(t);
  for (const [asked, answered] of [
    ["2025-11-25", "2025-11-25"],
    ["2025-06-18", "2025-06-18"],
    ["2025-03-26", "2025-03-26"],
    ["2024-11-05", "2024-11-05"],
    ["1999-01-01", "2025-11-25"],
  ]) {
    const session = new RawSession(engine);
    const response = await session.request(7, "init", "initialize", { protocolVersion: asked, capabilities: {}, clientInfo: { name: "c", version: "1" } });
    t.is(response.id, "init");
    const result = response.result as Json;
    t.is(result.protocolVersion, answered);
    t.deepEqual(result.capabilities, {
      tools: { listChanged: true },
      resources: { subscribe: true, listChanged: true },
      prompts: { listChanged: true },
      completions: {},
      logging: {},
    });
    t.is(result.serverInfo.name, "deploystack-gateway");
    t.is(result.serverInfo.version, "9.9.9");
    t.regex(result.instructions, /alpha, beta/);
    t.deepEqual(session.frames[0], { kind: "initialized", protocolVersion: answered });
    const frames = session.messages(7);
    t.is(frames.length, 1);
    t.true(frames[0]!.exchangeComplete);
    session.session.close();
  }
  t.is(engine.sessionCount(), 0);
});

test("JSON-RPC errors: parse, invalid request, method not found, invalid params, before initialize", async (t) => {
  const { engine } = await setup(t);
  const session = new RawSession(engine);
  const errorOf = async (exchange: number, body: unknown) => {
    session.send(exchange, body);
    const frames = await session.exchange(exchange);
    t.is(frames.length, 1);
    return frames[0]!.message as Json;
  };
  t.deepEqual((await errorOf(1, "{not json")).error.code, -32700);
  t.is((await errorOf(2, "{not json")).id, null);
  t.is((await errorOf(3, "[]")).error.code, -32600);
  t.is((await errorOf(4, { jsonrpc: "1.0", id: 1, method: "ping" })).error.code, -32600);
  t.is((await errorOf(5, { jsonrpc: "2.0", id: null, method: "ping" })).error.code, -32600);
  t.is((await errorOf(6, { jsonrpc: "2.0", id: 2, method: 42 })).error.code, -32600);
  t.is((await errorOf(7, "42")).error.code, -32600);
  const early = await errorOf(8, { jsonrpc: "2.0", id: 3, method: "tools/list" });
  t.is(early.error.code, -32600);
  t.is(early.id, 3);
  t.deepEqual((await errorOf(9, { jsonrpc: "2.0", id: 4, method: "ping" })).result, {}, "ping works before initialize");
  t.is((await errorOf(10, { jsonrpc: "2.0", id: 5, method: "initialize", params: { capabilities: {} } })).error.code, -32602);
  await session.initialize(11);
  t.is((await errorOf(20, { jsonrpc: "2.0", id: 6, method: "initialize", params: { protocolVersion: "2025-11-25" } })).error.code, -32600);
  t.is((await errorOf(21, { jsonrpc: "2.0", id: 7, method: "tasks/list" })).error.code, -32601);
  t.is((await errorOf(22, { jsonrpc: "2.0", id: 8, method: "no/such" })).error.code, -32601);
  t.is((await errorOf(23, { jsonrpc: "2.0", id: 9, method: "tools/call", params: {} })).error.code, -32602);
  t.is((await errorOf(24, { jsonrpc: "2.0", id: 10, method: "tools/call", params: [1] })).error.code, -32602);
  t.is((await errorOf(25, { jsonrpc: "2.0", id: 11, method: "tools/call", params: { name: "x", arguments: 5 } })).error.code, -32602);
  const unknownTool = await errorOf(26, { jsonrpc: "2.0", id: 12, method: "tools/call", params: { name: "nope" } });
  t.is(unknownTool.error.code, -32602);
  t.regex(unknownTool.error.message, /unknown tool "nope"/);
  t.is((await errorOf(27, { jsonrpc: "2.0", id: 13, method: "tools/list", params: { cursor: "abc" } })).error.code, -32602);
  t.is((await errorOf(28, { jsonrpc: "2.0", id: 14, method: "logging/setLevel", params: { level: "loud" } })).error.code, -32602);
  t.is((await errorOf(29, { jsonrpc: "2.0", id: 15, method: "completion/complete", params: { ref: { type: "ref/x" } } })).error.code, -32602);
  const missing = await errorOf(30, { jsonrpc: "2.0", id: 16, method: "resources/read", params: { uri: "mem://nowhere/x" } });
  t.is(missing.error.code, -32002);
  t.deepEqual(missing.error.data, { uri: "mem://nowhere/x" });
  const disabled = await errorOf(31, { jsonrpc: "2.0", id: 17, method: "resources/read", params: { uri: "mem://alpha/items/boom" } });
  t.is(disabled.error.code, -32001, "upstream JSON-RPC errors keep their code");
  t.is(disabled.error.message, "MCP error -32001: boom", "the message is the server's own");
});

test("a disabled server's tool answers an error naming the server", async (t) => {
  const { engine, supervisor } = await setup(t, { coldEnabled: true });
  const session = await initialized(engine);
  t.truthy((await session.request(3, 1, "tools/call", { name: "cold-echo", arguments: { text: "hi" } })).result);
  await supervisor.disable("cold");
  const response = await session.request(4, 2, "tools/call", { name: "cold-echo", arguments: { text: "hi" } });
  t.is((response.error as Json).code, -32603);
  t.regex((response.error as Json).message, /server "cold" is disabled/);
  const list = await session.request(5, 3, "tools/list");
  t.false(((list.result as Json).tools as Json[]).some((tool) => tool.name.startsWith("cold-")));
});

test("tools/list and tools/call: merged names, results untouched (structured content, isError stays a result)", async (t) => {
  const { engine, supervisor } = await setup(t);
  const session = await initialized(engine);
  const list = (await session.request(3, 1, "tools/list")).result as Json;
  const names = (list.tools as Json[]).map((tool) => tool.name);
  t.true(names.includes("alpha-echo") && names.includes("beta-echo") && names.includes("alpha-ask-llm"));
  t.is(list.nextCursor, undefined);
  const call = await session.request(4, 2, "tools/call", { name: "beta-echo", arguments: { text: "hi" } });
  const direct = await supervisor.connection("beta")!.request("tools/call", { name: "echo", arguments: { text: "hi" } });
  t.deepEqual(call.result, direct);
  t.deepEqual((call.result as Json).structuredContent, { echoed: "hi", server: "beta" });
  const failed = await session.request(5, 3, "tools/call", { name: "alpha-fail" });
  t.is((failed.result as Json).isError, true);
  t.is(failed.error, undefined);
});

test("exchange completion: notification-only exchanges, responses, batches", async (t) => {
  const { engine } = await setup(t);
  const session = await initialized(engine);
  session.send(5, { jsonrpc: "2.0", method: "notifications/whatever" });
  t.deepEqual(await session.exchange(5), [{ exchangeId: 5n, message: undefined, exchangeComplete: true }]);
  session.send(6, { jsonrpc: "2.0", id: 999, result: {} });
  t.deepEqual(await session.exchange(6), [{ exchangeId: 6n, message: undefined, exchangeComplete: true }]);
  session.send(7, [
    { jsonrpc: "2.0", id: "a", method: "ping" },
    { jsonrpc: "2.0", method: "notifications/initialized" },
    { jsonrpc: "2.0", id: "b", method: "tools/call", params: { name: "alpha-echo", arguments: { text: "x" } } },
    { jsonrpc: "1.0", id: "c", method: "ping" },
  ]);
  const batch = await session.exchange(7);
  t.is(batch.length, 3, "one frame per response");
  t.deepEqual(batch.map((f) => f.exchangeComplete), [false, false, true]);
  const responses = batch.map((f) => f.message as Json);
  t.deepEqual(responses.map((r) => r.id).sort(), ["a", "b", "c"]);
  t.is(responses.find((r) => r.id === "c")!.error.code, -32600);
  t.is(responses.find((r) => r.id === "b")!.result.content[0].text, "alpha:x");
  session.send(8, [{ jsonrpc: "2.0", method: "notifications/initialized" }]);
  t.deepEqual(await session.exchange(8), [{ exchangeId: 8n, message: undefined, exchangeComplete: true }]);
  // Exchange 0 (stdio, legacy SSE) gets answers but never completion or empty frames.
  session.send(0, { jsonrpc: "2.0", id: "z", method: "ping" });
  session.send(0, { jsonrpc: "2.0", method: "notifications/whatever" });
  const zero = await session.until(() => session.messages(0).find((f) => (f.message as Json | undefined)?.id === "z"));
  t.false(zero.exchangeComplete);
  t.false(session.messages(0).some((f) => f.message === undefined));
});

test("20 concurrent sessions with identical request ids get their own answers, overlapping upstream", async (t) => {
  const { engine, probes } = await setup(t);
  const sessions = await Promise.all(Array.from({ length: 20 }, () => initialized(engine)));
  const answers = await Promise.all(
    sessions.map((session, i) => session.request(3, 1, "tools/call", { name: "alpha-slow", arguments: { ms: 1500, tag: `s${i}` } })),
  );
  answers.forEach((answer, i) => {
    t.is(answer.id, 1);
    t.is((answer.result as Json).content[0].text, `alpha:slow:s${i}`);
  });
  t.is(probes.alpha.maxConcurrent, 20, "all twenty calls ran at the same time upstream");
});

test("progress reaches only the calling session, with its own token, on the call's exchange", async (t) => {
  const { engine, probes } = await setup(t);
  const a = await initialized(engine);
  const b = await initialized(engine);
  const call = (session: RawSession, tag: string) =>
    session.request(9, 1, "tools/call", { name: "alpha-slow", arguments: { ms: 50, tag }, _meta: { progressToken: "tok" } });
  const [ra, rb] = await Promise.all([call(a, "a"), call(b, "b")]);
  t.is((ra.result as Json).content[0].text, "alpha:slow:a");
  t.is((rb.result as Json).content[0].text, "alpha:slow:b");
  for (const [session, tag] of [[a, "a"], [b, "b"]] as const) {
    const progress = session.messages().filter((f) => (f.message as Json | undefined)?.method === "notifications/progress");
    t.is(progress.length, 2);
    for (const frame of progress) {
      t.is(frame.exchangeId, 9n);
      t.false(frame.exchangeComplete);
      t.is((frame.message as Json).params.progressToken, "tok");
    }
    t.is((progress[0]!.message as Json).params.message, `half ${tag}`);
  }
  t.is(probes.alpha.progressTokens.length, 2);
  t.false(probes.alpha.progressTokens.includes("tok"), "upstream tokens are remapped");
  t.not(probes.alpha.progressTokens[0], probes.alpha.progressTokens[1]);
});

test("notifications/cancelled cancels upstream, no response is sent, the exchange completes", async (t) => {
  const { engine, probes } = await setup(t);
  const session = await initialized(engine);
  session.send(3, { jsonrpc: "2.0", id: "long", method: "tools/call", params: { name: "alpha-slow", arguments: { ms: 60_000 } } });
  await session.until(() => probes.alpha.running === 1);
  session.send(4, { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: "long", reason: "user" } });
  t.deepEqual(await session.exchange(3), [{ exchangeId: 3n, message: undefined, exchangeComplete: true }]);
  t.deepEqual(await session.exchange(4), [{ exchangeId: 4n, message: undefined, exchangeComplete: true }]);
  await session.until(() => probes.alpha.cancelled.length === 1);
  t.is(probes.alpha.running, 0);
  const late = await session.request(5, "long", "ping");
  t.deepEqual(late.result, {}, "the id is free again");
});

test("closing a session cancels its calls upstream", async (t) => {
  const { engine, probes } = await setup(t);
  const session = await initialized(engine);
  session.send(3, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "beta-slow", arguments: { ms: 60_000 } } });
  session.send(4, { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "beta-slow", arguments: { ms: 60_000 } } });
  await session.until(() => probes.beta.running === 2);
  session.session.close();
  await session.until(() => probes.beta.cancelled.length === 2);
  t.is(engine.sessionCount(), 0);
});

test("a duplicate in-flight request id is refused", async (t) => {
  const { engine, probes } = await setup(t);
  const session = await initialized(engine);
  session.send(3, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "alpha-slow", arguments: { ms: 60_000 } } });
  await session.until(() => probes.alpha.running === 1);
  const dup = await session.request(4, 1, "tools/list");
  t.is((dup.error as Json).code, -32600);
});

test("resources, templates, read, prompts and completion route by URI and exposed name", async (t) => {
  const { engine } = await setup(t);
  const session = await initialized(engine);
  const resources = ((await session.request(3, 1, "resources/list")).result as Json).resources as Json[];
  t.deepEqual(resources.map((r) => r.uri).sort(), ["mem://alpha/readme", "mem://beta/readme"]);
  const templates = ((await session.request(4, 2, "resources/templates/list")).result as Json).resourceTemplates as Json[];
  t.deepEqual(templates.map((r) => r.uriTemplate).sort(), ["mem://alpha/items/{id}", "mem://beta/items/{id}"]);
  const readme = (await session.request(5, 3, "resources/read", { uri: "mem://beta/readme" })).result as Json;
  t.is(readme.contents[0].text, "readme of beta");
  const item = (await session.request(6, 4, "resources/read", { uri: "mem://alpha/items/7" })).result as Json;
  t.is(item.contents[0].text, "item 7 of alpha");
  const prompts = ((await session.request(7, 5, "prompts/list")).result as Json).prompts as Json[];
  t.deepEqual(prompts.map((p) => p.name), ["alpha-greet", "beta-greet"]);
  const prompt = (await session.request(8, 6, "prompts/get", { name: "beta-greet", arguments: { name: "ann" } })).result as Json;
  t.is(prompt.messages[0].content.text, "hello ann from beta");
  const completion = (await session.request(9, 7, "completion/complete", {
    ref: { type: "ref/prompt", name: "alpha-greet" },
    argument: { name: "name", value: "al" },
  })).result as Json;
  t.deepEqual(completion.completion.values, ["alice", "albert"]);
});

test("subscriptions are reference-counted across sessions and updates reach subscribers only", async (t) => {
  const { engine, probes, supervisor } = await setup(t);
  const a = await initialized(engine);
  const b = await initialized(engine);
  const c = await initialized(engine);
  const uri = "mem://alpha/readme";
  t.deepEqual((await a.request(3, 1, "resources/subscribe", { uri })).result, {});
  t.deepEqual((await b.request(3, 1, "resources/subscribe", { uri })).result, {});
  t.deepEqual(probes.alpha.subscribes, [uri], "one upstream subscription");
  await supervisor.server("alpha")!.server.sendResourceUpdated({ uri });
  const isUpdate = (f: { message: unknown }) => (f.message as Json | undefined)?.method === "notifications/resources/updated";
  await a.until(() => a.messages(0).some(isUpdate));
  await b.until(() => b.messages(0).some(isUpdate));
  await a.request(4, 2, "resources/unsubscribe", { uri });
  t.deepEqual(probes.alpha.unsubscribes, [], "b still subscribed");
  b.session.close();
  await a.until(() => probes.alpha.unsubscribes.length === 1);
  t.deepEqual(probes.alpha.unsubscribes, [uri]);
  t.false(c.messages().some(isUpdate), "c never subscribed");
  const missing = await c.request(5, 3, "resources/subscribe", { uri: "mem://none" });
  t.is((missing.error as Json).code, -32002);
});

test("list changes become one debounced list_changed per initialized session", async (t) => {
  const { createManualClock } = await import("./testing/manual-clock.js");
  const clock = createManualClock();
  const { engine, supervisor } = await setup(t, { clock });
  const a = await initialized(engine);
  const b = await initialized(engine);
  const fresh = new RawSession(engine);
  const before = supervisor.catalogCount("alpha");
  const server = supervisor.server("alpha")!;
  server.registerTool("one", { description: "1" }, async () => ({ content: [] }));
  server.registerTool("two", { description: "2" }, async () => ({ content: [] }));
  await a.until(() => supervisor.catalogCount("alpha") > before && engine.registry.tools("alpha").some((x) => x.exposedName === "alpha-two"));
  const isToolsChanged = (f: { message: unknown }) => (f.message as Json | undefined)?.method === "notifications/tools/list_changed";
  t.false(a.messages().some(isToolsChanged), "nothing before the debounce window ends");
  clock.advance(50);
  for (const session of [a, b]) {
    const changed = session.messages().filter(isToolsChanged);
    t.is(changed.length, 1);
    t.is(changed[0]!.exchangeId, 0n);
  }
  t.is(fresh.frames.length, 0, "a session that did not initialize gets nothing");
});

test("logging: servers get the most verbose level asked for, sessions get what their level admits", async (t) => {
  const { engine, probes, supervisor } = await setup(t);
  const quiet = await initialized(engine);
  const chatty = await initialized(engine);
  const silent = await initialized(engine);
  await quiet.request(3, 1, "logging/setLevel", { level: "error" });
  await chatty.request(3, 1, "logging/setLevel", { level: "info" });
  await quiet.until(() => probes.alpha.setLevels.includes("info") && probes.beta.setLevels.includes("info"));
  t.is(probes.alpha.setLevels[0], "error");
  await supervisor.server("alpha")!.server.sendLoggingMessage({ level: "warning", data: "careful" });
  const isLog = (f: { message: unknown }) => (f.message as Json | undefined)?.method === "notifications/message";
  await chatty.until(() => chatty.messages(0).some(isLog));
  await silent.until(() => silent.messages(0).some(isLog));
  await supervisor.server("alpha")!.server.sendLoggingMessage({ level: "critical", data: "fire" });
  await quiet.until(() => quiet.messages(0).some(isLog));
  t.deepEqual(quiet.messages(0).filter(isLog).map((f) => (f.message as Json).params.data), ["fire"]);
  t.deepEqual(chatty.messages(0).filter(isLog).map((f) => (f.message as Json).params.data).slice(0, 2), ["careful", "fire"]);
});

test("lists and calls wait for servers that are still starting", async (t) => {
  const probe = createProbe();
  const supervisor = createMemorySupervisor([{ name: "alpha", create: () => createTestServer("alpha", probe) }]);
  const engine = createMcpEngine({ supervisor, logger: silentLogger, version: "1", acquireTimeoutMs: 30_000 });
  t.teardown(async () => {
    engine.close();
    await supervisor.shutdown();
  });
  const session = await initialized(engine);
  const starting = supervisor.start();
  t.is(supervisor.get("alpha").state, "starting");
  session.send(3, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "alpha-echo", arguments: { text: "early" } } });
  const list = (await session.request(4, 2, "tools/list")).result as Json;
  t.true((list.tools as Json[]).some((tool) => tool.name === "alpha-echo"));
  const call = await session.exchange(3);
  t.is((call[0]!.message as Json).result.content[0].text, "alpha:early");
  await starting;
});

test("a restarted server keeps serving sessions; subscriptions and log level are re-established", async (t) => {
  const { engine, supervisor, probes } = await setup(t);
  const session = await initialized(engine);
  await session.request(3, 1, "resources/subscribe", { uri: "mem://alpha/readme" });
  await session.request(4, 2, "logging/setLevel", { level: "debug" });
  await session.until(() => probes.alpha.setLevels.includes("debug"));
  t.deepEqual(probes.alpha.subscribes, ["mem://alpha/readme"]);
  await supervisor.restart("alpha");
  await session.until(() => probes.alpha.subscribes.length === 2 && probes.alpha.setLevels.length === 2);
  t.deepEqual(probes.alpha.subscribes, ["mem://alpha/readme", "mem://alpha/readme"]);
  const call = await session.request(5, 3, "tools/call", { name: "alpha-echo", arguments: { text: "again" } });
  t.is((call.result as Json).content[0].text, "alpha:again");
  await supervisor.server("alpha")!.server.sendResourceUpdated({ uri: "mem://alpha/readme" });
  const update = await session.until(() =>
    session.messages(0).find((f) => (f.message as Json | undefined)?.method === "notifications/resources/updated"),
  );
  t.deepEqual((update.message as Json).params, { uri: "mem://alpha/readme" });
});

test("fuzzing: thousands of malformed messages get well-formed answers and the session keeps working", async (t) => {
  const { engine } = await setup(t);
  const session = await initialized(engine);
  let seed = 42;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const methods = ["tools/call", "tools/list", "resources/read", "prompts/get", "completion/complete", "logging/setLevel", "initialize", "ping", "x", "", "resources/subscribe"];
  const values = (): unknown => pick([null, true, 1, -1.5, "s", "", [], [1], {}, { name: 1 }, { uri: 5 }, { name: "nope" }, { level: "x" }, { cursor: 3 }]);
  const messages: string[] = [];
  for (let i = 0; i < 2000; i++) {
    const kind = random();
    if (kind < 0.15) {
      messages.push(String.fromCharCode(...Array.from({ length: 1 + Math.floor(random() * 20) }, () => Math.floor(random() * 128))));
    } else if (kind < 0.25) {
      messages.push(JSON.stringify(values()));
    } else {
      const message: Json = {};
      if (random() < 0.9) message.jsonrpc = random() < 0.9 ? "2.0" : values();
      if (random() < 0.8) message.id = random() < 0.7 ? i + 1000 : values();
      if (random() < 0.9) message.method = random() < 0.8 ? pick(methods) : values();
      if (random() < 0.7) message.params = values();
      if (random() < 0.1) message.result = values();
      messages.push(JSON.stringify(random() < 0.1 ? [message, message] : message));
    }
  }
  let exchange = 1000;
  for (const body of messages) {
    const id = exchange++;
    session.send(id, body);
    const frames = await session.exchange(id);
    t.true(frames.at(-1)!.exchangeComplete);
    for (const frame of frames) {
      if (frame.message === undefined) continue;
      const answer = frame.message as Json;
      t.is(answer.jsonrpc, "2.0");
      if (answer.error) t.true([-32700, -32600, -32601, -32602, -32603, -32002].includes(answer.error.code), JSON.stringify(answer));
    }
  }
  const ping = await session.request(1, "after", "ping");
  t.deepEqual(ping.result, {});
});
