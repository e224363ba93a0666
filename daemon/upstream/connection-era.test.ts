import test, { type ExecutionContext } from "ava";
import { buildChildEnv, spawnChild, type ChildHandle } from "../supervisor/child-process.js";
import { fixturePath, serverEverythingPath, trackGroups, waitFor } from "../supervisor/test-support.js";
import { watchCatalog } from "./catalog.js";
import { createUpstreamConnection, EraProbeFallbackError, GATEWAY_MODERN_CLIENT_CAPABILITIES, type UpstreamConnectionOptions } from "./connection.js";
import { createStdioMessageTransport } from "./stdio-transport.js";
import type { JsonObject } from "./types.js";

/** Spawns a real server process and connects to it in `era`; the stderr lines are kept. */
async function connectTo(
  t: ExecutionContext,
  args: string[],
  era: UpstreamConnectionOptions["era"],
  extra: Partial<UpstreamConnectionOptions> = {},
) {
  const track = trackGroups(t);
  const child: ChildHandle = spawnChild({ command: process.execPath, args, env: buildChildEnv({}) });
  track(child.pid);
  t.teardown(() => child.stop({ stdinGraceMs: 500, termGraceMs: 1000 }).then(() => undefined));
  const stderr: string[] = [];
  child.process.stderr!.on("data", (chunk: Buffer) => stderr.push(chunk.toString("utf8")));
  const transport = createStdioMessageTransport({ input: child.process.stdin!, output: child.process.stdout! });
  const notifications: { method: string; params: JsonObject | undefined }[] = [];
  const started = Date.now();
  const connection = await createUpstreamConnection({
    serverName: "s",
    transport,
    era,
    clientInfo: { name: "gateway-under-test", version: "9.9.9" },
    handlers: {
      onNotification: (method, params) => notifications.push({ method, params }),
      onRequest: async () => ({}),
    },
    ...extra,
  });
  t.teardown(() => connection.close());
  return { child, connection, notifications, stderr: () => stderr.join(""), startMs: Date.now() - started };
}

const modernServer = fixturePath("modern-server.mjs");
const toolText = (result: JsonObject): string => ((result.content as JsonObject[])[0]!.text as string) ?? "";

test("auto: a modern server (SDK v2, modern only) is detected by server/discover and spoken to without initialize", async (t) => {
  const { connection } = await connectTo(t, [modernServer, "--name", "m1"], "auto");
  t.is(connection.identity.era, "modern");
  t.is(connection.identity.protocolVersion, "2026-07-28");
  t.is(connection.identity.serverInfo.name, "m1");
  t.truthy(connection.identity.capabilities.tools);
  const listed = await connection.request("tools/list", {});
  t.deepEqual((listed.tools as JsonObject[]).map((tool) => tool.name).sort(), ["add_tool", "echo", "log", "meta", "progress", "slow", "touch"]);
  // Results pass through untouched, `resultType` and the server's `_meta` included.
  const echoed = await connection.request("tools/call", { name: "echo", arguments: { text: "hi" } });
  t.is(echoed.resultType, "complete");
  t.is(toolText(echoed), "hi");
});

test("modern: every request carries version, the gateway's capabilities and identity; caller _meta (trace context, progress token) stays", async (t) => {
  const { connection } = await connectTo(t, [modernServer], "auto");
  const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const first = JSON.parse(
    toolText(await connection.request("tools/call", { name: "meta", arguments: {}, _meta: { traceparent, tracestate: "k=v", progressToken: "tok" } })),
  ) as JsonObject;
  t.is(first["io.modelcontextprotocol/protocolVersion"], "2026-07-28");
  t.deepEqual(first["io.modelcontextprotocol/clientCapabilities"], GATEWAY_MODERN_CLIENT_CAPABILITIES);
  t.deepEqual(first["io.modelcontextprotocol/clientInfo"], { name: "gateway-under-test", version: "9.9.9" });
  t.is(first.traceparent, traceparent);
  t.is(first.tracestate, "k=v");
  t.is(first.progressToken, "tok");
  t.false("io.modelcontextprotocol/logLevel" in first);
  // logging/setLevel is not sent (the modern revision has none): the level goes with every later request.
  t.deepEqual(await connection.request("logging/setLevel", { level: "debug" }), {});
  const second = JSON.parse(toolText(await connection.request("tools/call", { name: "meta", arguments: {} }))) as JsonObject;
  t.is(second["io.modelcontextprotocol/logLevel"], "debug");
  // A modern client's own per-request level wins over the forwarded one.
  const third = JSON.parse(
    toolText(await connection.request("tools/call", { name: "meta", arguments: {}, _meta: { "io.modelcontextprotocol/logLevel": "error" } })),
  ) as JsonObject;
  t.is(third["io.modelcontextprotocol/logLevel"], "error");
});

test("modern: progress, cancellation and the ping probe (server/discover) work", async (t) => {
  const { connection, notifications, stderr } = await connectTo(t, [modernServer], "auto");
  const result = await connection.request("tools/call", { name: "progress", arguments: { n: 3 }, _meta: { progressToken: "p-1" } });
  t.is(toolText(result), "done 3");
  const progress = notifications.filter((n) => n.method === "notifications/progress").map((n) => n.params?.progress);
  t.deepEqual(progress, [1, 2, 3]);
  const controller = new AbortController();
  const slow = connection.request("tools/call", { name: "slow", arguments: { ms: 60_000 } }, { signal: controller.signal });
  setTimeout(() => controller.abort(), 100);
  await t.throwsAsync(slow, { message: /cancelled/ });
  t.true(await waitFor(() => stderr().includes("slow: cancelled"), 10_000));
  // The engine's ping is answered by server/discover for a modern server (it has no `ping`).
  t.deepEqual(await connection.request("ping", undefined), {});
});

