import test, { type ExecutionContext } from "ava";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  type ClientCapabilities,
  type JSONRPCMessage,
} from "@modelcontextprotocol/sdk/types.js";
import { silentLogger } from "../../shared/logger.js";
import { createRecordingLogger } from "./testing/recording-logger.js";
import { createMcpEngine, type McpEngine } from "./engine.js";
import { canTake, chooseCall, type Caller, type InFlightCall } from "./upstream-router.js";
import { createMemorySupervisor, type MemorySupervisor } from "./testing/memory-supervisor.js";
import { jsonText, SessionClientTransport } from "./testing/session-harness.js";
import { createProbe, createTestServer } from "./testing/test-server.js";

type Json = Record<string, any>;

const ALPHA_ROOTS = [{ uri: "file:///srv/alpha-data", name: "alpha-data" }];

async function setup(t: ExecutionContext, options: { withoutHandlerFactory?: boolean; alphaRoots?: boolean } = {}) {
  const probes = { alpha: createProbe(), beta: createProbe() };
  const supervisor = createMemorySupervisor(
    [
      { name: "alpha", create: () => createTestServer("alpha", probes.alpha), ...(options.alphaRoots ? { roots: ALPHA_ROOTS } : {}) },
      { name: "beta", create: () => createTestServer("beta", probes.beta) },
    ],
    options,
  );
  await supervisor.start();
  const logger = createRecordingLogger();
  const engine = createMcpEngine({ supervisor, logger, version: "1.0.0" });
  t.teardown(async () => {
    for (const probe of Object.values(probes)) for (const open of probe.gates.splice(0)) open();
    engine.close();
    await supervisor.shutdown();
  });
  return { engine, supervisor, probes, logger };
}

/** Writes a raw JSON-RPC message from a server's side, as a hostile server would (no SDK rules). */
async function sendAsServer(supervisor: MemorySupervisor, name: string, message: Json): Promise<void> {
  await supervisor.server(name)!.server.transport!.send(message as JSONRPCMessage);
}

