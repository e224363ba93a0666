import { randomBytes } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import anyTest, { type ExecutionContext, type TestFn } from "ava";
import { McpError, ListRootsRequestSchema, type Progress } from "@modelcontextprotocol/sdk/types.js";
import { ServerState } from "../../gen/deploystack/gateway/v1/server_pb.js";
import { livingDescendants } from "./helpers/process-tree.js";
import { waitUntil } from "./helpers/daemon-process.js";
import { connectGatewayClient, type GatewayClientOptions, type RecordingClient } from "./helpers/mcp-clients.js";
import { startGateway, teamFile, type Gateway } from "./helpers/mcp-gateway.js";
import { mcpHeaders, postMcp, rawRequest } from "./helpers/mcp-raw-http.js";
import { filesUnder } from "./helpers/canary.js";

/**
 * Issue 10 from the outside: a hostile server (`kb`, test/fixtures/servers/hostile-server.mjs) runs
 * beside real servers (`kb-memory` is server-memory, `kb-fixture` the well-behaved fixture) in the
 * built gateway, and every attack it can make is tried against real SDK clients and the real dsctl.
 * Each test states the rule it proves; none of them may pass by weakening what a user relies on:
 * names stay with the server that held them and deny rules hold for a hijacker (§1), progress and
 * roots belong to the calls and sessions they were issued for (§2, §3), no encoding of a secret leaves
 * through any outlet (§4), a flood of initializes never locks a real client out and cross-site
 * browser requests are refused (§5), a hung server times out and is restarted (§6).
 */

interface Context {
  gateway: Gateway;
}

const test = anyTest as TestFn<Context>;

type Json = Record<string, any>;

const sleep = (ms: number) => new Promise((resolveSleep) => setTimeout(resolveSleep, ms));

/** Secrets with characters that every encoding changes (quote, slash, plus, non-ASCII, mixed case). */
const hostileSecret = `Hx"Tok/+=\u00fc-${randomBytes(6).toString("hex")}`;
const leakySecret = `Lk"Key/+&\u00e9-${randomBytes(6).toString("hex")}`;
// The team file takes them from the daemon's environment (`${E2E_HOSTILE_SECRET}`); startDaemon passes ours on.
process.env.E2E_HOSTILE_SECRET = hostileSecret;
process.env.E2E_LEAKY_SECRET = leakySecret;

/** Every form of a secret §4 requires the gateway to mask. */
function encodings(secret: string): Record<string, string> {
  const bytes = Buffer.from(secret, "utf8");
  return {
    raw: secret,
    json: JSON.stringify(secret).slice(1, -1),
    url: encodeURIComponent(secret),
    base64: bytes.toString("base64"),
    base64NoPadding: bytes.toString("base64").replace(/=+$/, ""),
    base64url: bytes.toString("base64url"),
    hex: bytes.toString("hex"),
    hexUpper: bytes.toString("hex").toUpperCase(),
    upper: secret.toUpperCase(),
    lower: secret.toLowerCase(),
  };
}

/** Asserts that no encoding of either secret occurs in `text`, naming the outlet and the encoding when one does. */
function assertNoSecret(t: ExecutionContext, outlet: string, text: string): void {
  for (const [who, secret] of [
    ["kb", hostileSecret],
    ["leaky", leakySecret],
  ] as const) {
    for (const [kind, form] of Object.entries(encodings(secret))) {
      if (text.includes(form)) t.fail(`${outlet} shows the ${kind} form of ${who}'s secret`);
    }
  }
  t.pass(`${outlet}: no secret`);
}

function text(result: Json): string {
  return ((result.content as Json[] | undefined) ?? []).map((block) => String(block.text ?? "")).join("\n");
}

test.before(async (t) => {
  t.context = {
    gateway: await startGateway({ configPath: teamFile("hostile.yaml"), servers: ["kb", "kb-memory", "kb-fixture", "leaky"] }),
  };
});

test.after.always(async (t) => {
  await t.context.gateway?.close();
});

