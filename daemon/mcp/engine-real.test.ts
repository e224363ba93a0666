import test, { type ExecutionContext } from "ava";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  type ClientCapabilities,
} from "@modelcontextprotocol/sdk/types.js";
import { pathToFileURL } from "node:url";
import { silentLogger } from "../../shared/logger.js";
import type { ServerConfig } from "../config/types.js";
import { createSupervisor } from "../supervisor/supervisor.js";
import { fixturePath, repoRoot, serverEverythingPath, tempHome } from "../supervisor/test-support.js";
import { createMcpEngine } from "./engine.js";
import { jsonText, SessionClientTransport } from "./testing/session-harness.js";

type Json = Record<string, any>;

const serverMemoryPath = join(repoRoot, "node_modules/@modelcontextprotocol/server-memory/dist/index.js");

function nodeServer(name: string, args: string[], env: Record<string, string> = {}): ServerConfig {
  return {
    name,
    command: process.execPath,
    args,
    env,
    enabled: true,
    startup: "eager",
    idleTimeoutMs: 600_000,
    startupTimeoutMs: 60_000,
    prefix: name,
  };
}

/** The engine over the real supervisor, running server-everything and server-memory as child processes. */
async function setup(t: ExecutionContext) {
  const home = tempHome(t);
  return setupWith(t, [
    nodeServer("everything", [serverEverythingPath, "stdio"]),
    nodeServer("memory", [serverMemoryPath], { MEMORY_FILE_PATH: join(home, "memory.jsonl") }),
  ]);
}

/** The engine over the real supervisor running `servers` as child processes. */
async function setupWith(t: ExecutionContext, servers: ServerConfig[]) {
  const supervisor = createSupervisor({ servers, logger: silentLogger });
  const engine = createMcpEngine({ supervisor, logger: silentLogger, version: "0.0.0-test", acquireTimeoutMs: 60_000 });
  t.teardown(async () => {
    engine.close();
    await supervisor.shutdown();
  });
  await supervisor.start();
  const connect = async (name: string, withSampling = false) => {
    const client = new Client({ name, version: "1" }, { capabilities: withSampling ? { sampling: {} } : {} });
    if (withSampling) {
      client.setRequestHandler(CreateMessageRequestSchema, async () => ({
        role: "assistant",
        model: name,
        content: { type: "text", text: `answer from ${name}` },
      }));
    }
    const transport = new SessionClientTransport(engine);
    await client.connect(transport);
    t.teardown(() => client.close());
    return { client, transport };
  };
  return { supervisor, engine, connect };
}

test("real servers: namespaced lists and results deep-equal to a direct call of the same server", async (t) => {
  const { supervisor, connect } = await setup(t);
  const { client } = await connect("ide");
  const tools = (await client.listTools()).tools;
  const names = tools.map((tool) => tool.name);
  for (const name of ["everything-echo", "everything-get-tiny-image", "everything-trigger-long-running-operation", "memory-create_entities", "memory-read_graph"]) {
    t.true(names.includes(name), name);
  }
  for (const name of names) t.regex(name, /^[A-Za-z0-9_-]{1,64}$/);
  const direct = await supervisor.acquire("everything");
  for (const [tool, args] of [
    ["echo", { message: "hi" }],
    ["get-tiny-image", {}],
    ["get-structured-content", { location: "New York" }],
    ["get-annotated-message", { messageType: "error", includeImage: true }],
    ["get-resource-links", { count: 2 }],
    ["get-sum", { a: 1, b: 2 }],
  ] as const) {
    const viaGateway = await client.callTool({ name: `everything-${tool}`, arguments: args });
    const viaDirect = await direct.request("tools/call", { name: tool, arguments: args });
    t.deepEqual(viaGateway as Json, viaDirect as Json, tool);
  }
  const created = await client.callTool({ name: "memory-create_entities", arguments: { entities: [{ name: "gw", entityType: "thing", observations: ["o"] }] } });
  t.falsy(created.isError);
  const graph = await client.callTool({ name: "memory-read_graph", arguments: {} });
  t.regex(JSON.stringify(graph), /"gw"/);
});

test("real servers: progress reaches only the calling session; sampling answered by the caller", async (t) => {
  const { connect } = await setup(t);
  const a = await connect("a", true);
  const b = await connect("b", true);
  const progress: number[] = [];
  const [long] = await Promise.all([
    a.client.callTool({ name: "everything-trigger-long-running-operation", arguments: { duration: 1, steps: 2 } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    }),
    b.client.callTool({ name: "everything-echo", arguments: { message: "meanwhile" } }),
  ]);
  t.regex(JSON.stringify(long), /Long running operation completed/);
  t.deepEqual(progress, [1, 2]);
  const progressFramesOfB = b.transport.frames.filter((f) => f.kind === "message" && jsonText(f.json).includes("notifications/progress"));
  t.is(progressFramesOfB.length, 0);
  const sampled = await b.client.callTool({ name: "everything-trigger-sampling-request", arguments: { prompt: "p", maxTokens: 5 } });
  t.regex(JSON.stringify(sampled), /answer from b/);
  t.notRegex(JSON.stringify(sampled), /answer from a/);
});