/** Waits (bounded generously) until `predicate` holds. */
async function until(predicate: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
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

test("roots/list in a call: the calling session when it declared roots, else the server's configured roots, else empty", async (t) => {
  const { engine } = await setup(t, { alphaRoots: true });
  const plain = await connectClient(t, engine, "plain", {});
  t.is(text(await plain.client.callTool({ name: "beta-list-roots", arguments: {} })), "[]");
  const rooted = await connectClient(t, engine, "rooted", { roots: { listChanged: true } });
  const own = await rooted.client.callTool({ name: "alpha-list-roots", arguments: {} });
  t.is(text(own), JSON.stringify(["file:///rooted"]));
  await rooted.client.ping();
  const configured = await plain.client.callTool({ name: "alpha-list-roots", arguments: {} });
  t.is(text(configured), JSON.stringify(["file:///srv/alpha-data"]), "the server's own roots, not the active session's");
  t.is(text(await plain.client.callTool({ name: "beta-list-roots", arguments: {} })), "[]", "nothing configured: empty");
  t.is(rooted.seen.roots, 1, "the rooted session was asked for its own call only");
});

test("roots/list outside any call: the server's configured roots or empty, never a session's, however recently active", async (t) => {
  const { engine, supervisor } = await setup(t, { alphaRoots: true });
  const rooted = await connectClient(t, engine, "rooted", { roots: { listChanged: true } });
  await rooted.client.ping();
  const alpha = await supervisor.server("alpha")!.server.listRoots();
  t.deepEqual(alpha.roots, ALPHA_ROOTS, "as file:// URIs with names");
  const beta = await supervisor.server("beta")!.server.listRoots();
  t.deepEqual(beta.roots, []);
  t.is(rooted.seen.roots, 0);
  t.false(rooted.transport.frames.some((f) => f.kind === "message" && jsonText(f.json).includes("roots/list")));
});

test("a server-to-client request from server A while the only call in flight is on server B reaches no session", async (t) => {
  const { engine, supervisor, probes } = await setup(t);
  const all: ClientCapabilities = { sampling: {}, elicitation: {}, roots: { listChanged: true } };
  const busy = await connectClient(t, engine, "busy", all);
  const onBeta = busy.client.callTool({ name: "beta-gated", arguments: {} });
  await until(() => probes.beta.gates.length === 1, "the call on beta to be in flight");
  const alpha = supervisor.server("alpha")!.server;
  t.deepEqual((await alpha.listRoots()).roots, [], "roots/list: the server's (empty) configured roots");
  const sampling = await t.throwsAsync(
    alpha.createMessage({ messages: [{ role: "user", content: { type: "text", text: "secrets?" } }], maxTokens: 5 }),
  );
  t.regex(sampling!.message, /no client can answer sampling\/createMessage for server "alpha"/);
  const elicitation = await t.throwsAsync(
    alpha.elicitInput({ message: "password?", requestedSchema: { type: "object", properties: { p: { type: "string" } } } }),
  );
  t.regex(elicitation!.message, /no client can answer elicitation\/create for server "alpha"/);
  t.deepEqual(busy.seen, { sampling: [], elicitation: [], roots: 0 }, "the session with a call on beta was never asked");
  probes.beta.gates.shift()!();
  t.is(text(await onBeta), "beta:gated");
});

test("a client's roots/list_changed reaches every server bare, and a server asking then gets its own roots only", async (t) => {
  const { engine, probes } = await setup(t, { alphaRoots: true });
  const rooted = await connectClient(t, engine, "rooted", { roots: { listChanged: true } });
  await rooted.transport.send({ jsonrpc: "2.0", method: "notifications/roots/list_changed", params: { roots: ["file:///leak"] } } as JSONRPCMessage);
  await until(() => probes.alpha.rootsAfterListChanged.length === 1 && probes.beta.rootsAfterListChanged.length === 1, "both servers to ask");
  t.deepEqual(probes.alpha.rootsAfterListChanged, [["file:///srv/alpha-data"]]);
  t.deepEqual(probes.beta.rootsAfterListChanged, [[]]);
  t.is(rooted.seen.roots, 0);
});

test("new configured roots without a restart: the server is told roots/list_changed and then gets them", async (t) => {
  const { supervisor, probes } = await setup(t, { alphaRoots: true });
  supervisor.setRoots("alpha", ALPHA_ROOTS);
  supervisor.setRoots("beta", [{ uri: "file:///srv/beta-new", name: "beta-new" }]);
  await until(() => probes.beta.rootsAfterListChanged.length === 1, "beta to ask");
  t.deepEqual(probes.beta.rootsAfterListChanged, [["file:///srv/beta-new"]]);
  supervisor.setRoots("alpha", undefined);
  await until(() => probes.alpha.rootsAfterListChanged.length === 1, "alpha to ask");
  t.deepEqual(probes.alpha.rootsAfterListChanged, [[]], "only the change was notified: unchanged roots were not");
});

test("progress tokens are unguessable and per server; a server's progress with another server's token is dropped and counted", async (t) => {
  const { engine, supervisor, probes, logger } = await setup(t);
  const victim = await connectClient(t, engine, "victim", {});
  const progress: Json[] = [];
  const call = victim.client.callTool({ name: "alpha-gated", arguments: {} }, undefined, { onprogress: (p) => progress.push(p) });
  await until(() => progress.length === 1, "the first genuine progress");
  const issued = probes.alpha.progressTokens[0];
  // Beta knows alpha's exact token (as if leaked) and guesses the old sequential ones and the client's.
  const guesses: unknown[] = [issued, ...Array.from({ length: 50 }, (_, i) => `dsgw-${i + 1}`), ...Array.from({ length: 50 }, (_, i) => i)];
  for (const progressToken of guesses) {
    await sendAsServer(supervisor, "beta", { jsonrpc: "2.0", method: "notifications/progress", params: { progressToken, progress: 666, message: "injected" } });
  }
  t.is(text(await victim.client.callTool({ name: "beta-echo", arguments: { text: "after" } })), "beta:after", "beta's messages were all read");
  probes.alpha.gates.shift()!();
  t.is(text(await call), "alpha:gated");
  t.deepEqual(progress.map((p) => p.progress), [1, 2], "only alpha's own progress reached the caller");
  const drops = logger.lines.filter((line) => line.level === "debug" && line.fields.method === "notifications/progress" && line.fields.server === "beta");
  t.is(drops.length, guesses.length);
  const first = drops[0]!.fields.dropped as number;
  t.deepEqual(drops.map((line) => line.fields.dropped), guesses.map((_, i) => first + i), "a running count");
  t.false(victim.transport.frames.some((f) => f.kind === "message" && jsonText(f.json).includes("injected")));
  const mine = await victim.client.callTool({ name: "beta-slow", arguments: { ms: 1 } }, undefined, { onprogress: () => {} });
  t.is(text(mine), "beta:slow:");
  const betaToken = String(probes.beta.progressTokens[0]);
  t.regex(String(issued), /^dsgw-[A-Za-z0-9_-]{16}-\d+$/, "not a sequence number");
  t.regex(betaToken, /^dsgw-[A-Za-z0-9_-]{16}-\d+$/);
  t.not(betaToken.split("-")[1], String(issued).split("-")[1], "each server has its own random prefix");
});

test("a server's responses and notifications/cancelled touch only requests on its own connection", async (t) => {
  const { engine, supervisor, probes } = await setup(t);
  let answer: (() => void) | undefined;
  const asked = new Client({ name: "asked", version: "1" }, { capabilities: { sampling: {} } });
  asked.setRequestHandler(CreateMessageRequestSchema, async () => {
    await new Promise<void>((resolve) => (answer = resolve));
    return { role: "assistant", model: "m", content: { type: "text", text: "genuine answer" } };
  });
  const askedTransport = new SessionClientTransport(engine);
  await asked.connect(askedTransport);
  t.teardown(() => asked.close());
  const victim = await connectClient(t, engine, "victim", {});
  const gated = victim.client.callTool({ name: "alpha-gated", arguments: {} });
  const sampling = asked.callTool({ name: "alpha-ask-llm", arguments: { question: "q" } });
  await until(() => probes.alpha.gates.length === 1 && answer !== undefined, "both calls on alpha in flight");
  for (let id = 0; id <= 60; id++) {
    await sendAsServer(supervisor, "beta", { jsonrpc: "2.0", id, result: { content: [{ type: "text", text: "injected response" }] } });
    await sendAsServer(supervisor, "beta", { jsonrpc: "2.0", id: String(id), error: { code: -32603, message: "injected error" } });
    await sendAsServer(supervisor, "beta", { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: id, reason: "injected" } });
  }
  t.is(text(await victim.client.callTool({ name: "beta-echo", arguments: { text: "after" } })), "beta:after", "beta's messages were all read");
  answer!();
  probes.alpha.gates.shift()!();
  t.is(text(await gated), "alpha:gated");
  t.is(text(await sampling), "sampled:genuine answer", "the sampling request alpha sent was not cancelled by beta");
  t.deepEqual(probes.alpha.cancelled, []);
  for (const frames of [victim.transport.frames, askedTransport.frames]) {
    t.false(frames.some((f) => f.kind === "message" && /injected|notifications\/cancelled/.test(jsonText(f.json))));
  }
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
