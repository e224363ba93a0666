import anyTest, { type TestFn } from "ava";
import { connectGatewayClient } from "./helpers/mcp-clients.js";
import { startGateway, teamFile, type Gateway } from "./helpers/mcp-gateway.js";
import { mcpHeaders, messagesOf, postMcp, rawInitialize, rawRequest } from "./helpers/mcp-raw-http.js";

/**
 * Session expiry through the whole running gateway, on a team file whose `gateway.sessionIdleTimeout`
 * is 2 s: traffic keeps a session alive, an idle one ends with 404 on every method (MCP 2025-11-25
 * "Transports" › Session Management: the client must then start a new session), and a new
 * initialize works.
 */

interface Context {
  gateway: Gateway;
}

const test = anyTest as TestFn<Context>;

const sleep = (ms: number) => new Promise((resolveSleep) => setTimeout(resolveSleep, ms));

test.before(async (t) => {
  t.context = { gateway: await startGateway({ configPath: teamFile("mcp-short-sessions.yaml"), servers: ["fixture"] }) };
});

test.after.always(async (t) => {
  await t.context.gateway?.close();
});

const ping = (id: number) => ({ jsonrpc: "2.0", id, method: "ping" });

test("traffic keeps a session alive; once idle past the timeout it is a 404, and re-initializing works", async (t) => {
  const { gateway } = t.context;
  const sessionId = await rawInitialize(gateway.mcpUrl);
  // 5 s of traffic, one request every 0.5 s: more than twice the idle timeout, never idle for long.
  for (let i = 0; i < 10; i++) {
    const alive = await postMcp(gateway.mcpUrl, ping(10 + i), sessionId);
    t.is(alive.status, 200, `request ${i} during traffic`);
    await sleep(500);
  }
  await sleep(6_000);
  const expired = await postMcp(gateway.mcpUrl, ping(99), sessionId);
  t.is(expired.status, 404, "an expired session is unknown");
  const expiredGet = await rawRequest({ method: "GET", url: gateway.mcpUrl, headers: { ...mcpHeaders(sessionId), accept: "text/event-stream" }, readTimeoutMs: 5_000 });
  t.is(expiredGet.status, 404);
  const expiredDelete = await rawRequest({ method: "DELETE", url: gateway.mcpUrl, headers: mcpHeaders(sessionId) });
  t.is(expiredDelete.status, 404);

  const fresh = await rawInitialize(gateway.mcpUrl);
  t.not(fresh, sessionId);
  const called = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "fixture-echo", arguments: { text: "fresh" } } }, fresh);
  t.is(called.status, 200);
  t.deepEqual((messagesOf(called)[0] as { result?: unknown }).result, { content: [{ type: "text", text: "fresh" }] });
});

test("an SDK client whose session expired gets an error, not a hang, and a new client works", async (t) => {
  const { gateway } = t.context;
  const client = await connectGatewayClient(gateway, "streamable", { name: "expiring" });
  t.teardown(() => client.close());
  const sessionId = (client.transport as unknown as { sessionId?: string }).sessionId;
  t.truthy(sessionId);
  await sleep(6_000);
  const raw = await postMcp(gateway.mcpUrl, ping(1), sessionId);
  if (raw.status === 200) {
    t.log("the SDK client's open GET stream kept its session alive (counted as traffic)");
  } else {
    t.is(raw.status, 404);
    const outcome = await Promise.race([
      client.client.callTool({ name: "fixture-echo", arguments: { text: "late" } }).then(
        () => "answered",
        () => "rejected",
      ),
      sleep(30_000).then(() => "hung"),
    ]);
    t.is(outcome, "rejected");
  }
  const again = await connectGatewayClient(gateway, "streamable", { name: "again" });
  t.teardown(() => again.close());
  const echoed = await again.client.callTool({ name: "fixture-echo", arguments: { text: "again" } });
  t.deepEqual(echoed.content, [{ type: "text", text: "again" }]);
});
