import anyTest, { type ExecutionContext, type TestFn } from "ava";
import type { CreateMessageResult, ElicitResult } from "@modelcontextprotocol/sdk/types.js";
import { waitUntil } from "./helpers/daemon-process.js";
import { connectGatewayClient, HTTP_TRANSPORT_KINDS, type GatewayClientOptions, type HttpTransportKind } from "./helpers/mcp-clients.js";
import { startGateway, teamFile, type Gateway } from "./helpers/mcp-gateway.js";
import { mcpHeaders, messagesOf, openRawSse, postMcp, rawInitialize, rawRequest } from "./helpers/mcp-raw-http.js";

/**
 * Session isolation through the whole running gateway: progress, cancellation, sampling and
 * elicitation belong to the session that made the call (MCP 2025-11-25 "Utilities" › Progress and
 * Cancellation, "Client Features" › Sampling and Elicitation); 20 sessions reusing the same JSON-RPC
 * ids at once each get their own answers while their calls overlap upstream; session ends (DELETE)
 * and the DNS-rebinding defence (Host/Origin → 403 on every route, "Transports" › Security Warning).
 */

interface Context {
  gateway: Gateway;
}

const test = anyTest as TestFn<Context>;

type Json = Record<string, any>;

const sleep = (ms: number) => new Promise((resolveSleep) => setTimeout(resolveSleep, ms));

test.before(async (t) => {
  t.context = { gateway: await startGateway({ configPath: teamFile("mcp-gateway.yaml"), servers: ["everything", "fixture"] }) };
});

test.after.always(async (t) => {
  await t.context.gateway?.close();
});

async function connect(t: ExecutionContext<Context>, kind: HttpTransportKind, options: GatewayClientOptions = {}) {
  const client = await connectGatewayClient(t.context.gateway, kind, options);
  t.teardown(() => client.close());
  return client;
}

function text(result: Json): string {
  return (result.content as Json[]).map((block) => String(block.text ?? "")).join("\n");
}

test("progress notifications reach only the calling session, even with the same progress token", async (t) => {
  const a = await connect(t, "streamable", { name: "a" });
  const b = await connect(t, "sse", { name: "b" });
  const idleStreamable = await connect(t, "streamable", { name: "idle-streamable" });
  const idleSse = await connect(t, "sse", { name: "idle-sse" });
  const seenByA: Json[] = [];
  const seenByB: Json[] = [];
  const tool = "everything-trigger-long-running-operation";
  await Promise.all([
    a.client.callTool({ name: tool, arguments: { duration: 2, steps: 4 } }, undefined, { onprogress: (p) => void seenByA.push(p) }),
    b.client.callTool({ name: tool, arguments: { duration: 2, steps: 2 } }, undefined, { onprogress: (p) => void seenByB.push(p) }),
  ]);
  await sleep(500);
  const wireA = a.notifications("notifications/progress").map((n) => n.params as Json);
  const wireB = b.notifications("notifications/progress").map((n) => n.params as Json);
  t.deepEqual(wireA.map((p) => [p.progress, p.total]), [[1, 4], [2, 4], [3, 4], [4, 4]], "A gets its own four steps, in order");
  t.deepEqual(wireB.map((p) => [p.progress, p.total]), [[1, 2], [2, 2]], "B gets its own two steps");
  t.is(new Set(wireA.map((p) => p.progressToken)).size, 1);
  t.is(new Set(wireB.map((p) => p.progressToken)).size, 1);
  t.log(`progress tokens on the wire: A ${String(wireA[0]?.progressToken)}, B ${String(wireB[0]?.progressToken)}`);
  t.true(seenByA.length >= 1 && seenByB.length >= 1, "the SDK's onprogress callbacks fired");
  t.deepEqual(idleStreamable.notifications("notifications/progress"), []);
  t.deepEqual(idleSse.notifications("notifications/progress"), []);
});