async function connect(t: ExecutionContext<Context>, options: GatewayClientOptions = {}): Promise<RecordingClient> {
  const client = await connectGatewayClient(t.context.gateway, "streamable", options);
  t.teardown(() => client.close().catch(() => undefined));
  return client;
}

/** Exposed tool names per server, from the control API (`dsctl tools list --json`). */
async function toolsByServer(gateway: Gateway): Promise<Map<string, string[]>> {
  const run = await gateway.dsctl(["tools", "list", "--json"]);
  if (run.code !== 0) throw new Error(`dsctl tools list failed: ${run.stderr}`);
  const byServer = new Map<string, string[]>();
  for (const tool of (JSON.parse(run.stdout).tools ?? []) as Json[]) {
    byServer.set(tool.server, [...(byServer.get(tool.server) ?? []), tool.name].sort());
  }
  return byServer;
}

async function serversJson(gateway: Gateway): Promise<Json[]> {
  const run = await gateway.dsctl(["servers", "list", "--json"]);
  if (run.code !== 0) throw new Error(`dsctl servers list failed: ${run.stderr}`);
  return (JSON.parse(run.stdout).servers ?? []) as Json[];
}

async function stateOf(gateway: Gateway, name: string): Promise<string> {
  return String((await serversJson(gateway)).find((server) => server.name === name)?.state ?? "");
}

// ---------------------------------------------------------------------------------------------
// §1 Names and policy
// ---------------------------------------------------------------------------------------------

test.serial("§1 a prefix overlap (kb + memory-x vs kb-memory + x) is reported at config load, naming both servers", (t) => {
  const output = `${t.context.gateway.daemon.stdout()}\n${t.context.gateway.daemon.stderr()}`;
  const lines = output.split("\n").filter((line) => line.includes("kb-memory") && /(^|[^\w-])kb([^\w-]|$)/.test(line));
  t.true(
    lines.some((line) => /warn|"level":40/i.test(line)),
    `a warning naming "kb" and "kb-memory"; lines naming both: ${lines.join("\n") || "none"}`,
  );
});

test.serial("§1 a server that renames its tools after start cannot take another server's names, nor bring back a denied tool", async (t) => {
  const { gateway } = t.context;
  const client = await connect(t, { name: "names" });
  const before = await toolsByServer(gateway);
  const memoryBefore = before.get("kb-memory") ?? [];
  const fixtureBefore = before.get("kb-fixture") ?? [];
  t.true(memoryBefore.includes("kb-memory-read_graph"), `memory tools: ${memoryBefore.join(", ")}`);
  t.false(memoryBefore.includes("kb-memory-delete_entities"), "the denied tool is not listed");

  const entity = `entity-${randomBytes(4).toString("hex")}`;
  await client.client.callTool({
    name: "kb-memory-create_entities",
    arguments: { entities: [{ name: entity, entityType: "test", observations: ["kept"] }] },
  });

  await client.client.callTool({ name: "kb-collide" });
  t.true(await client.waitForNotifications("notifications/tools/list_changed", 1), "clients hear that the list changed");
  // The hostile server now lists memory-read_graph, memory-delete_entities and fixture-echo; give the gateway time to re-list.
  await sleep(1_000);
  const after = await toolsByServer(gateway);
  t.deepEqual(after.get("kb-memory"), memoryBefore, "kb-memory's exposed names did not move");
  t.deepEqual(after.get("kb-fixture"), fixtureBefore, "kb-fixture's exposed names did not move");

  const listed = (await client.client.listTools()).tools.map((tool) => tool.name);
  t.false(
    listed.some((name) => name.startsWith("kb-memory-delete_entities")),
    `no tool whose canonical name is denied is listed, suffixed or not: ${listed.filter((n) => n.includes("delete_entities")).join(", ")}`,
  );
  t.is(listed.filter((name) => name === "kb-memory-read_graph").length, 1);

  const graph = text((await client.client.callTool({ name: "kb-memory-read_graph" })) as Json);
  t.true(graph.includes(entity), "kb-memory-read_graph still reaches server-memory");
  t.false(graph.includes("hijacked"));
  const echo = text((await client.client.callTool({ name: "kb-fixture-echo", arguments: { text: "still mine" } })) as Json);
  t.is(echo, "still mine", "kb-fixture-echo still reaches the fixture");

  // The denied tool stays refused under its canonical name, and the hijacker's copy never runs.
  const refused = await client.client.callTool({ name: "kb-memory-delete_entities", arguments: { entityNames: [entity] } }).then(
    (result) => (result.isError ? "tool error" : "allowed"),
    (error: unknown) => `refused: ${String(error)}`,
  );
  t.not(refused, "allowed", "the denied tool is refused");
  // (The hijacker's own copy of read_graph may be listed under another name: that one is its own tool.)
  t.log(`names the hijacker's tools got: ${listed.filter((n) => /read_graph|delete_entities|fixture-echo/.test(n)).join(", ")}`);
  const graphAfter = text((await client.client.callTool({ name: "kb-memory-read_graph" })) as Json);
  t.true(graphAfter.includes(entity), "the entity was not deleted");
  t.false((await gateway.serverLog("kb")).includes("HIJACKED"), "no call reached the hostile server's colliding tools");

  // The collision is reported by ListServers: the real server kept the name, the hijacker's item was renamed.
  const run = await gateway.dsctl(["servers", "list", "--json"]);
  const collisions = (JSON.parse(run.stdout).nameCollisions ?? []) as Json[];
  const readGraph = collisions.find((collision) => collision.wantedName === "kb-memory-read_graph");
  t.like(readGraph, { keptServer: "kb-memory", renamedServer: "kb", renamedItem: "memory-read_graph" }, `collisions: ${JSON.stringify(collisions)}`);
  t.not(readGraph?.assignedName, "kb-memory-read_graph");
  await client.close();
});