test("modern: list changes and resource updates arrive through subscriptions/listen, as from a legacy server", async (t) => {
  const { connection, notifications } = await connectTo(t, [modernServer], "auto");
  const watcher = watchCatalog(connection, { onCatalog: () => {} });
  const first = await watcher.ready;
  t.false(first.tools.some((tool) => tool.name === "added_1"));
  t.is(first.resources[0]?.uri, "fixture://counter");
  await connection.request("tools/call", { name: "add_tool", arguments: {} });
  t.true(await waitFor(() => watcher.current.tools.some((tool) => tool.name === "added_1"), 10_000));
  t.true(notifications.some((n) => n.method === "notifications/tools/list_changed"));

  t.deepEqual(await connection.request("resources/subscribe", { uri: "fixture://counter" }), {});
  await connection.request("tools/call", { name: "touch", arguments: {} });
  t.true(await waitFor(() => notifications.some((n) => n.method === "notifications/resources/updated" && n.params?.uri === "fixture://counter"), 10_000));
  const read = await connection.request("resources/read", { uri: "fixture://counter" });
  t.is((read.contents as JsonObject[])[0]!.text, "1");
  // Unsubscribed: the listen is cancelled, so a later change brings no update.
  t.deepEqual(await connection.request("resources/unsubscribe", { uri: "fixture://counter" }), {});
  const before = notifications.filter((n) => n.method === "notifications/resources/updated").length;
  await connection.request("tools/call", { name: "touch", arguments: {} });
  await connection.request("tools/call", { name: "echo", arguments: { text: "after" } });
  t.is(notifications.filter((n) => n.method === "notifications/resources/updated").length, before);
});

test("modern: an unknown resource subscription is refused with the server's error, not a hang", async (t) => {
  const { connection } = await connectTo(t, [modernServer], "auto");
  const error = await t.throwsAsync(connection.request("resources/subscribe", { uri: 42 as unknown as string }));
  t.regex(error!.message, /uri/);
});

test("auto: server-everything (SDK v1, legacy) is detected legacy at once and initialized on the same process", async (t) => {
  const { connection, child } = await connectTo(t, [serverEverythingPath, "stdio"], "auto");
  t.is(connection.identity.era, "legacy");
  t.is(connection.identity.protocolVersion, "2025-11-25");
  t.true(child.process.exitCode === null);
  const listed = await connection.request("tools/list", {});
  t.true((listed.tools as JsonObject[]).length > 0);
});

test("auto: a legacy server that ignores the probe counts as legacy after the probe bound", async (t) => {
  const { connection, startMs } = await connectTo(t, [fixturePath("legacy-fragile.mjs"), "--before-init", "silent"], "auto", { probeTimeoutMs: 300 });
  t.is(connection.identity.era, "legacy");
  t.true(startMs >= 300);
  t.is(toolText(await connection.request("tools/call", { name: "echo", arguments: { text: "ok" } })), "ok");
});

test("auto: garbage in answer to the probe is legacy", async (t) => {
  const { connection } = await connectTo(t, [fixturePath("legacy-fragile.mjs"), "--before-init", "garbage"], "auto", { probeTimeoutMs: 300 });
  t.is(connection.identity.era, "legacy");
});

test("auto: a legacy server that exits on the probe rejects with EraProbeFallbackError; a legacy start of a fresh process works", async (t) => {
  const error = await t.throwsAsync(connectTo(t, [fixturePath("legacy-fragile.mjs"), "--before-init", "exit"], "auto"), {
    instanceOf: EraProbeFallbackError,
  });
  t.regex(error!.message, /server\/discover probe/);
  const { connection } = await connectTo(t, [fixturePath("legacy-fragile.mjs"), "--before-init", "exit"], "legacy");
  t.is(connection.identity.era, "legacy");
});

test("auto: a legacy server wedged by the probe (initialize fails afterwards) rejects with EraProbeFallbackError", async (t) => {
  await t.throwsAsync(connectTo(t, [fixturePath("legacy-fragile.mjs"), "--before-init", "wedge"], "auto", { probeTimeoutMs: 300 }), {
    instanceOf: EraProbeFallbackError,
  });
});

test("legacy (the default) never probes; modern (cached) refuses a legacy server instead of initializing it", async (t) => {
  const { connection, stderr } = await connectTo(t, [fixturePath("legacy-fragile.mjs"), "--before-init", "exit"], undefined);
  t.is(connection.identity.era, "legacy");
  t.false(stderr().includes("before initialize"));
  await t.throwsAsync(connectTo(t, [fixturePath("legacy-fragile.mjs"), "--before-init", "silent"], "modern", { probeTimeoutMs: 300, signal: AbortSignal.timeout(1500) }), {
    message: /did not complete server\/discover/,
  });
  const modern = await connectTo(t, [modernServer], "modern");
  t.is(modern.connection.identity.era, "modern");
});

test("modern: the server logs only for requests that carry a level; logging/setLevel makes every later request carry one", async (t) => {
  const { connection, notifications } = await connectTo(t, [modernServer], "auto");
  await connection.request("tools/call", { name: "log", arguments: { text: "unasked" } });
  await connection.request("tools/call", { name: "echo", arguments: { text: "barrier" } });
  t.deepEqual(notifications.filter((n) => n.method === "notifications/message"), [], "no level in _meta: no log notification");
  await connection.request("logging/setLevel", { level: "info" });
  await connection.request("tools/call", { name: "log", arguments: { text: "asked" } });
  t.true(await waitFor(() => notifications.some((n) => n.method === "notifications/message" && n.params?.data === "asked"), 10_000));
});
