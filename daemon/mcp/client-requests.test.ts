import test, { type ExecutionContext } from "ava";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  type ClientCapabilities,
} from "@modelcontextprotocol/sdk/types.js";
import { silentLogger } from "../../shared/logger.js";
import { createMcpEngine, type McpEngine } from "./engine.js";
import { canTake, chooseCall, type Caller, type InFlightCall } from "./upstream-router.js";
import { createMemorySupervisor } from "./testing/memory-supervisor.js";
import { jsonText, SessionClientTransport } from "./testing/session-harness.js";
import { createProbe, createTestServer } from "./testing/test-server.js";

type Json = Record<string, any>;

async function setup(t: ExecutionContext, options: { withoutHandlerFactory?: boolean } = {}) {
  const supervisor = createMemorySupervisor(
    [
      { name: "alpha", create: () => createTestServer("alpha", createProbe()) },
      { name: "beta", create: () => createTestServer("beta", createProbe()) },
    ],
    options,
  );
  await supervisor.start();
  const engine = createMcpEngine({ supervisor, logger: silentLogger, version: "1.0.0" });
  t.teardown(async () => {
    engine.close();
    await supervisor.shutdown();
  });
  return { engine, supervisor };
}

interface Seen {
  sampling: string[];
  elicitation: string[];
  roots: number;
}

/** A real SDK client on an engine session that answers sampling, elicitation and roots as `label`. */
async function connectClient(t: ExecutionContext, engine: McpEngine, label: string, capabilities: ClientCapabilities) {
  const seen: Seen = { sampling: [], elicitation: [], roots: 0 };
  const client = new Client({ name: label, version: "1" }, { capabilities });
  if (capabilities.sampling) {
    client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
      const content = request.params.messages[0]!.content as { text: string };
      seen.sampling.push(content.text);
      return { role: "assistant", model: label, content: { type: "text", text: `${label} says ${content.text}` } };
    });
  }
  if (capabilities.elicitation) {
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      seen.elicitation.push(request.params.message);
      return { action: "accept", content: { name: label } };
    });
  }
  if (capabilities.roots) {
    client.setRequestHandler(ListRootsRequestSchema, async () => {
      seen.roots++;
      return { roots: [{ uri: `file:///${label}`, name: label }] };
    });
  }
  const transport = new SessionClientTransport(engine);
  await client.connect(transport);
  t.teardown(() => client.close());
  return { client, seen, transport };
}

function text(result: Json): string {
  return result.content[0].text;
}

test("sampling goes to the calling session only, and its answer back to the server", async (t) => {
  const { engine } = await setup(t);
  const a = await connectClient(t, engine, "A", { sampling: {} });
  const b = await connectClient(t, engine, "B", { sampling: {} });
  const result = await a.client.callTool({ name: "alpha-ask-llm", arguments: { question: "why?" } });
  t.is(text(result), "sampled:A says why?");
  t.deepEqual(a.seen.sampling, ["why?"]);
  t.deepEqual(b.seen.sampling, [], "never delivered to another session");
  const fromB = await b.client.callTool({ name: "beta-ask-llm", arguments: { question: "how?" } });
  t.is(text(fromB), "sampled:B says how?");
  t.deepEqual(a.seen.sampling, ["why?"]);
  const requestFrame = a.transport.frames.find((f) => f.kind === "message" && jsonText(f.json).includes("sampling/createMessage"));
  t.truthy(requestFrame);
  t.not(requestFrame!.kind === "message" && requestFrame!.exchangeId, 0n, "sent on the call's exchange");
});

test("sampling is refused with a JSON-RPC error when the calling session did not declare it", async (t) => {
  const { engine } = await setup(t);
  const able = await connectClient(t, engine, "able", { sampling: {} });
  const unable = await connectClient(t, engine, "unable", {});
  const result = await unable.client.callTool({ name: "alpha-ask-llm", arguments: { question: "q" } });
  t.true(result.isError === true);
  t.regex(text(result), /no client can answer sampling\/createMessage for server "alpha"/);
  t.deepEqual(able.seen.sampling, [], "an idle capable session is not asked");
});

test("elicitation goes to the calling session only, and is refused without the capability", async (t) => {
  const { engine } = await setup(t);
  const a = await connectClient(t, engine, "A", { elicitation: {} });
  const b = await connectClient(t, engine, "B", { elicitation: {} });
  const result = await b.client.callTool({ name: "alpha-ask-user", arguments: {} });
  t.is(text(result), "elicited:accept:B");
  t.deepEqual(b.seen.elicitation, ["your name?"]);
  t.deepEqual(a.seen.elicitation, []);
  const none = await connectClient(t, engine, "C", { sampling: {} });
  const refused = await none.client.callTool({ name: "alpha-ask-user", arguments: {} });
  t.true(refused.isError === true);
  t.regex(text(refused), /elicitation\/create/);
});