test.serial("§1 prompts and resource URIs stay with the server that served them first", async (t) => {
  const client = await connect(t, { name: "prompts" });
  await client.client.callTool({ name: "kb-collide" });
  await sleep(1_000);
  const prompts = (await client.client.listPrompts()).prompts.map((prompt) => prompt.name);
  t.is(prompts.filter((name) => name === "kb-fixture-greet").length, 1);
  const greeting = await client.client.getPrompt({ name: "kb-fixture-greet", arguments: { who: "ana" } });
  t.deepEqual(
    greeting.messages.map((message) => (message.content as Json).text),
    ["hello ana"],
    "kb-fixture-greet still reaches the fixture",
  );
  const resources = (await client.client.listResources()).resources;
  t.is(resources.filter((resource) => resource.uri === "fixture://readme").length, 1, "fixture://readme is listed once");
  const read = await client.client.readResource({ uri: "fixture://readme" });
  t.deepEqual(
    read.contents.map((content) => (content as Json).text),
    ["fixture readme"],
    "fixture://readme still reaches the fixture",
  );
  await client.close();
});

test.serial("§1 names stay across a restart of the server that held them", async (t) => {
  const { gateway } = t.context;
  const client = await connect(t, { name: "restart" });
  await client.client.callTool({ name: "kb-collide" });
  await sleep(500);
  const before = await toolsByServer(gateway);
  const restart = await gateway.dsctl(["servers", "restart", "kb-memory"]);
  t.is(restart.code, 0, restart.stderr);
  t.true(await waitUntil(async () => (await stateOf(gateway, "kb-memory")) === "SERVER_STATE_RUNNING", 60_000));
  await sleep(1_000);
  const after = await toolsByServer(gateway);
  t.deepEqual(after.get("kb-memory"), before.get("kb-memory"), "kb-memory got its own names back, not suffixed ones");
  const graph = text((await client.client.callTool({ name: "kb-memory-read_graph" })) as Json);
  t.false(graph.includes("hijacked"), "kb-memory-read_graph reaches server-memory after its restart");
  await client.close();
});

// ---------------------------------------------------------------------------------------------
// §2 Progress
// ---------------------------------------------------------------------------------------------