test("cancelling a call (AbortSignal → notifications/cancelled) cancels it in the server, over both transports", async (t) => {
  const { gateway } = t.context;
  const cancellations = async () => (await gateway.serverLog("fixture")).split("slow: cancelled").length - 1;
  for (const kind of HTTP_TRANSPORT_KINDS) {
    const client = await connect(t, kind, { name: `canceller-${kind}` });
    const before = await cancellations();
    const controller = new AbortController();
    const outcome = client.client.callTool({ name: "fixture-slow", arguments: { ms: 120_000 } }, undefined, { signal: controller.signal }).then(
      () => "resolved",
      (error: unknown) => `rejected: ${String(error)}`,
    );
    // Give the request time to reach the server before cancelling it (a cancel that overtakes it would be a no-op).
    await sleep(2_000);
    controller.abort("test cancels");
    t.regex(await outcome, /^rejected/);
    t.true(await waitUntil(async () => (await cancellations()) > before, 30_000), `${kind}: the fixture server saw its request aborted (it logs "slow: cancelled")`);
    const echoed = await client.client.callTool({ name: "fixture-echo", arguments: { text: "still here" } });
    t.deepEqual(echoed.content, [{ type: "text", text: "still here" }], `${kind}: the session keeps working`);
  }
});

test("a cancelled call's late progress and result never reach the client", async (t) => {
  const client = await connect(t, "sse", { name: "late" });
  const controller = new AbortController();
  let firstProgress: () => void = () => undefined;
  const progressed = new Promise<void>((resolveProgress) => (firstProgress = resolveProgress));
  const call = client.client
    .callTool({ name: "everything-trigger-long-running-operation", arguments: { duration: 4, steps: 2 } }, undefined, {
      signal: controller.signal,
      onprogress: () => firstProgress(),
    })
    .catch(() => undefined);
  await progressed;
  const token = client.notifications("notifications/progress")[0]?.params?.progressToken;
  controller.abort("test cancels");
  await call;
  const cutoff = client.received.length;
  // server-everything ignores cancellation: 2 s later it sends its second progress and its result.
  await sleep(4_500);
  const late = client.received.slice(cutoff);
  t.false(
    late.some((message) => "id" in message && !("method" in message)),
    `no response after the cancellation: ${JSON.stringify(late)}`,
  );
  t.false(
    late.some((message) => "method" in message && message.method === "notifications/progress" && (message.params as Json)?.progressToken === token),
    "no progress for the cancelled request after the cancellation",
  );
  t.not(token, undefined);
  const echoed = await client.client.callTool({ name: "everything-echo", arguments: { message: "after cancel" } });
  t.deepEqual(echoed.content, [{ type: "text", text: "Echo: after cancel" }]);
});

/** A client that answers sampling and elicitation requests and counts them, as an IDE would. */
async function answeringClient(t: ExecutionContext<Context>, kind: HttpTransportKind, who: string) {
  const asked = { sampling: [] as string[], elicitation: 0 };
  const client = await connect(t, kind, {
    name: who,
    onSampling: (request): CreateMessageResult => {
      asked.sampling.push(JSON.stringify(request.params.messages));
      return { role: "assistant", model: `model-${who}`, content: { type: "text", text: `answer from ${who}` } };
    },
    onElicitation: (): ElicitResult => {
      asked.elicitation++;
      return { action: "accept", content: { name: `name of ${who}`, check: true } };
    },
  });
  return { ...client, asked };
}

const samplingTool = "everything-trigger-sampling-request";
const elicitationTool = "everything-trigger-elicitation-request";

test.serial("sampling and elicitation are answered by the calling session, never by another one that declared them", async (t) => {
  const a = await answeringClient(t, "streamable", "a");
  const b = await answeringClient(t, "sse", "b");

  const fromA = await a.client.callTool({ name: samplingTool, arguments: { prompt: "prompt of a" } });
  t.true(text(fromA).includes("answer from a") && text(fromA).includes("model-a"), text(fromA));
  const fromB = await b.client.callTool({ name: samplingTool, arguments: { prompt: "prompt of b" } });
  t.true(text(fromB).includes("answer from b") && text(fromB).includes("model-b"), text(fromB));
  t.is(a.asked.sampling.length, 1);
  t.is(b.asked.sampling.length, 1);
  t.true(a.asked.sampling[0]?.includes("prompt of a"));
  t.true(b.asked.sampling[0]?.includes("prompt of b"));

  const elicitedA = await a.client.callTool({ name: elicitationTool, arguments: {} });
  t.true(text(elicitedA).includes("- Name: name of a"), text(elicitedA));
  const elicitedB = await b.client.callTool({ name: elicitationTool, arguments: {} });
  t.true(text(elicitedB).includes("- Name: name of b"), text(elicitedB));
  t.is(a.asked.elicitation, 1);
  t.is(b.asked.elicitation, 1);
  t.is(a.requests("sampling/createMessage").length, 1, "only its own request reached a's client");
  t.is(b.requests("elicitation/create").length, 1, "only its own request reached b's client");
});