test("real servers: concurrent sampling calls on one server-everything are each answered by their own session", async (t) => {
  const { connect } = await setup(t);
  const sessions = await Promise.all(["a", "b", "c"].map((name) => connect(name, true)));
  const results = await Promise.all(
    sessions.map(({ client }, index) =>
      client.callTool({ name: "everything-trigger-sampling-request", arguments: { prompt: `prompt ${index}`, maxTokens: 5 } }),
    ),
  );
  results.forEach((result, index) => t.regex(JSON.stringify(result), new RegExp(`answer from ${["a", "b", "c"][index]}`), `session ${index}`));
  for (const { transport } of sessions) {
    t.is(transport.frames.filter((f) => f.kind === "message" && jsonText(f.json).includes("sampling/createMessage")).length, 1, "one request per session");
  }
});

test("real servers: management tools disable and enable a supervised process", async (t) => {
  const { supervisor, engine, connect } = await setup(t);
  engine.setManagementTools(true);
  const { client } = await connect("admin");
  const pidBefore = supervisor.get("memory").pid;
  const disabled = (await client.callTool({ name: "memory-manage", arguments: { action: "disable" } })) as Json;
  t.like(disabled.structuredContent, { server: "memory", state: "stopped", enabled: false });
  t.is(supervisor.get("memory").pid, undefined);
  const names = (await client.listTools()).tools.map((tool) => tool.name);
  t.false(names.includes("memory-read_graph"));
  t.true(names.includes("memory-manage"));
  const enabled = (await client.callTool({ name: "memory-manage", arguments: { action: "enable" } })) as Json;
  t.is(enabled.structuredContent.enabled, true);
  const graph = await client.callTool({ name: "memory-read_graph", arguments: {} });
  t.falsy(graph.isError);
  const status = (await client.callTool({ name: "memory-manage", arguments: { action: "status" } })) as Json;
  t.like(status.structuredContent, { server: "memory", state: "running", enabled: true });
  t.not(status.structuredContent.pid, pidBefore, "a new process");
});

/** A real SDK client on an engine session that records every server-to-client request it gets. */
async function connectRecording(t: ExecutionContext, engine: ReturnType<typeof createMcpEngine>, name: string, capabilities: ClientCapabilities) {
  const asked: string[] = [];
  const client = new Client({ name, version: "1" }, { capabilities });
  if (capabilities.roots) {
    client.setRequestHandler(ListRootsRequestSchema, async () => {
      asked.push("roots/list");
      return { roots: [{ uri: `file:///home/${name}/private`, name: `${name}-private` }] };
    });
  }
  if (capabilities.sampling) {
    client.setRequestHandler(CreateMessageRequestSchema, async () => {
      asked.push("sampling/createMessage");
      return { role: "assistant", model: name, content: { type: "text", text: `secret of ${name}` } };
    });
  }
  if (capabilities.elicitation) {
    client.setRequestHandler(ElicitRequestSchema, async () => {
      asked.push("elicitation/create");
      return { action: "accept", content: { password: `password of ${name}` } };
    });
  }
  const transport = new SessionClientTransport(engine);
  await client.connect(transport);
  t.teardown(() => client.close());
  return { client, asked, transport };
}

