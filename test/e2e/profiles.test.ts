import { renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import { fixtureServer, repoRoot, tempHome, waitForRunning, waitUntil } from "./helpers/daemon-process.js";
import { createHookScope, type HookScope } from "./helpers/mcp-gateway.js";
import { connectGatewayClient, type HttpTransportKind, type RecordingClient } from "./helpers/mcp-clients.js";
import { startControlPlaneGateway, type ControlPlaneGateway } from "./helpers/control-plane-gateway.js";
import { mcpHeaders, rawRequest } from "./helpers/mcp-raw-http.js";
import { dsctlEntry } from "./helpers/mcp-gateway.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { Client as ClientV2, SSEClientTransport as SseTransportV2, StreamableHTTPClientTransport as StreamableTransportV2 } from "@modelcontextprotocol/client";

/**
 * Team profiles and the tool-search mode (issue 14, parts 2 and 3), end to end on one real daemon with real
 * servers (server-memory, server-everything, the fixture) and real v1 SDK clients over both HTTP transports:
 * - a profile's session lists only its tools, and a call outside it is refused exactly like an unknown tool;
 * - an unknown profile is a 404 with a clear message on `/mcp/<p>` and `/sse/<p>`;
 * - `dsctl profiles list` names every profile with its tool count and URL;
 * - a search profile shows `find_tools` and `call_tool`; the ranking puts memory's `delete_entities` first for
 *   "delete entity"; a tool the policy denies is neither found nor callable through `call_tool`; found tools join
 *   the session's list with a `list_changed`;
 * - a profile edited in the team file (hot reload) tells only its own sessions that their list changed.
 */

const node = JSON.stringify(process.execPath);
const memoryEntry = JSON.stringify(join(repoRoot, "node_modules/@modelcontextprotocol/server-memory/dist/index.js"));
const everythingEntry = JSON.stringify(join(repoRoot, "node_modules/@modelcontextprotocol/server-everything/dist/index.js"));
const normal = JSON.stringify(fixtureServer("normal-server.mjs"));

function teamYaml(home: string, options: { memInclude?: string } = {}): string {
  return `${[
    "teams:",
    "  - id: prof",
    "    servers:",
    "      - name: memory",
    `        command: ${node}`,
    `        args: [${memoryEntry}]`,
    `        env: { MEMORY_FILE_PATH: ${JSON.stringify(join(home, "memory.jsonl"))} }`,
    "      - name: everything",
    `        command: ${node}`,
    `        args: [${everythingEntry}, "stdio"]`,
    "      - name: fixture",
    `        command: ${node}`,
    `        args: [${normal}, "--name", "fixture"]`,
    "    policy:",
    '      deny: ["memory-delete_relations"]',
    "    profiles:",
    "      mem:",
    "        description: The knowledge graph only",
    "        servers: [memory]",
    ...(options.memInclude ? [`        include: ["${options.memInclude}"]`] : []),
    "      tiny:",
    "        servers: [fixture]",
    '        include: ["fixture-echo", "fixture-slow"]',
    "      find:",
    "        tools: search",
  ].join("\n")}\n`;
}

let scope: HookScope;
let gateway: ControlPlaneGateway;
let mcpBase: string;
let configPath: string;
let home: string;
const clients: RecordingClient[] = [];

test.before(async () => {
  scope = createHookScope();
  home = tempHome(scope.context);
  configPath = join(home, "team.yaml");
  writeFileSync(configPath, teamYaml(home));
  gateway = await startControlPlaneGateway(scope.context, { configPath, home });
  await waitForRunning(gateway.daemon, ["memory", "everything", "fixture"]);
  mcpBase = (await gateway.mcpUrl()).replace(/\/mcp$/, "");
});

test.after.always(async () => {
  await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
  await scope?.close();
});

async function connect(profile: string, kind: HttpTransportKind = "streamable"): Promise<RecordingClient> {
  const suffix = profile === "" ? "" : `/${profile}`;
  const client = await connectGatewayClient({ mcpUrl: `${mcpBase}/mcp${suffix}`, sseUrl: `${mcpBase}/sse${suffix}` }, kind, { name: `profiles-${profile || "bare"}` });
  clients.push(client);
  return client;
}

const toolNames = async (client: RecordingClient): Promise<string[]> => (await client.client.listTools()).tools.map((tool) => tool.name).sort();

/** The JSON-RPC error a call gets, as code and message. */
async function callError(client: RecordingClient, name: string, args: Record<string, unknown> = {}): Promise<{ code: number; message: string }> {
  try {
    const result = await client.client.callTool({ name, arguments: args });
    throw new Error(`the call succeeded: ${JSON.stringify(result)}`);
  } catch (error) {
    const { code, message } = error as { code: number; message: string };
    return { code, message };
  }
}

for (const kind of ["streamable", "sse"] as const) {
  test.serial(`a profile's session (${kind}) lists only its tools; a call outside it is refused like an unknown tool`, async (t) => {
    const bare = await toolNames(await connect("", kind));
    t.true(bare.includes("fixture-echo") && bare.includes("everything-echo") && bare.includes("memory-read_graph"), bare.join(","));
    t.false(bare.includes("memory-delete_relations"), "the policy's deny applies on the bare path");

    const mem = await connect("mem", kind);
    const memTools = await toolNames(mem);
    t.true(memTools.length > 0);
    t.true(memTools.every((name) => name.startsWith("memory-")), memTools.join(","));
    t.false(memTools.includes("memory-delete_relations"), "a profile cannot widen the policy");

    const tiny = await connect("tiny", kind);
    t.deepEqual(await toolNames(tiny), ["fixture-echo", "fixture-slow"]);
    const echo = await tiny.client.callTool({ name: "fixture-echo", arguments: { text: "inside" } });
    t.deepEqual(echo.content, [{ type: "text", text: "inside" }]);

    // Outside the profile: exactly what a name no server has gets.
    const outside = await callError(tiny, "memory-read_graph");
    const unknown = await callError(tiny, "nobody-has_this");
    t.is(outside.code, unknown.code);
    t.is(outside.message.replace("memory-read_graph", "X"), unknown.message.replace("nobody-has_this", "X"));
    t.regex(outside.message, /unknown tool "memory-read_graph"/);
    // Inside the server but outside the profile's globs, too.
    t.regex((await callError(tiny, "fixture-env_get", { name: "HOME" })).message, /unknown tool "fixture-env_get"/);
    // Prompts and resources are confined to the profile's servers.
    const prompts = (await mem.client.listPrompts()).prompts;
    t.true(prompts.every((prompt) => prompt.name.startsWith("memory-")), JSON.stringify(prompts.map((p) => p.name)));
    const memResources = (await mem.client.listResources()).resources.map((resource) => resource.uri);
    t.true(memResources.every((uri) => uri.startsWith("memory://")), memResources.join(","));
    const bareResources = (await (await connect("", kind)).client.listResources()).resources.map((resource) => resource.uri);
    t.true(bareResources.some((uri) => !uri.startsWith("memory://")), "server-everything's resources on the bare path only");
    const everythingUri = bareResources.find((uri) => !uri.startsWith("memory://"))!;
    const read = await mem.client.readResource({ uri: everythingUri }).then(
      () => "read",
      (error: { code: number }) => error.code,
    );
    t.is(read, -32002, "a resource outside the profile is not found");
  });
}

test.serial("an unknown profile is a 404 that names the team's profiles, on /mcp/<p> and /sse/<p>", async (t) => {
  const initialize = {
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
  };
  const mcp = await rawRequest({ method: "POST", url: `${mcpBase}/mcp/memm`, headers: mcpHeaders(), body: JSON.stringify(initialize) });
  t.is(mcp.status, 404);
  t.regex(mcp.body, /unknown profile \\?"memm\\?" \(the team's profiles: mem, tiny, find\)/);
  t.is(mcp.headers["mcp-session-id"], undefined);
  const sse = await rawRequest({ method: "GET", url: `${mcpBase}/sse/nope`, headers: { accept: "text/event-stream" }, readTimeoutMs: 10_000 });
  t.is(sse.status, 404);
  t.regex(sse.body, /unknown profile/);
  // A session belongs to its URL: another profile's path does not know its id.
  const memSession = await rawRequest({ method: "POST", url: `${mcpBase}/mcp/mem`, headers: mcpHeaders(), body: JSON.stringify(initialize) });
  t.is(memSession.status, 200);
  const id = String(memSession.headers["mcp-session-id"]);
  const elsewhere = await rawRequest({
    method: "POST",
    url: `${mcpBase}/mcp/tiny`,
    headers: mcpHeaders(id),
    body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }),
  });
  t.is(elsewhere.status, 404);
});

test.serial("dsctl profiles list names every profile with its mode, tool count and URLs", async (t) => {
  const json = await gateway.dsctl(["profiles", "list", "--json"]);
  t.is(json.code, 0, json.stderr);
  const { profiles } = JSON.parse(json.stdout) as { profiles: { name: string; url: string; sseUrl?: string; toolCount?: number; mode: string; isDefault?: boolean }[] };
  t.deepEqual(profiles.map((p) => p.name), ["default", "mem", "tiny", "find"]);
  t.true(profiles[0]!.isDefault === true);
  t.is(profiles[0]!.url, `${mcpBase}/mcp`);
  const tiny = profiles.find((p) => p.name === "tiny")!;
  t.is(tiny.toolCount, 2);
  t.is(tiny.url, `${mcpBase}/mcp/tiny`);
  t.is(tiny.sseUrl, `${mcpBase}/sse/tiny`);
  t.is(profiles.find((p) => p.name === "find")!.mode, "PROFILE_TOOL_MODE_SEARCH");
  const human = await gateway.dsctl(["profiles", "list"]);
  t.is(human.code, 0, human.stderr);
  t.regex(human.stdout, /tiny\s+all\s+2\s+.*\/mcp\/tiny/);
  t.regex(human.stdout, /find\s+search\s+\d+/);
});

test.serial("search mode: find_tools ranks, call_tool goes through the policy, found tools join the list", async (t) => {
  const client = await connect("find");
  t.deepEqual(await toolNames(client), ["call_tool", "find_tools"]);
  const { instructions } = { instructions: client.client.getInstructions() ?? "" };
  t.regex(instructions, /find_tools/);

  const found = await client.client.callTool({ name: "find_tools", arguments: { query: "delete entity", limit: 5 } });
  const tools = (found.structuredContent as { tools: { name: string; description: string; inputSchema: unknown }[] }).tools;
  t.is(tools[0]?.name, "memory-delete_entities", JSON.stringify(tools.map((tool) => tool.name)));
  t.truthy(tools[0]?.inputSchema);
  t.true(tools.every((tool) => tool.name !== "memory-delete_relations"), "a denied tool is never found");
  const relations = await client.client.callTool({ name: "find_tools", arguments: { query: "delete relations" } });
  t.false(JSON.stringify(relations.structuredContent).includes("memory-delete_relations"));

  // Found tools join the session's own list, and the session is told.
  t.true(await client.waitForNotifications("notifications/tools/list_changed", 1, 30_000));
  const listed = await toolNames(client);
  t.true(listed.includes("memory-delete_entities") && listed.includes("find_tools"), listed.join(","));

  // call_tool: the same path as a direct call (policy, profile), results untouched.
  const echoed = await client.client.callTool({ name: "call_tool", arguments: { name: "fixture-echo", arguments: { text: "via call_tool" } } });
  t.deepEqual(echoed.content, [{ type: "text", text: "via call_tool" }]);
  const denied = await callError(client, "call_tool", { name: "memory-delete_relations", arguments: { relations: [] } });
  t.regex(denied.message, /not allowed by the team policy/);
  const missing = await callError(client, "call_tool", { name: "nobody-has_this" });
  t.regex(missing.message, /unknown tool "nobody-has_this"/);
  const bad = await callError(client, "find_tools", { limit: 3 });
  t.is(bad.code, -32602);

  // Progress of a call made through call_tool reaches the caller (server-everything's long-running operation).
  const progress: number[] = [];
  const long = await client.client.callTool(
    { name: "call_tool", arguments: { name: "everything-trigger-long-running-operation", arguments: { duration: 1, steps: 3 } } },
    undefined,
    { onprogress: (p) => progress.push(p.progress), timeout: 60_000 },
  );
  t.false(long.isError === true, JSON.stringify(long));
  t.true(progress.length >= 1, "progress notifications of the inner call reach the client");
});

test.serial("a profile edited in the team file: its sessions are told their list changed, other profiles' are not", async (t) => {
  const mem = await connect("mem");
  const tiny = await connect("tiny");
  const memBefore = await toolNames(mem);
  await toolNames(tiny);
  const memChanges = mem.notifications("notifications/tools/list_changed").length;
  const tinyChanges = tiny.notifications("notifications/tools/list_changed").length;

  // Saved the way most editors do: write a temporary file, rename it over the original.
  const temporary = `${configPath}.tmp`;
  writeFileSync(temporary, teamYaml(home, { memInclude: "memory-read_*" }));
  renameSync(temporary, configPath);

  t.true(await mem.waitForNotifications("notifications/tools/list_changed", memChanges + 1, 60_000), "the mem session is told");
  t.deepEqual(await toolNames(mem), ["memory-read_graph"]);
  t.true(memBefore.length > 1);
  // A new session on the profile gets the new definition at once.
  t.deepEqual(await toolNames(await connect("mem", "sse")), ["memory-read_graph"]);
  // Give a stray notification time to arrive: none may reach the tiny session.
  await waitUntil(() => false, 1_000);
  t.is(tiny.notifications("notifications/tools/list_changed").length, tinyChanges, "the tiny session's list did not change");
});

test.serial("dsctl stdio --profile serves the profile; the start-up banner names the profiles", async (t) => {
  const client = new Client({ name: "profiles-stdio", version: "1.0.0" });
  await client.connect(
    new StdioClientTransport({ command: process.execPath, args: [dsctlEntry, "stdio", "--profile", "tiny"], env: { ...process.env, DEPLOYSTACK_HOME: home } as Record<string, string>, stderr: "pipe" }),
  );
  try {
    t.deepEqual((await client.listTools()).tools.map((tool) => tool.name).sort(), ["fixture-echo", "fixture-slow"]);
  } finally {
    await client.close();
  }
  t.true(await waitUntil(() => gateway.daemon.stdout().includes("Profiles"), 10_000), gateway.daemon.stdout());
  t.regex(gateway.daemon.stdout(), /tiny\s+all\s+http:\/\/localhost:\d+\/mcp\/tiny/);
  t.regex(gateway.daemon.stdout(), /find\s+search\s+http:\/\/localhost:\d+\/mcp\/find/);
});

test.serial("the v2 SDK client (legacy era) is confined the same way, and searches on /sse/<profile>", async (t) => {
  const tiny = new ClientV2({ name: "profiles-v2", version: "1.0.0" });
  await tiny.connect(new StreamableTransportV2(new URL(`${mcpBase}/mcp/tiny`)));
  const finder = new ClientV2({ name: "profiles-v2-sse", version: "1.0.0" });
  await finder.connect(new SseTransportV2(new URL(`${mcpBase}/sse/find`)));
  try {
    t.deepEqual((await tiny.listTools()).tools.map((tool) => tool.name).sort(), ["fixture-echo", "fixture-slow"]);
    const outside = await tiny.callTool({ name: "memory-read_graph", arguments: {} }).then(
      (result) => JSON.stringify(result),
      (error: Error) => error.message,
    );
    t.regex(outside, /unknown tool "memory-read_graph"/);
    t.deepEqual((await finder.listTools()).tools.map((tool) => tool.name).sort(), ["call_tool", "find_tools"]);
    const found = await finder.callTool({ name: "find_tools", arguments: { query: "open nodes by name", limit: 3 } });
    t.is((found.structuredContent as { tools: { name: string }[] }).tools[0]?.name, "memory-open_nodes");
  } finally {
    await tiny.close();
    await finder.close();
  }
});

test("dsctl completes --profile with the team's profiles, live from the daemon", async (t) => {
  // A loaded CI machine may take longer than a Tab's 300 ms; the names, not the speed, are under test.
  process.env.DSCTL_COMPLETION_TIMEOUT_MS = "20000";
  const result = await gateway.dsctl(["__complete", "ide", "add", "cursor", "--profile", ""]);
  t.is(result.code, 0, result.stderr);
  t.deepEqual(result.stdout.split("\n").filter(Boolean).sort(), ["find", "mem", "tiny"]);
  const typed = await gateway.dsctl(["__complete", "stdio", "--profile", "t"]);
  t.deepEqual(typed.stdout.split("\n").filter(Boolean), ["tiny"]);
});