test.serial("§2 progress with guessed tokens never reaches another client's call on another server", async (t) => {
  const { gateway } = t.context;
  const victim = await connect(t, { name: "victim" });
  const victimSse = await connectGatewayClient(t.context.gateway, "sse", { name: "victim-sse" });
  t.teardown(() => victimSse.close().catch(() => undefined));
  const attacker = await connect(t, { name: "attacker" });
  const seen: Progress[] = [];
  const victimCall = victim.client.callTool({ name: "kb-fixture-slow", arguments: { ms: 4_000 } }, undefined, {
    onprogress: (progress) => void seen.push(progress),
    timeout: 120_000,
  });
  const victimSseCall = victimSse.client.callTool({ name: "kb-fixture-slow", arguments: { ms: 4_000 } }, undefined, {
    onprogress: (progress) => void seen.push(progress),
    timeout: 120_000,
  });
  const dsctlCall = gateway.dsctl(["tools", "call", "kb-fixture-slow", "--args", JSON.stringify({ ms: 4_000 })]);
  await sleep(500);
  // The hostile server's own call may end with one of its injected responses: that harms only its own caller.
  await attacker.client.callTool({ name: "kb-spray_progress", arguments: { count: 200, durationMs: 2_500, intervalMs: 250 } });
  t.is(text((await victimCall) as Json), "waited 4000", "the victim's call got its own result");
  t.is(text((await victimSseCall) as Json), "waited 4000", "the legacy SSE victim's call got its own result");
  const run = await dsctlCall;
  t.is(run.code, 0, run.stderr);
  t.deepEqual(seen, [], "the victim's onprogress never fired");
  t.deepEqual(victim.notifications("notifications/progress"), [], "no progress on the victim's wire");
  t.deepEqual(victimSse.notifications("notifications/progress"), [], "no progress on the legacy SSE victim's wire");
  t.false(`${run.stdout}${run.stderr}`.includes("injected"), `dsctl printed no injected progress: ${run.stderr}`);
  t.is(JSON.parse(run.stdout).content?.[0]?.text, "waited 4000");
});

// ---------------------------------------------------------------------------------------------
// §3 Roots, sampling, elicitation
// ---------------------------------------------------------------------------------------------

async function connectWithRoots(t: ExecutionContext<Context>, name: string, uri: string, asked: string[]): Promise<RecordingClient> {
  const client = await connect(t, {
    name,
    capabilities: { roots: { listChanged: true } },
    onSampling: () => {
      asked.push("sampling");
      return { role: "assistant", content: { type: "text", text: `sampled by ${name}` }, model: "m" };
    },
    onElicitation: () => {
      asked.push("elicitation");
      return { action: "accept", content: { password: `from ${name}` } };
    },
  });
  client.client.setRequestHandler(ListRootsRequestSchema, async () => {
    asked.push("roots");
    return { roots: [{ uri, name }] };
  });
  return client;
}

test.serial("§3 requests a server sends outside any call never reach another session's roots, sampling or elicitation", async (t) => {
  const victimAsked: string[] = [];
  const victim = await connectWithRoots(t, "roots-victim", "file:///home/victim/secret-project", victimAsked);
  const attacker = await connect(t, { name: "roots-attacker" });
  // The victim is busy on another server; the hostile server asks once no call of its own is in flight.
  const busy = victim.client.callTool({ name: "kb-fixture-slow", arguments: { ms: 3_000 } }, undefined, { timeout: 120_000 });
  await sleep(300);
  await attacker.client.callTool({ name: "kb-ask_roots", arguments: { when: "after", delayMs: 300 } });
  await busy;
  let answers: Json[] = [];
  t.true(
    await waitUntil(async () => {
      answers = JSON.parse(text((await attacker.client.callTool({ name: "kb-last_answers" })) as Json)) as Json[];
      return answers.length >= 3;
    }, 30_000),
    `the hostile server got an answer to each request: ${JSON.stringify(answers)}`,
  );
  t.false(JSON.stringify(answers).includes("victim"), `no answer carries the victim's data: ${JSON.stringify(answers)}`);
  t.deepEqual(victimAsked, [], "the victim's client was never asked");
  t.deepEqual(victim.requests("roots/list"), []);
  const roots = answers.find((answer) => answer.method === "roots/list");
  t.deepEqual(roots?.result, { roots: [] }, "outside any call, roots/list is answered with the server's configured roots (none)");
  for (const method of ["sampling/createMessage", "elicitation/create"]) {
    t.truthy(answers.find((answer) => answer.method === method)?.error, `${method} outside any call is refused`);
  }
});

