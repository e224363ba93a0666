import test, { type ExecutionContext } from "ava";
import { silentLogger } from "../../shared/logger.js";
import { jsonPayloadText } from "../../shared/open-session-wire/payload.js";
import { nullCallObserver, type CallObserver } from "../observability/call-observer.js";
import type { CallClient } from "../observability/call-record.js";
import { RawJson } from "../upstream/raw-json.js";
import { createMcpEngine } from "./engine.js";
import { LIST_TTL_MS, modernResultResponse, upstreamParams } from "./modern-requests.js";
import type { McpSession, SessionFrame } from "./session.js";
import { createMemorySupervisor } from "./testing/memory-supervisor.js";
import { createProbe, createTestServer, type ServerProbe } from "./testing/test-server.js";

const META = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientCapabilities": {},
  "io.modelcontextprotocol/clientInfo": { name: "modern-test", version: "1" },
};

interface Harness {
  readonly channel: McpSession;
  readonly probe: ServerProbe;
  /** Sends one request on `exchange` and resolves with every message of that exchange once it completed. */
  request(exchange: number, method: string, params?: Record<string, unknown>, meta?: Record<string, unknown>): Promise<Record<string, any>[]>;
  /** The messages of an exchange so far. */
  messages(exchange: number): Record<string, any>[];
  until(predicate: () => boolean): Promise<void>;
}

async function harness(t: ExecutionContext, observer?: CallObserver): Promise<Harness> {
  const probe = createProbe();
  const supervisor = createMemorySupervisor([{ name: "alpha", create: () => createTestServer("alpha", probe) }]);
  await supervisor.start();
  const engine = createMcpEngine({ supervisor, logger: silentLogger, version: "1.2.3", ...(observer ? { observer } : {}) });
  const frames: SessionFrame[] = [];
  const waiters = new Set<() => void>();
  const channel = engine.openStatelessChannel({
    transport: "streamable-http",
    onFrame: (frame) => {
      frames.push(frame);
      for (const wake of [...waiters]) wake();
    },
  });
  t.teardown(async () => {
    channel.close();
    engine.close();
    await supervisor.shutdown();
  });
  const until = (predicate: () => boolean): Promise<void> =>
    new Promise((resolve, reject) => {
      if (predicate()) return resolve();
      const timer = setTimeout(() => reject(new Error("timed out")), 20_000);
      // Frames wake it; what a server saw (the probe) is polled.
      const poll = setInterval(() => check(), 20);
      const check = (): void => {
        if (!predicate()) return;
        clearTimeout(timer);
        clearInterval(poll);
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
    });
  const ofExchange = (exchange: number) =>
    frames.filter((f): f is Extract<SessionFrame, { kind: "message" }> => f.kind === "message" && f.exchangeId === BigInt(exchange));
  const messages = (exchange: number) =>
    ofExchange(exchange)
      .map((f) => jsonPayloadText(f.json))
      .filter((text) => text !== "")
      .map((text) => JSON.parse(text) as Record<string, any>);
  return {
    channel,
    probe,
    messages,
    until,
    async request(exchange, method, params = {}, meta = META) {
      channel.receive(BigInt(exchange), JSON.stringify({ jsonrpc: "2.0", id: exchange, method, params: { ...params, _meta: meta } }));
      await until(() => ofExchange(exchange).some((f) => f.exchangeComplete));
      return messages(exchange);
    },
  };
}

test("server/discover, lists and calls: no handshake, resultType on every result, cache hints on cacheable ones", async (t) => {
  const h = await harness(t);
  const [discover] = await h.request(1, "server/discover");
  t.deepEqual(discover!.result.supportedVersions, ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"]);
  t.is(discover!.result.resultType, "complete");
  t.is(discover!.result._meta["io.modelcontextprotocol/serverInfo"].name, "deploystack-gateway");
  t.deepEqual([discover!.result.ttlMs, discover!.result.cacheScope], [LIST_TTL_MS, "private"]);

  const [list] = await h.request(2, "tools/list");
  const names = (list!.result.tools as { name: string }[]).map((tool) => tool.name);
  t.deepEqual(names, [...names].sort(), "deterministic order");
  t.true(names.includes("alpha-echo"));
  t.deepEqual([list!.result.resultType, list!.result.ttlMs, list!.result.cacheScope], ["complete", LIST_TTL_MS, "private"]);

  const [called] = await h.request(3, "tools/call", { name: "alpha-echo", arguments: { text: "hi" } });
  t.deepEqual(called!.result.content, [{ type: "text", text: "alpha:hi" }]);
  t.is(called!.result.resultType, "complete");
  t.false("ttlMs" in called!.result, "a tool result is not cacheable");

  const [read] = await h.request(4, "resources/read", { uri: "mem://alpha/readme" });
  t.deepEqual([read!.result.resultType, read!.result.ttlMs, read!.result.cacheScope], ["complete", 0, "private"]);
});

test("errors: -32022 with the supported list, -32602 for missing _meta fields and unknown resources, -32601 for legacy-only methods", async (t) => {
  const h = await harness(t);
  const [unsupported] = await h.request(1, "tools/list", {}, { ...META, "io.modelcontextprotocol/protocolVersion": "1900-01-01" });
  t.is(unsupported!.error.code, -32022);
  t.is(unsupported!.error.data.requested, "1900-01-01");
  t.true(unsupported!.error.data.supported.includes("2026-07-28"));

  const [noCaps] = await h.request(2, "tools/list", {}, { "io.modelcontextprotocol/protocolVersion": "2026-07-28" });
  t.is(noCaps!.error.code, -32602);

  for (const [exchange, method] of [[3, "initialize"], [4, "resources/subscribe"], [5, "logging/setLevel"], [6, "no/such"]] as const) {
    const [answer] = await h.request(exchange, method);
    t.is(answer!.error.code, -32601, method);
  }

  const [missing] = await h.request(7, "resources/read", { uri: "mem://alpha/nope" });
  t.is(missing!.error.code, -32602, "not -32002: the modern revision retired it");
});

test("progress goes on the request's own exchange; an empty message cancels the call upstream", async (t) => {
  const h = await harness(t);
  const messages = await h.request(1, "tools/call", { name: "alpha-slow", arguments: { ms: 10 }, _meta: undefined }, { ...META, progressToken: "p1" });
  const progress = messages.filter((m) => m.method === "notifications/progress");
  t.deepEqual(progress.map((m) => [m.params.progressToken, m.params.progress]), [["p1", 1], ["p1", 2]]);
  t.is(messages.at(-1)!.result.resultType, "complete");

  h.channel.receive(2n, JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "alpha-slow", arguments: { ms: 60_000 }, _meta: { ...META } } }));
  await h.until(() => h.probe.running === 1);
  h.channel.receive(2n, new Uint8Array(0));
  await h.until(() => h.probe.cancelled.length === 1);
  t.is(h.probe.cancelled.length, 1, "the server saw the cancellation");
  t.false(h.messages(2).some((m) => "result" in m || "error" in m), "nothing is answered for a cancelled request");
});