/** Waits (bounded generously) until the gateway lists `tool`: the supervisor starts servers without waiting for their catalogs. */
async function waitForTool(client: Client, tool: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await client.listTools()).tools.some((listed) => listed.name === tool)) {
    if (Date.now() > deadline) throw new Error(`the gateway never listed ${tool}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const hostileServer = (): ServerConfig => nodeServer("hostile", [fixturePath("hostile-server.mjs")]);

test("real servers: a hostile server spraying guessed progress tokens, cancellations and responses cannot touch another server's call", async (t) => {
  const { engine } = await setupWith(t, [nodeServer("everything", [serverEverythingPath, "stdio"]), hostileServer()]);
  const victim = await connectRecording(t, engine, "victim", {});
  const attacker = await connectRecording(t, engine, "attacker", {});
  await waitForTool(attacker.client, "hostile-spray_progress");
  const progress: Json[] = [];
  let spraying: Promise<unknown> | undefined;
  const long = await victim.client.callTool(
    { name: "everything-trigger-long-running-operation", arguments: { duration: 3, steps: 6 } },
    undefined,
    {
      onprogress: (p) => {
        progress.push(p);
        // Once the victim's call is known to be in flight (and its token issued), the hostile server sprays for 2 s.
        spraying ??= attacker.client
          .callTool({ name: "hostile-spray_progress", arguments: { count: 100, durationMs: 2_000, intervalMs: 50 } })
          .catch((error: unknown) => error);
      },
    },
  );
  await spraying;
  t.regex(JSON.stringify(long), /Long running operation completed/);
  t.deepEqual(progress.map((p) => p.progress), [1, 2, 3, 4, 5, 6], "only server-everything's own progress");
  t.false(victim.transport.frames.some((f) => f.kind === "message" && jsonText(f.json).includes("injected")), "nothing the hostile server sent");
  t.is(victim.transport.frames.filter((f) => f.kind === "message" && jsonText(f.json).includes("notifications/cancelled")).length, 0);
  const after = await victim.client.callTool({ name: "everything-echo", arguments: { message: "still fine" } });
  t.regex(JSON.stringify(after), /still fine/);
});

test("real servers: roots/list outside a call gets the server's configured roots or none, and requests from a server without a call in flight reach no session", async (t) => {
  const home = tempHome(t);
  const docs = join(home, "team docs");
  const { engine, supervisor } = await setupWith(t, [
    { ...nodeServer("everything", [serverEverythingPath, "stdio"]), roots: [{ uri: pathToFileURL(docs).href, name: "team docs" }] },
    hostileServer(),
  ]);
  const all: ClientCapabilities = { roots: { listChanged: true }, sampling: {}, elicitation: {} };
  const rooted = await connectRecording(t, engine, "rooted", all);
  await rooted.client.ping();
  // server-everything asks roots/list 350 ms after initialize, outside any call: a restart makes it ask while
  // a session with roots is the most recently active one.
  await supervisor.restart("everything");
  const plain = await connectRecording(t, engine, "plain", {});
  await waitForTool(plain.client, "hostile-ask_roots");
  await waitForTool(plain.client, "everything-get-roots-list");
  const listed = JSON.stringify(await plain.client.callTool({ name: "everything-get-roots-list", arguments: {} }));
  t.true(listed.includes(pathToFileURL(docs).href), listed);
  t.false(listed.includes("private"), "never the rooted session's roots");

  // A session with every capability has a call in flight on server-everything only; the hostile server asks outside any call.
  const busy = await connectRecording(t, engine, "busy", all);
  const inFlight = busy.client.callTool({ name: "everything-trigger-long-running-operation", arguments: { duration: 2, steps: 2 } });
  await plain.client.callTool({ name: "hostile-ask_roots", arguments: { when: "after", delayMs: 100 } });
  let answers: Json[] = [];
  const deadline = Date.now() + 30_000;
  while (answers.length < 3 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const result = (await plain.client.callTool({ name: "hostile-last_answers", arguments: {} })) as Json;
    answers = JSON.parse(result.content[0].text);
  }
  await inFlight;
  t.deepEqual(answers.map((a) => a.method), ["roots/list", "sampling/createMessage", "elicitation/create"]);
  t.deepEqual(answers[0]!.result, { roots: [] }, "nothing configured for the hostile server: empty");
  t.regex(answers[1]!.error.message, /no client can answer sampling\/createMessage for server "hostile"/);
  t.regex(answers[2]!.error.message, /no client can answer elicitation\/create for server "hostile"/);
  t.deepEqual(busy.asked, [], "the session with a call on another server was never asked");
  t.deepEqual(rooted.asked, [], "nor the most recently active session with roots");
});

test("real servers: new configured roots without a restart reach the running server through roots/list_changed", async (t) => {
  const home = tempHome(t);
  const before = { uri: pathToFileURL(join(home, "before")).href, name: "before" };
  const after = { uri: pathToFileURL(join(home, "after")).href, name: "after" };
  const everything = nodeServer("everything", [serverEverythingPath, "stdio"]);
  const { engine, supervisor } = await setupWith(t, [{ ...everything, roots: [before] }]);
  const client = await connectRecording(t, engine, "plain", {});
  await waitForTool(client.client, "everything-get-roots-list");
  const rootsText = async (): Promise<string> => JSON.stringify(await client.client.callTool({ name: "everything-get-roots-list", arguments: {} }));
  t.true((await rootsText()).includes(before.uri));
  const pid = supervisor.get("everything").pid;
  await supervisor.replaceServers([{ ...everything, roots: [after] }]);
  let listed = "";
  const deadline = Date.now() + 30_000;
  while (!listed.includes(after.uri) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    listed = await rootsText();
  }
  t.true(listed.includes(after.uri), listed);
  t.false(listed.includes(before.uri));
  t.is(supervisor.get("everything").pid, pid, "the same process: only told, not restarted");
});
