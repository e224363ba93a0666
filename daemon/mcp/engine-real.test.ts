import test, { type ExecutionContext } from "ava";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { CreateMessageRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { silentLogger } from "../../shared/logger.js";
import type { ServerConfig } from "../config/types.js";
import { createSupervisor } from "../supervisor/supervisor.js";
import { repoRoot, serverEverythingPath, tempHome } from "../supervisor/test-support.js";
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
  const supervisor = createSupervisor({
    servers: [
      nodeServer("everything", [serverEverythingPath, "stdio"]),
      nodeServer("memory", [serverMemoryPath], { MEMORY_FILE_PATH: join(home, "memory.jsonl") }),
    ],
    logger: silentLogger,
  });
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