test("subscriptions/listen: acknowledged first with the honoured filter, tagged with the subscription id; unknown resources are left out", async (t) => {
  const h = await harness(t);
  h.channel.receive(
    9n,
    JSON.stringify({
      jsonrpc: "2.0",
      id: "sub-1",
      method: "subscriptions/listen",
      params: { _meta: META, notifications: { toolsListChanged: true, resourceSubscriptions: ["mem://alpha/readme", "mem://nowhere/x"] } },
    }),
  );
  await h.until(() => h.messages(9).length > 0);
  const [ack] = h.messages(9);
  t.is(ack!.method, "notifications/subscriptions/acknowledged");
  t.deepEqual(ack!.params.notifications, { toolsListChanged: true, resourceSubscriptions: ["mem://alpha/readme"] });
  t.is(ack!.params._meta["io.modelcontextprotocol/subscriptionId"], "sub-1");
});

test("each call's caller is the client its _meta names: one identity per client name, none shared between names", async (t) => {
  const clients: (CallClient | undefined)[] = [];
  const h = await harness(t, { ...nullCallObserver, finished: (...args) => void clients.push(args[4]) });
  const call = (exchange: number, name?: string) =>
    h.request(
      exchange,
      "tools/call",
      { name: "alpha-echo", arguments: { text: "hi" } },
      name === undefined ? { ...META, "io.modelcontextprotocol/clientInfo": undefined } : { ...META, "io.modelcontextprotocol/clientInfo": { name, version: "1" } },
    );
  await call(1, "ide-a");
  await call(2, "ide-b");
  await call(3, "ide-a");
  await call(4);
  t.deepEqual(clients, [
    { name: "ide-a", era: "modern", transport: "streamable_http" },
    { name: "ide-b", era: "modern", transport: "streamable_http" },
    { name: "ide-a", era: "modern", transport: "streamable_http" },
    { era: "modern", transport: "streamable_http" },
  ]);
  // Kept per name (what is remembered per caller object, such as the audit log's description, is found again).
  t.is(clients[0], clients[2]);
  t.not(clients[0], clients[1]);
});