test.serial("a session with a call in flight on another server is not asked for this server's sampling or elicitation", async (t) => {
  const a = await answeringClient(t, "sse", "a");
  const b = await answeringClient(t, "streamable", "b");
  const busy = b.client.callTool({ name: "fixture-slow", arguments: { ms: 4_000 } });
  await sleep(500);
  const sampled = await a.client.callTool({ name: samplingTool, arguments: { prompt: "while b is busy elsewhere" } });
  const elicited = await a.client.callTool({ name: elicitationTool, arguments: {} });
  t.true(text(sampled).includes("answer from a"), text(sampled));
  t.true(text(elicited).includes("- Name: name of a"), text(elicited));
  t.deepEqual(await busy.then((result) => result.content), [{ type: "text", text: "waited 4000" }]);
  t.deepEqual(b.asked, { sampling: [], elicitation: 0 });
  t.deepEqual([...b.requests("sampling/createMessage"), ...b.requests("elicitation/create")], []);
});

test.serial("concurrent sampling and elicitation on the same server: each request is answered by the session whose call caused it", async (t) => {
  const a = await answeringClient(t, "streamable", "a");
  const b = await answeringClient(t, "sse", "b");
  const [sampledA, sampledB] = await Promise.all([
    a.client.callTool({ name: samplingTool, arguments: { prompt: "prompt of a" } }),
    b.client.callTool({ name: samplingTool, arguments: { prompt: "prompt of b" } }),
  ]);
  const [elicitedA, elicitedB] = await Promise.all([
    a.client.callTool({ name: elicitationTool, arguments: {} }),
    b.client.callTool({ name: elicitationTool, arguments: {} }),
  ]);
  t.true(text(sampledA).includes("answer from a"), `a's sampling call got: ${text(sampledA)}`);
  t.true(text(sampledB).includes("answer from b"), `b's sampling call got: ${text(sampledB)}`);
  t.true(text(elicitedA).includes("- Name: name of a"), `a's elicitation call got: ${text(elicitedA)}`);
  t.true(text(elicitedB).includes("- Name: name of b"), `b's elicitation call got: ${text(elicitedB)}`);
  t.deepEqual({ a: a.asked.sampling.length, b: b.asked.sampling.length }, { a: 1, b: 1 });
  t.deepEqual({ a: a.asked.elicitation, b: b.asked.elicitation }, { a: 1, b: 1 });
});

test("20 sessions reusing the same JSON-RPC ids at once each get their own answer, and the calls overlap upstream", async (t) => {
  const { gateway } = t.context;
  const count = 20;
  const sessions = await Promise.all(Array.from({ length: count }, () => rawInitialize(gateway.mcpUrl, 1)));
  t.is(new Set(sessions).size, count, "distinct session ids");
  t.teardown(async () => {
    await Promise.all(sessions.map((sessionId) => rawRequest({ method: "DELETE", url: gateway.mcpUrl, headers: mcpHeaders(sessionId) })));
  });
  const started = Date.now();
  const answers = await Promise.all(
    sessions.map(async (sessionId, index) => {
      const begun = Date.now();
      const response = await postMcp(
        gateway.mcpUrl,
        { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "fixture-slow", arguments: { ms: 1_000 + index } } },
        sessionId,
      );
      return { status: response.status, messages: messagesOf(response) as Json[], elapsed: Date.now() - begun };
    }),
  );
  const total = Date.now() - started;
  answers.forEach((answer, index) => {
    t.is(answer.status, 200);
    const responses = answer.messages.filter((message) => "id" in message);
    t.is(responses.length, 1, `session ${index}: one response`);
    t.is(responses[0]?.id, 2, `session ${index}: its own id`);
    t.deepEqual(responses[0]?.result?.content, [{ type: "text", text: `waited ${1_000 + index}` }], `session ${index}: its own result`);
    t.true(answer.elapsed >= 1_000, `session ${index} took ${answer.elapsed} ms`);
  });
  t.log(`20 one-second calls took ${total} ms in all`);
  t.true(total < 10_000, `20 one-second calls took ${total} ms: they did not overlap`);
});