test.serial("§3 a request sent during a call reaches the calling session, not another one with roots", async (t) => {
  const victimAsked: string[] = [];
  const callerAsked: string[] = [];
  const victim = await connectWithRoots(t, "during-victim", "file:///home/victim/secret-project", victimAsked);
  const caller = await connectWithRoots(t, "during-caller", "file:///home/caller/project", callerAsked);
  const busy = victim.client.callTool({ name: "kb-fixture-slow", arguments: { ms: 2_000 } }, undefined, { timeout: 120_000 });
  await sleep(200);
  const result = await caller.client.callTool({ name: "kb-ask_roots", arguments: { when: "during", methods: ["roots/list"] } });
  await busy;
  const answers = JSON.parse(text(result as Json)) as Json[];
  t.deepEqual(answers[0]?.result, { roots: [{ uri: "file:///home/caller/project", name: "during-caller" }] });
  t.deepEqual(callerAsked, ["roots"]);
  t.deepEqual(victimAsked, []);
});

// ---------------------------------------------------------------------------------------------
// §4 Secrets
// ---------------------------------------------------------------------------------------------


test.serial("§4 no encoding of a server's secret leaves through logs, errors, lastError, the control API, dsctl, files or argv", async (t) => {
  const { gateway } = t.context;
  const client = await connect(t, { name: "secrets" });

  // A JSON-RPC error from the server with the secret in message and data, over MCP and through dsctl.
  const mcpError = await client.client.callTool({ name: "kb-leak", arguments: { how: "error" } }).then(
    (result) => JSON.stringify(result),
    (error: unknown) => (error instanceof McpError ? JSON.stringify({ message: error.message, code: error.code, data: error.data }) : String(error)),
  );
  assertNoSecret(t, "the MCP error of a server's error answer", mcpError);
  for (const args of [[], ["--json"]]) {
    const run = await gateway.dsctl(["tools", "call", "kb-leak", "--args", JSON.stringify({ how: "error" }), ...args]);
    t.not(run.code, 0, "the error answer fails the dsctl call");
    assertNoSecret(t, `dsctl tools call ${args.join(" ")} on an error answer`, `${run.stdout}${run.stderr}`);
  }

  // Every encoding on stderr, at start and on request.
  await client.client.callTool({ name: "kb-leak", arguments: { how: "stderr" } });
  t.true(await waitUntil(async () => (await gateway.serverLog("kb")).includes("leaking env"), 30_000), "the leak reached the log");

  // leaky crash-loops to FAILED printing its secret in every encoding as its last words.
  await client.client.callTool({ name: "leaky-crash" }).catch(() => undefined);
  t.true(await waitUntil(async () => (await stateOf(gateway, "leaky")) === "SERVER_STATE_FAILED", 90_000), "leaky reached FAILED");
  const failedCall = await client.client.callTool({ name: "leaky-echo", arguments: { text: "x" } }).then(
    (result) => JSON.stringify(result),
    (error: unknown) => String(error instanceof McpError ? `${error.message} ${JSON.stringify(error.data ?? null)}` : error),
  );
  assertNoSecret(t, "the MCP error of a FAILED server", failedCall);
  t.false(/crashing with|fatal: token/.test(failedCall), `MCP clients never receive stderr text: ${failedCall}`);
  t.true(failedCall.includes("leaky"), `the error names the server: ${failedCall}`);
  t.true(failedCall.includes("dsctl servers logs leaky"), `the error says where to look: ${failedCall}`);

  for (const args of [
    ["servers", "logs", "kb"],
    ["servers", "logs", "kb", "--json"],
    ["servers", "logs", "leaky"],
    ["servers", "logs", "leaky", "--json"],
    ["servers", "list"],
    ["servers", "list", "--json"],
    ["servers", "get", "leaky", "--json"],
    ["status", "--json"],
    ["tools", "list", "--json"],
  ]) {
    const run = await gateway.dsctl(args);
    t.is(run.code, 0, `dsctl ${args.join(" ")}: ${run.stderr}`);
    assertNoSecret(t, `dsctl ${args.join(" ")}`, `${run.stdout}${run.stderr}`);
  }
  const leakyServer = (await gateway.daemon.clients.servers.getServer({ name: "leaky" })).server;
  t.truthy(leakyServer?.lastError, "the FAILED server has a last error to show (the outlet is exercised)");
  const logs = await gateway.serverLog("kb");
  t.true(logs.includes("leaking raw: "), "the lines are kept, masked");
  assertNoSecret(t, "StreamServerLogs(kb)", logs);
  assertNoSecret(t, "StreamServerLogs(leaky)", await gateway.serverLog("leaky"));
  const listed = await gateway.daemon.clients.servers.listServers({});
  assertNoSecret(t, "ListServers", JSON.stringify(listed, (_key, value: unknown) => (typeof value === "bigint" ? String(value) : value)));

  for (const file of filesUnder(gateway.home)) {
    if (statSync(file).size > 16 * 1024 * 1024) continue;
    assertNoSecret(t, `file ${file.slice(gateway.home.length)}`, readFileSync(file).toString("utf8"));
  }
  for (const pid of livingDescendants(gateway.daemon.pid)) {
    let argv = "";
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    assertNoSecret(t, `argv of ${pid}`, argv);
  }
  assertNoSecret(t, "the daemon's and frontend's output", `${gateway.daemon.stdout()}\n${gateway.daemon.stderr()}`);
});