test("a large result kept as the server's bytes gets resultType spliced in front, without being decoded", (t) => {
  const text = "x".repeat(100_000);
  const bytes = Buffer.from(` {"content":[{"type":"text","text":"${text}"}]}\n`);
  const raw = new RawJson([bytes.subarray(0, 10), bytes.subarray(10, 50_000), bytes.subarray(50_000)], bytes.length);
  const payload = modernResultResponse(7, "tools/call", raw);
  t.not(typeof payload, "string", "spliced, not re-encoded");
  const parsed = JSON.parse(jsonPayloadText(payload));
  t.is(parsed.id, 7);
  t.is(parsed.result.resultType, "complete");
  t.is(parsed.result.content[0].text, text);

  const single = Buffer.from(`{"content":[{"type":"text","text":"${text}"}]} `);
  const spliced = modernResultResponse(10, "tools/call", new RawJson([single], single.length));
  t.not(typeof spliced, "string", "a result in one piece is spliced too");
  t.deepEqual(JSON.parse(jsonPayloadText(spliced)).result, { resultType: "complete", content: [{ type: "text", text }] });
  const empty = Buffer.from("{ }");
  t.deepEqual(JSON.parse(jsonPayloadText(modernResultResponse(11, "tools/call", new RawJson([empty], empty.length)))).result, { resultType: "complete" });

  const own = Buffer.from(`{"resultType":"input_required","inputRequests":{},"pad":"${text}"}`);
  const kept = JSON.parse(jsonPayloadText(modernResultResponse(8, "tools/call", new RawJson([own.subarray(0, 5), own.subarray(5)], own.length))));
  t.is(kept.result.resultType, "input_required", "a server's own resultType wins");
  t.deepEqual(JSON.parse(jsonPayloadText(modernResultResponse("p", "tools/call", { content: [{ type: "text", text: "hi" }] }))), {
    jsonrpc: "2.0",
    id: "p",
    result: { resultType: "complete", content: [{ type: "text", text: "hi" }] },
  });
  t.deepEqual(JSON.parse(jsonPayloadText(modernResultResponse(12, "tools/call", {}))).result, { resultType: "complete" });
  t.is(JSON.parse(jsonPayloadText(modernResultResponse(13, "tools/call", { resultType: "input_required", inputRequests: {} }))).result.resultType, "input_required");
  const retried = JSON.parse(jsonPayloadText(modernResultResponse(9, "resources/read", { contents: [] }, false)));
  t.deepEqual(retried.result, { contents: [], resultType: "complete" }, "a retry's result carries no cache hints");
});

test("a modern client's __proto__ keys reach the server as ordinary keys, never as the forwarded params' prototype", (t) => {
  const params = JSON.parse(
    JSON.stringify({ name: "alpha-echo", arguments: { text: "hi" }, _meta: { ...META, traceparent: "00-aa-bb-01" } })
      .replace('"name"', '"__proto__":{"task":{"ttl":1},"arguments":{"text":"hidden"}},"name"')
      .replace('"traceparent"', '"__proto__":{"progressToken":"hidden"},"traceparent"'),
  ) as Record<string, unknown>;
  t.true(Object.hasOwn(params, "__proto__"), "the hostile key is an own key of the parsed message");
  const sent = upstreamParams(params) as Record<string, any>;
  t.is(Object.getPrototypeOf(sent), Object.prototype);
  t.is(Object.getPrototypeOf(sent._meta), Object.prototype);
  t.is(sent.task, undefined, "nothing is inherited from the client's object");
  t.is(sent._meta.progressToken, undefined);
  // What the server receives: every key as the client sent it, less the modern client's own `_meta` keys.
  t.is(
    JSON.stringify(sent),
    '{"__proto__":{"task":{"ttl":1},"arguments":{"text":"hidden"}},"name":"alpha-echo","arguments":{"text":"hi"},' +
      '"_meta":{"__proto__":{"progressToken":"hidden"},"traceparent":"00-aa-bb-01"}}',
  );
});