test("roots/list: the calling session when it has roots, else the most recently active session with roots, else empty", async (t) => {
  const { engine } = await setup(t);
  const plain = await connectClient(t, engine, "plain", {});
  const none = await plain.client.callTool({ name: "alpha-list-roots", arguments: {} });
  t.is(text(none), "[]");
  const rooted = await connectClient(t, engine, "rooted", { roots: { listChanged: true } });
  const own = await rooted.client.callTool({ name: "alpha-list-roots", arguments: {} });
  t.is(text(own), JSON.stringify(["file:///rooted"]));
  const other = await connectClient(t, engine, "other", { roots: {} });
  await other.client.ping();
  const fallback = await plain.client.callTool({ name: "beta-list-roots", arguments: {} });
  t.is(text(fallback), JSON.stringify(["file:///other"]), "the most recently active session with roots answers");
  t.is(rooted.seen.roots, 1);
});

test("an SDK client sees the gateway as one server: list, call, prompts, resources", async (t) => {
  const { engine } = await setup(t);
  const { client } = await connectClient(t, engine, "sdk", {});
  t.is(client.getServerVersion()?.name, "deploystack-gateway");
  const tools = await client.listTools();
  t.true(tools.tools.some((tool) => tool.name === "alpha-echo" && tool.outputSchema !== undefined));
  const result = await client.callTool({ name: "alpha-echo", arguments: { text: "hey" } });
  t.deepEqual(result.structuredContent, { echoed: "hey", server: "alpha" });
  const prompt = await client.getPrompt({ name: "alpha-greet", arguments: { name: "zoe" } });
  t.is((prompt.messages[0]!.content as { text: string }).text, "hello zoe from alpha");
  const read = await client.readResource({ uri: "mem://beta/items/3" });
  t.is((read.contents[0] as { text: string }).text, "item 3 of beta");
  const progress: number[] = [];
  await client.callTool({ name: "beta-slow", arguments: { ms: 10 } }, undefined, { onprogress: (p) => progress.push(p.progress) });
  t.deepEqual(progress, [1, 2]);
});

test("capability checks: url elicitation needs elicitation.url, sampling with tools needs sampling.tools", (t) => {
  const caller = (capabilities: Caller["capabilities"]): Caller => ({ capabilities, clientRequest: async () => ({}) });
  t.true(canTake(caller({ elicitation: {} }), "elicitation/create", { message: "m" }));
  t.false(canTake(caller({ elicitation: {} }), "elicitation/create", { mode: "url", url: "https://x" }));
  t.true(canTake(caller({ elicitation: { url: {} } }), "elicitation/create", { mode: "url" }));
  t.false(canTake(caller({ elicitation: { url: {} } }), "elicitation/create", { mode: "form" }));
  t.true(canTake(caller({ sampling: {} }), "sampling/createMessage", {}));
  t.false(canTake(caller({ sampling: {} }), "sampling/createMessage", { tools: [] }));
  t.true(canTake(caller({ sampling: { tools: {} } }), "sampling/createMessage", { tools: [] }));
  t.false(canTake({ capabilities: { sampling: {} } }, "sampling/createMessage", {}), "typed RPC callers take nothing");
});

test("concurrent calls of the same sampling tool from three sessions: each request goes to the session whose call caused it", async (t) => {
  const { engine } = await setup(t);
  const a = await connectClient(t, engine, "A", { sampling: {} });
  const b = await connectClient(t, engine, "B", { sampling: {} });
  const c = await connectClient(t, engine, "C", { sampling: {} });
  const [fromA, fromB, fromC] = await Promise.all([
    a.client.callTool({ name: "alpha-ask-llm-together", arguments: { question: "qa", together: 3 } }),
    b.client.callTool({ name: "alpha-ask-llm-together", arguments: { question: "qb", together: 3 } }),
    c.client.callTool({ name: "alpha-ask-llm-together", arguments: { question: "qc", together: 3 } }),
  ]);
  t.is(text(fromA), "sampled:A says qa");
  t.is(text(fromB), "sampled:B says qb");
  t.is(text(fromC), "sampled:C says qc");
  t.deepEqual([a.seen.sampling, b.seen.sampling, c.seen.sampling], [["qa"], ["qb"], ["qc"]]);
});