// ---------------------------------------------------------------------------------------------
// §5 Lock-out and browsers
// ---------------------------------------------------------------------------------------------

test.serial("§5 a cross-site browser request (Sec-Fetch-Site) is refused with 403 on every endpoint", async (t) => {
  const { gateway } = t.context;
  const initialize = JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "page", version: "1" } },
  });
  const origin = new URL(gateway.mcpUrl).origin;
  const attempts: Array<{ method: string; path: string; body?: string }> = [
    { method: "POST", path: "/mcp", body: initialize },
    { method: "GET", path: "/mcp" },
    { method: "DELETE", path: "/mcp" },
    { method: "GET", path: "/sse" },
    { method: "POST", path: "/message?sessionId=x", body: initialize },
    { method: "GET", path: "/healthz" },
  ];
  for (const attempt of attempts) {
    const response = await rawRequest({
      method: attempt.method,
      url: `${origin}${attempt.path}`,
      headers: { ...mcpHeaders(), "sec-fetch-site": "cross-site" },
      body: attempt.body,
      readTimeoutMs: 5_000,
    });
    t.is(response.status, 403, `${attempt.method} ${attempt.path} with Sec-Fetch-Site: cross-site`);
    t.is(response.headers["mcp-session-id"], undefined);
  }
  const sameOrigin = await postMcp(gateway.mcpUrl, JSON.parse(initialize), undefined, { "sec-fetch-site": "none" });
  t.is(sameOrigin.status, 200, "a request the user typed (Sec-Fetch-Site: none) is served");
});

test.serial("§5 an initialize that fails creates no session", async (t) => {
  const response = await postMcp(t.context.gateway.mcpUrl, { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: 7 } });
  t.true(response.body.includes('"error"'), `the broken initialize is answered with an error: ${response.status} ${response.body}`);
  t.is(response.headers["mcp-session-id"], undefined, "an error answer carries no Mcp-Session-Id");
});

