import anyTest, { type ExecutionContext, type TestFn } from "ava";
import { isAlive, waitUntil } from "./helpers/daemon-process.js";
import { connectGatewayClient, HTTP_TRANSPORT_KINDS, type RecordingClient } from "./helpers/mcp-clients.js";
import { startGateway, teamFile, type Gateway } from "./helpers/mcp-gateway.js";
import { mcpHeaders, openRawSse, rawInitialize, rawRequest, type RawResponse } from "./helpers/mcp-raw-http.js";

/**
 * The gateway under change and abuse, end to end: a server disabled and enabled (sessions get
 * `notifications/tools/list_changed` and see the list shrink and grow back, MCP 2025-11-25
 * "Server Features" › Tools › List Changed Notification), a server restarted under open sessions,
 * a short burst of malformed HTTP (only well-formed errors, nothing crashes), and the frontend
 * killed with SIGKILL (the daemon restarts it and new sessions work). Serial: each test changes
 * the shared gateway.
 */

interface Context {
  gateway: Gateway;
}

const test = anyTest as TestFn<Context>;

type Json = Record<string, any>;

const sleep = (ms: number) => new Promise((resolveSleep) => setTimeout(resolveSleep, ms));

test.before(async (t) => {
  t.context = { gateway: await startGateway({ configPath: teamFile("mcp-gateway.yaml"), servers: ["everything", "memory", "fixture"] }) };
});

test.after.always(async (t) => {
  await t.context.gateway?.close();
});

async function connectBoth(t: ExecutionContext<Context>): Promise<RecordingClient[]> {
  const clients = await Promise.all(HTTP_TRANSPORT_KINDS.map((kind) => connectGatewayClient(t.context.gateway, kind, { name: `resilience-${kind}` })));
  t.teardown(() => Promise.all(clients.map((client) => client.close())));
  return clients;
}

async function toolNames(client: RecordingClient): Promise<string[]> {
  return (await client.client.listTools()).tools.map((tool) => tool.name);
}

async function serverState(gateway: Gateway, name: string): Promise<{ state: number; pid: number }> {
  const { server } = await gateway.daemon.clients.servers.getServer({ name });
  return { state: server?.state ?? 0, pid: server?.pid ?? 0 };
}

const RUNNING = 3;

test.serial("dsctl servers disable/enable: sessions get tools/list_changed and the list shrinks, then grows back", async (t) => {
  const { gateway } = t.context;
  const clients = await connectBoth(t);
  for (const client of clients) t.true((await toolNames(client)).includes("memory-read_graph"));

  const disabled = await gateway.dsctl(["servers", "disable", "memory"]);
  t.is(disabled.code, 0, disabled.stderr);
  try {
    for (const client of clients) {
      t.true(await client.waitForNotifications("notifications/tools/list_changed", 1), "list_changed after disable");
      const names = await toolNames(client);
      t.false(names.some((name) => name.startsWith("memory-")), `no memory tools left: ${names.join(" ")}`);
      t.true(names.includes("everything-echo"), "the other servers' tools stay");
    }
    const refused = await clients[0]?.client.callTool({ name: "memory-read_graph", arguments: {} }).then(
      (result) => JSON.stringify(result),
      (error: unknown) => String(error),
    );
    t.regex(String(refused), /memory/, "calling a disabled server's tool is refused, naming it");
  } finally {
    const enabled = await gateway.dsctl(["servers", "enable", "memory"]);
    t.is(enabled.code, 0, enabled.stderr);
  }
  for (const client of clients) {
    t.true(await client.waitForNotifications("notifications/tools/list_changed", 2, 60_000), "list_changed after enable");
    t.true(await waitUntil(async () => (await toolNames(client)).includes("memory-read_graph"), 60_000), "memory tools are back");
  }
  const read = await clients[1]?.client.callTool({ name: "memory-read_graph", arguments: {} });
  t.falsy(read?.isError);
});