test("a long-running call on the same server does not take the sampling request of a later call", async (t) => {
  const { engine } = await setup(t);
  const busy = await connectClient(t, engine, "busy", { sampling: {} });
  const asker = await connectClient(t, engine, "asker", { sampling: {} });
  const slow = busy.client.callTool({ name: "alpha-slow", arguments: { ms: 1_500 } });
  await new Promise((resolve) => setTimeout(resolve, 100));
  const result = await asker.client.callTool({ name: "alpha-ask-llm", arguments: { question: "mine" } });
  t.is(text(result), "sampled:asker says mine");
  t.deepEqual(busy.seen.sampling, []);
  t.is(text(await slow), "alpha:slow:");
});

test("sampling from two different servers at once goes to each server's own caller", async (t) => {
  const { engine } = await setup(t);
  const a = await connectClient(t, engine, "A", { sampling: {} });
  const b = await connectClient(t, engine, "B", { sampling: {} });
  const [fromA, fromB] = await Promise.all([
    a.client.callTool({ name: "alpha-ask-llm", arguments: { question: "to alpha" } }),
    b.client.callTool({ name: "beta-ask-llm", arguments: { question: "to beta" } }),
  ]);
  t.is(text(fromA), "sampled:A says to alpha");
  t.is(text(fromB), "sampled:B says to beta");
  t.deepEqual([a.seen.sampling, b.seen.sampling], [["to alpha"], ["to beta"]]);
});

test("chooseCall: capability first, then fewest asked, then the most recent call's target, oldest first", (t) => {
  const able: Caller = { capabilities: { sampling: {} }, clientRequest: async () => ({}) };
  const unable: Caller = { capabilities: {}, clientRequest: async () => ({}) };
  const call = (seq: number, target: string, asked = 0, caller = able): InFlightCall => ({ caller, seq, target, asked });
  const sampling = "sampling/createMessage";
  t.is(chooseCall([], sampling, {}), undefined);
  t.is(chooseCall([call(1, "tools/call x", 0, unable)], sampling, {}), undefined, "only callers that declared the capability");
  const same = [call(1, "tools/call ask"), call(2, "tools/call ask")];
  t.is(chooseCall(same, sampling, {})?.seq, 1, "the same tool's calls ask in the order they were sent");
  same[0]!.asked = 1;
  t.is(chooseCall(same, sampling, {})?.seq, 2, "a call already asked yields to one not asked yet");
  const mixed = [call(1, "tools/call long-running"), call(2, "tools/call ask")];
  t.is(chooseCall(mixed, sampling, {})?.seq, 2, "a call of another tool running for a while is not the likely cause");
  t.is(chooseCall([call(1, "tools/call ask", 0, unable), call(2, "tools/call ask")], sampling, {})?.seq, 2);
});

test("handlers are on a connection from its start: a log sent while a restarted server initializes reaches sessions", async (t) => {
  let announce = false;
  const supervisor = createMemorySupervisor([
    {
      name: "alpha",
      create: () => {
        const server = createTestServer("alpha", createProbe());
        server.server.oninitialized = () => {
          if (announce) void server.sendLoggingMessage({ level: "notice", data: "hello from a fresh start" });
        };
        return server;
      },
    },
  ]);
  await supervisor.start();
  const engine = createMcpEngine({ supervisor, logger: silentLogger, version: "1.0.0" });
  t.teardown(async () => {
    engine.close();
    await supervisor.shutdown();
  });
  const logs: unknown[] = [];
  const { client } = await connectClient(t, engine, "listener", {});
  client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => void logs.push(notification.params.data));
  announce = true;
  await supervisor.restart("alpha");
  const deadline = Date.now() + 20_000;
  while (logs.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  t.deepEqual(logs, ["hello from a fresh start"]);
});

test("without a handler factory the engine still hooks running servers itself", async (t) => {
  const { engine } = await setup(t, { withoutHandlerFactory: true });
  const a = await connectClient(t, engine, "A", { sampling: {} });
  const result = await a.client.callTool({ name: "alpha-ask-llm", arguments: { question: "hooked?" } });
  t.is(text(result), "sampled:A says hooked?");
});

test("closing an engine leaves a newer engine's upstream handlers in place", async (t) => {
  const { engine: older, supervisor } = await setup(t);
  const newer = createMcpEngine({ supervisor, logger: silentLogger, version: "1.0.0" });
  t.teardown(() => newer.close());
  older.close();
  const a = await connectClient(t, newer, "A", { sampling: {} });
  const result = await a.client.callTool({ name: "alpha-ask-llm", arguments: { question: "still routed?" } });
  t.is(text(result), "sampled:A says still routed?");
});