test.serial("§5 2,000 initializes from one local script do not lock a real client out", async (t) => {
  const { gateway } = t.context;
  let made = 0;
  let refused = 0;
  const one = async (i: number) => {
    const response = await postMcp(gateway.mcpUrl, {
      jsonrpc: "2.0",
      id: i,
      method: "initialize",
      params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: `flood-${i}`, version: "1" } },
    });
    if (response.status === 200) made++;
    else refused++;
  };
  for (let i = 0; i < 2_000; i += 20) await Promise.all(Array.from({ length: 20 }, (_, j) => one(i + j)));
  t.log(`flood: ${made} sessions opened, ${refused} refused`);
  const client = await connect(t, { name: "after-flood" });
  const echo = text((await client.client.callTool({ name: "kb-fixture-echo", arguments: { text: "let me in" } })) as Json);
  t.is(echo, "let me in", "the real client connects and calls a tool right after the flood");
});

// ---------------------------------------------------------------------------------------------
// §6 Hung servers (a gateway of its own, with a short request timeout)
// ---------------------------------------------------------------------------------------------

test.serial("§6 a hung call gets a timeout error; a server that stops answering pings becomes UNHEALTHY, then RUNNING again", async (t) => {
  const gateway = await startGateway({ configPath: teamFile("hostile-hang.yaml"), servers: ["kb", "silent", "kb-fixture"] });
  t.teardown(() => gateway.close());
  const client = await connectGatewayClient(gateway, "streamable", { name: "hang" });
  t.teardown(() => client.close().catch(() => undefined));
  // Every state the silent server goes through, from WatchEvents (a brief state is never missed, unlike polling).
  const silentStates: ServerState[] = [];
  const watch = new AbortController();
  t.teardown(() => watch.abort());
  void (async () => {
    try {
      for await (const { event } of gateway.daemon.clients.gateway.watchEvents({}, { signal: watch.signal })) {
        const kind = event?.kind;
        if (kind?.case === "serverStateChanged" && kind.value.server?.name === "silent") silentStates.push(kind.value.server.state);
      }
    } catch {
      // aborted at the end of the test
    }
  })();

  // A call the server never answers (it still answers pings): a clear timeout error, the server stays up.
  const started = Date.now();
  const hung = await client.client.callTool({ name: "kb-hang" }, undefined, { timeout: 120_000 }).then(
    () => "answered",
    (error: unknown) => String(error),
  );
  t.regex(hung, /time(d)? ?out/i, `a timeout error: ${hung}`);
  t.true(Date.now() - started < 60_000, "within the server's request timeout (3 s), not the client's");
  t.is(await stateOf(gateway, "kb"), "SERVER_STATE_RUNNING", "a server that answers pings is not restarted for one hung call");
  const echo = text((await client.client.callTool({ name: "kb-fixture-echo", arguments: { text: "unaffected" } })) as Json);
  t.is(echo, "unaffected", "other servers are unaffected");

  // A server goes silent, pings included, while a call waits: UNHEALTHY, restarted, RUNNING again.
  const pidBefore = (await gateway.daemon.clients.servers.getServer({ name: "silent" })).server?.pid;
  const muted = client.client.callTool({ name: "silent-mute" }, undefined, { timeout: 300_000 }).then(
    () => "answered",
    (error: unknown) => String(error),
  );
  t.true(await waitUntil(() => silentStates.includes(ServerState.UNHEALTHY), 150_000), `silent became UNHEALTHY; states: ${silentStates.join(", ")}`);
  t.notRegex(await muted, /^answered$/, `the waiting call is answered with an error: ${await muted}`);
  t.true(
    await waitUntil(() => silentStates.lastIndexOf(ServerState.RUNNING) > silentStates.indexOf(ServerState.UNHEALTHY), 90_000),
    `silent is RUNNING again after UNHEALTHY; states: ${silentStates.join(", ")}`,
  );
  const pidAfter = (await gateway.daemon.clients.servers.getServer({ name: "silent" })).server?.pid;
  t.not(pidAfter, pidBefore, "by a restart");
  const after = text((await client.client.callTool({ name: "silent-echo", arguments: { text: "back" } })) as Json);
  t.is(after, "back");
  const listed = await gateway.dsctl(["servers", "list"]);
  t.regex(listed.stdout, /silent/);
});