test.serial("dsctl servers restart: open sessions keep working once the server is RUNNING again", async (t) => {
  const { gateway } = t.context;
  const clients = await connectBoth(t);
  for (const client of clients) {
    const echoed = await client.client.callTool({ name: "everything-echo", arguments: { message: "before" } });
    t.deepEqual(echoed.content, [{ type: "text", text: "Echo: before" }]);
  }
  const before = await serverState(gateway, "everything");
  const restarted = await gateway.dsctl(["servers", "restart", "everything"]);
  t.is(restarted.code, 0, restarted.stderr);
  // A call made while the server is starting waits for it (bounded) rather than failing.
  const during = await clients[0]?.client.callTool({ name: "everything-echo", arguments: { message: "during" } });
  t.deepEqual(during?.content, [{ type: "text", text: "Echo: during" }]);
  t.true(
    await waitUntil(async () => {
      const now = await serverState(gateway, "everything");
      if (now.pid > 0) gateway.daemon.track([now.pid]);
      return now.state === RUNNING && now.pid !== before.pid;
    }, 60_000),
    "a new everything process is RUNNING",
  );
  t.false(isAlive(before.pid), "the old process is gone");
  for (const client of clients) {
    const echoed = await client.client.callTool({ name: "everything-echo", arguments: { message: "after" } });
    t.deepEqual(echoed.content, [{ type: "text", text: "Echo: after" }]);
    const progress = await client.client.callTool({ name: "everything-trigger-long-running-operation", arguments: { duration: 1, steps: 2 } }, undefined, {
      onprogress: () => undefined,
    });
    t.true(JSON.stringify(progress.content).includes("completed"));
  }
});

/** A small deterministic PRNG, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function malformedBodies(next: () => number): string[] {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const ids: unknown[] = [1, 0, -1, 1.5, 2 ** 53 + 1, "", "x".repeat(5_000), null, true, {}, [], { id: 1 }, [1, 2], "1"];
  const methods: unknown[] = ["ping", "tools/list", "tools/call", "resources/read", "prompts/get", "initialize", "nope/nothing", "", 42, null, ["tools/list"], "notifications/cancelled", "notifications/initialized", "x".repeat(2_000)];
  const params: unknown[] = [undefined, null, 1, "s", [], {}, { name: 7 }, { name: "nobody-echo", arguments: "no" }, { uri: 5 }, { _meta: { progressToken: {} } }, { requestId: "zzz" }];
  const bodies: string[] = [
    "",
    " ",
    "{",
    "}",
    "[",
    "[]",
    "null",
    "0",
    '"string"',
    "true",
    "{]",
    '{"jsonrpc":"2.0"',
    "\u0000\u0001\u0002",
    "\uFEFF{}",
    "[".repeat(5_000) + "]".repeat(5_000),
    '{"a":'.repeat(3_000) + "1" + "}".repeat(3_000),
    JSON.stringify({ jsonrpc: "1.0", id: 1, method: "ping" }),
    JSON.stringify({ id: 1, method: "ping" }),
    JSON.stringify({ jsonrpc: "2.0", id: 1, result: {} }),
    JSON.stringify({ jsonrpc: "2.0", id: 1, error: { code: "x" } }),
    JSON.stringify([{ jsonrpc: "2.0", id: 1, method: "ping" }, "garbage", 7]),
  ];
  for (let i = 0; i < 100; i++) {
    const message: Json = { jsonrpc: pick(["2.0", "2.0", "2.0", "1.0", 2, undefined]), method: pick(methods) };
    if (next() < 0.8) message.id = pick(ids);
    const chosen = pick(params);
    if (chosen !== undefined) message.params = chosen;
    bodies.push(next() < 0.2 ? JSON.stringify([message, message]) : JSON.stringify(message));
  }
  for (let i = 0; i < 20; i++) {
    bodies.push(Array.from({ length: 1 + Math.floor(next() * 60) }, () => String.fromCharCode(Math.floor(next() * 256))).join(""));
  }
  return bodies;
}

/** A response is a well-formed refusal: no 5xx, and any JSON it claims to carry parses, with JSON-RPC error shapes intact. */
function wellFormed(response: RawResponse): string | undefined {
  if (response.status >= 500 || response.status < 200) return `status ${response.status}`;
  const type = String(response.headers["content-type"] ?? "");
  const chunks: string[] = [];
  if (type.includes("json") && response.body) chunks.push(response.body);
  if (type.startsWith("text/event-stream")) {
    // An event with an empty data field is the priming event of 2025-11-25 (resumability), not a message.
    for (const line of response.body.split(/\r?\n/)) if (line.startsWith("data:") && line.slice(5).trim()) chunks.push(line.slice(5));
  }
  for (const chunk of chunks) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(chunk);
    } catch {
      return `unparseable JSON body: ${chunk.slice(0, 200)}`;
    }
    for (const message of Array.isArray(parsed) ? parsed : [parsed]) {
      const error = (message as Json | null)?.error;
      if (error !== undefined && (typeof error.code !== "number" || !Number.isInteger(error.code) || typeof error.message !== "string")) {
        return `malformed JSON-RPC error: ${JSON.stringify(message).slice(0, 200)}`;
      }
    }
  }
  return undefined;
}