test("DELETE ends a session: 404 afterwards on every method, and a new initialize works", async (t) => {
  const { gateway } = t.context;
  const sessionId = await rawInitialize(gateway.mcpUrl);
  const listed = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: 2, method: "tools/list" }, sessionId);
  t.is(listed.status, 200);
  t.true(messagesOf(listed).length === 1);

  const deleted = await rawRequest({ method: "DELETE", url: gateway.mcpUrl, headers: mcpHeaders(sessionId) });
  t.true(deleted.status >= 200 && deleted.status < 300, `DELETE answered ${deleted.status}`);
  const afterPost = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: 3, method: "tools/list" }, sessionId);
  t.is(afterPost.status, 404);
  const afterGet = await rawRequest({ method: "GET", url: gateway.mcpUrl, headers: { ...mcpHeaders(sessionId), accept: "text/event-stream" }, readTimeoutMs: 5_000 });
  t.is(afterGet.status, 404);
  const afterDelete = await rawRequest({ method: "DELETE", url: gateway.mcpUrl, headers: mcpHeaders(sessionId) });
  t.is(afterDelete.status, 404);

  const missing = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: 4, method: "tools/list" });
  t.is(missing.status, 400, "a request without a session id (other than initialize) is a 400");

  const fresh = await rawInitialize(gateway.mcpUrl);
  t.not(fresh, sessionId);
  const relisted = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: 2, method: "tools/list" }, fresh);
  t.is(relisted.status, 200);
  t.true(JSON.stringify(messagesOf(relisted)).includes("everything-echo"));
  await rawRequest({ method: "DELETE", url: gateway.mcpUrl, headers: mcpHeaders(fresh) });

  const legacy = await rawRequest({
    method: "POST",
    url: new URL("/message?sessionId=no-such-session", gateway.mcpUrl).href,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
  });
  t.is(legacy.status, 404, "an unknown legacy session is a 404");
});

test("an SDK client whose session was terminated gets 404, and a new client re-initializes", async (t) => {
  const client = await connect(t, "streamable", { name: "terminated" });
  const transport = client.transport as unknown as { terminateSession(): Promise<void>; sessionId?: string };
  const oldSession = transport.sessionId;
  await transport.terminateSession();
  const raw = await postMcp(t.context.gateway.mcpUrl, { jsonrpc: "2.0", id: 9, method: "ping" }, oldSession);
  t.is(raw.status, 404);
  const again = await connect(t, "streamable", { name: "re-initialized" });
  const echoed = await again.client.callTool({ name: "everything-echo", arguments: { message: "again" } });
  t.deepEqual(echoed.content, [{ type: "text", text: "Echo: again" }]);
});

test("a foreign Host or Origin is refused with 403 on every route", async (t) => {
  const { gateway } = t.context;
  const base = new URL(gateway.mcpUrl);
  const sessionId = await rawInitialize(gateway.mcpUrl);
  const legacy = await openRawSse(gateway.sseUrl);
  t.teardown(async () => {
    legacy.close();
    await rawRequest({ method: "DELETE", url: gateway.mcpUrl, headers: mcpHeaders(sessionId) });
  });
  const ping = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" });
  const routes = [
    { method: "POST", path: "/mcp", headers: mcpHeaders(sessionId), body: ping },
    { method: "GET", path: "/mcp", headers: { ...mcpHeaders(sessionId), accept: "text/event-stream" } },
    { method: "DELETE", path: "/mcp", headers: mcpHeaders(sessionId) },
    { method: "GET", path: "/sse", headers: { accept: "text/event-stream" } },
    { method: "POST", path: new URL(legacy.messageUrl).pathname + new URL(legacy.messageUrl).search, headers: { "content-type": "application/json" }, body: ping },
    { method: "GET", path: "/healthz", headers: {} },
  ];
  const foreign: Array<Record<string, string>> = [
    { host: `evil.example:${base.port}` },
    { host: `localhost.evil.example:${base.port}` },
    { host: `localhost:${Number(base.port) === 1 ? 2 : 1}` },
    { origin: "http://evil.example" },
    { origin: `http://localhost.evil.example:${base.port}` },
    { origin: "null" },
  ];
  for (const route of routes) {
    for (const headers of foreign) {
      const response = await rawRequest({
        method: route.method,
        url: new URL(route.path, base).href,
        headers: { ...route.headers, ...headers },
        body: route.body,
        readTimeoutMs: 5_000,
      });
      t.is(response.status, 403, `${route.method} ${route.path} with ${JSON.stringify(headers)}`);
    }
  }
  // The refused DELETE did not end the session, the refused POST to /message did not reach it.
  const still = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: 2, method: "ping" }, sessionId);
  t.is(still.status, 200);
  const health = await rawRequest({ method: "GET", url: new URL("/healthz", base).href, headers: { origin: `http://localhost:${base.port}` } });
  t.is(health.status, 200, "our own origin is fine");
  t.false(legacy.text().includes('"id":1'), "the refused legacy message was not processed");
});