test.serial("a burst of malformed bodies, headers and ids gets only well-formed errors, and real clients still work", async (t) => {
  const { gateway } = t.context;
  const frontend = gateway.frontendPid();
  t.truthy(frontend);
  const sessionId = await rawInitialize(gateway.mcpUrl);
  const legacy = await openRawSse(gateway.sseUrl);
  t.teardown(async () => {
    legacy.close();
    await rawRequest({ method: "DELETE", url: gateway.mcpUrl, headers: mcpHeaders(sessionId) });
  });
  const next = random(20261124);
  const bodies = malformedBodies(next);
  const headerVariants: Array<Record<string, string>> = [
    mcpHeaders(sessionId),
    mcpHeaders(),
    { ...mcpHeaders(sessionId), "mcp-session-id": "not-a-session" },
    { ...mcpHeaders(sessionId), "mcp-session-id": "x".repeat(4_000) },
    { ...mcpHeaders(sessionId), "mcp-protocol-version": "1999-01-01" },
    { ...mcpHeaders(sessionId), "content-type": "text/plain" },
    { ...mcpHeaders(sessionId), "content-type": "application/json; charset=utf-16" },
    { ...mcpHeaders(sessionId), accept: "text/html" },
    { "content-type": "application/json", "mcp-session-id": sessionId },
  ];
  const requests: Array<{ method: string; url: string; headers: Record<string, string>; body?: string }> = [];
  for (const body of bodies) {
    requests.push({ method: "POST", url: gateway.mcpUrl, headers: headerVariants[Math.floor(next() * headerVariants.length)] as Record<string, string>, body });
    requests.push({ method: "POST", url: legacy.messageUrl, headers: { "content-type": "application/json" }, body });
  }
  const messageBase = new URL("/message", gateway.mcpUrl).href;
  for (const query of ["", "?sessionId=", "?sessionId=nope", `?sessionId=${encodeURIComponent(legacy.sessionId)}&sessionId=x`, "?sessionId=%ZZ"]) {
    requests.push({ method: "POST", url: messageBase + query, headers: { "content-type": "application/json" }, body: '{"jsonrpc":"2.0","id":1,"method":"ping"}' });
  }
  for (const method of ["PUT", "PATCH", "OPTIONS", "HEAD", "GET", "DELETE"]) {
    requests.push({ method, url: gateway.mcpUrl, headers: { accept: "application/json", "mcp-session-id": "garbage" } });
    requests.push({ method, url: `${gateway.mcpUrl}/../../etc/passwd`, headers: {} });
  }
  requests.push({ method: "POST", url: gateway.mcpUrl, headers: mcpHeaders(sessionId), body: "x".repeat(8 * 1024 * 1024) });

  const problems: string[] = [];
  const statuses = new Map<number, number>();
  const parallel = 6;
  for (let i = 0; i < requests.length; i += parallel) {
    await Promise.all(
      requests.slice(i, i + parallel).map(async (request) => {
        try {
          const response = await rawRequest({ ...request, readTimeoutMs: 10_000 });
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
          const problem = wellFormed(response);
          if (problem) problems.push(`${request.method} ${request.url} ${JSON.stringify(request.body?.slice(0, 80))}: ${problem}`);
        } catch (error) {
          // The oversized body may be cut short by a 413 before it is fully sent.
          if (!(request.body && request.body.length > 1024 * 1024)) problems.push(`${request.method} ${request.url}: ${String(error)}`);
        }
      }),
    );
  }
  t.log(`${requests.length} requests; statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
  t.true(requests.length >= 200);
  t.deepEqual(problems, []);
  // What the legacy session's stream carried in answer (its POSTs only say 202) must be well-formed too.
  await sleep(1_000);
  const streamed = wellFormed({
    status: 200,
    headers: { "content-type": "text/event-stream" },
    body: legacy.text().replace(/event: ?endpoint\r?\ndata:[^\n]*\n/, ""),
    timedOut: false,
  });
  t.is(streamed, undefined, "the legacy SSE stream carries only well-formed JSON-RPC");
  t.true(legacy.text().includes('"error"'), "the legacy stream carried JSON-RPC errors for the malformed messages");

  t.is(gateway.frontendPid(), frontend, "the frontend did not crash");
  t.true(isAlive(gateway.daemon.pid), "the daemon is alive");
  const stillThere = await rawRequest({ method: "POST", url: gateway.mcpUrl, headers: mcpHeaders(sessionId), body: JSON.stringify({ jsonrpc: "2.0", id: 77, method: "ping" }) });
  t.is(stillThere.status, 200, "the fuzzed session still answers");
  for (const client of await connectBoth(t)) {
    const echoed = await client.client.callTool({ name: "everything-echo", arguments: { message: "after fuzz" } });
    t.deepEqual(echoed.content, [{ type: "text", text: "Echo: after fuzz" }]);
  }
});

test.serial("the frontend killed with SIGKILL is restarted by the daemon; old sessions get errors, new ones work", async (t) => {
  const { gateway } = t.context;
  const [old] = await connectBoth(t);
  const killed = gateway.frontendPid();
  if (killed === undefined) {
    t.fail("no frontend process found among the daemon's children");
    return;
  }
  process.kill(killed, "SIGKILL");
  t.true(await waitUntil(() => !isAlive(killed), 30_000), "the frontend died");
  t.true(
    await waitUntil(() => {
      const pid = gateway.frontendPid();
      return pid !== undefined && pid !== killed;
    }, 60_000),
    "a new frontend process runs",
  );
  await gateway.refresh();
  const status = await gateway.daemon.clients.gateway.getStatus({});
  t.true(status.frontendRunning);

  const outcome = await Promise.race([
    old?.client.callTool({ name: "everything-echo", arguments: { message: "old session" } }).then(
      () => "answered",
      () => "rejected",
    ),
    sleep(30_000).then(() => "hung"),
  ]);
  t.is(outcome, "rejected", "the old session (its frontend is gone) sees an error, not a hang");

  for (const kind of HTTP_TRANSPORT_KINDS) {
    const fresh = await connectGatewayClient(gateway, kind, { name: `after-restart-${kind}` });
    t.teardown(() => fresh.close());
    const echoed = await fresh.client.callTool({ name: "everything-echo", arguments: { message: `new ${kind} session` } });
    t.deepEqual(echoed.content, [{ type: "text", text: `Echo: new ${kind} session` }]);
  }
});
