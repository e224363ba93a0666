import anyTest, { type TestFn } from "ava";
import { ResourceUpdatedNotificationSchema, ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { waitUntil } from "./helpers/daemon-process.js";
import { connectGatewayClient, type RecordingClient } from "./helpers/mcp-clients.js";
import { startGateway, teamFile, type Gateway } from "./helpers/mcp-gateway.js";

/**
 * Each upstream in its own era, through the whole running gateway: a modern-only server built on
 * @modelcontextprotocol/server 2.x (revision 2026-07-28: no initialize, per-request `_meta`,
 * subscriptions/listen) beside server-everything (legacy), both reached by a legacy client (the SDK v1
 * client over Streamable HTTP at /mcp). The client sees one ordinary 2025-11-25 session.
 */

interface Context {
  gateway: Gateway;
}

const test = anyTest as TestFn<Context>;

type Json = Record<string, unknown>;

test.before(async (t) => {
  t.context = { gateway: await startGateway({ configPath: teamFile("mcp-eras.yaml"), servers: ["modern", "everything"] }) };
});

test.after.always(async (t) => {
  await t.context.gateway?.close();
});

async function connect(t: { context: Context; teardown(fn: () => unknown): void }, name: string): Promise<RecordingClient> {
  const client = await connectGatewayClient(t.context.gateway, "streamable", { name });
  t.teardown(() => client.close());
  return client;
}

const text = (result: Json): string => ((result.content as Json[])[0]?.text as string) ?? "";
/** The text of a resource's first contents entry. */
const contentsText = (result: { contents: readonly Json[] }): string => String(result.contents[0]?.text ?? "");

test("dsctl servers get and list show each server's era and protocol", async (t) => {
  const { gateway } = t.context;
  const modern = await gateway.dsctl(["servers", "get", "modern"]);
  t.is(modern.code, 0, modern.stderr);
  t.regex(modern.stdout, /\nera +modern\n/);
  t.regex(modern.stdout, /\nprotocol +2026-07-28\n/);
  t.regex(modern.stdout, /\nserver info +fixture-modern 2\.0\.0\n/);
  const legacy = await gateway.dsctl(["servers", "get", "everything", "--json"]);
  const server = (JSON.parse(legacy.stdout) as { server: Json }).server;
  t.is(server.protocolEra, "PROTOCOL_ERA_LEGACY");
  t.is(server.protocolVersion, "2025-11-25");
  const table = await gateway.dsctl(["servers", "list"]);
  t.regex(table.stdout, /\nmodern +RUNNING +yes +\d+ +\S+ +0 +\d+(?: \(\+\d+ hidden\))? +modern/);
  t.regex(table.stdout, /\neverything +RUNNING +yes +\d+ +\S+ +0 +\d+(?: \(\+\d+ hidden\))? +legacy/);
});

test("a legacy client lists and calls a modern server's tools beside a legacy server's, with progress", async (t) => {
  const client = await connect(t, "eras-tools");
  const { tools } = await client.client.listTools();
  const names = tools.map((tool) => tool.name);
  for (const name of ["modern-echo", "modern-progress", "modern-slow", "modern-touch", "everything-echo"]) t.true(names.includes(name), name);
  const echoed = await client.client.callTool({ name: "modern-echo", arguments: { text: "across eras" } });
  t.is(text(echoed as Json), "across eras");
  const everything = await client.client.callTool({ name: "everything-echo", arguments: { message: "legacy" } });
  t.is(text(everything as Json), "Echo: legacy");
  const seen: number[] = [];
  const progressed = await client.client.callTool({ name: "modern-progress", arguments: { n: 3 } }, undefined, {
    onprogress: (progress) => void seen.push(progress.progress),
  });
  t.is(text(progressed as Json), "done 3");
  t.deepEqual(seen, [1, 2, 3]);
});

test("a legacy client's log level reaches a modern server in each request's _meta, and its log comes back", async (t) => {
  const client = await connect(t, "eras-logging");
  await client.client.setLoggingLevel("info");
  await client.client.callTool({ name: "modern-log", arguments: { text: "hello from a modern server" } });
  t.true(
    await client.waitForNotifications("notifications/message", 1, 30_000),
    "notifications/message reached the client",
  );
  t.true(client.notifications("notifications/message").some((n) => n.params?.data === "hello from a modern server"));
});

test("cancelling a legacy client's call cancels it in the modern server", async (t) => {
  const { gateway } = t.context;
  const client = await connect(t, "eras-cancel");
  const cancellations = async (): Promise<number> => (await gateway.serverLog("modern")).split("slow: cancelled").length - 1;
  const before = await cancellations();
  const controller = new AbortController();
  const outcome = client.client.callTool({ name: "modern-slow", arguments: { ms: 120_000 } }, undefined, { signal: controller.signal }).then(
    () => "resolved",
    (error: unknown) => `rejected: ${String(error)}`,
  );
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  controller.abort("test cancels");
  t.regex(await outcome, /^rejected/);
  t.true(await waitUntil(async () => (await cancellations()) > before, 30_000), "the modern server saw notifications/cancelled");
  const echoed = await client.client.callTool({ name: "modern-echo", arguments: { text: "still here" } });
  t.is(text(echoed as Json), "still here");
});

test("resources and prompts of a modern server: list, read, subscribe → updated, get", async (t) => {
  const client = await connect(t, "eras-resources");
  const { resources } = await client.client.listResources();
  t.true(resources.some((resource) => resource.uri === "fixture://counter"));
  const updates: string[] = [];
  client.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => void updates.push(notification.params.uri));
  await client.client.subscribeResource({ uri: "fixture://counter" });
  const before = Number(contentsText(await client.client.readResource({ uri: "fixture://counter" })));
  await client.client.callTool({ name: "modern-touch", arguments: {} });
  t.true(await waitUntil(() => updates.includes("fixture://counter"), 30_000), "notifications/resources/updated reached the client");
  const after = await client.client.readResource({ uri: "fixture://counter" });
  t.is(Number(contentsText(after)), before + 1);
  await client.client.unsubscribeResource({ uri: "fixture://counter" });

  const { prompts } = await client.client.listPrompts();
  t.true(prompts.some((prompt) => prompt.name === "modern-greet"));
  const prompt = await client.client.getPrompt({ name: "modern-greet", arguments: { who: "era" } });
  t.deepEqual(prompt.messages[0]?.content, { type: "text", text: "Hello, era" });
});

test("a modern server's tool list change reaches a legacy client as notifications/tools/list_changed", async (t) => {
  const client = await connect(t, "eras-list-changed");
  let changes = 0;
  client.client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changes++);
  const added = text((await client.client.callTool({ name: "modern-add_tool", arguments: {} })) as Json).replace("added ", "");
  t.true(await waitUntil(() => changes > 0, 30_000), "list_changed reached the client");
  t.true(
    await waitUntil(async () => (await client.client.listTools()).tools.some((tool) => tool.name === `modern-${added}`), 30_000),
    "the new tool is listed",
  );
  const called = await client.client.callTool({ name: `modern-${added}`, arguments: {} });
  t.is(text(called as Json), added);
});

test.serial("a restarted modern server gets its subscriptions re-established: updates keep reaching the client", async (t) => {
  const { gateway } = t.context;
  const client = await connect(t, "eras-restart");
  const updates: string[] = [];
  client.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => void updates.push(notification.params.uri));
  await client.client.subscribeResource({ uri: "fixture://counter" });
  const before = await gateway.dsctl(["servers", "get", "modern", "--json"]);
  const oldPid = (JSON.parse(before.stdout) as { server: { pid: number } }).server.pid;
  const restarted = await gateway.dsctl(["servers", "restart", "modern"]);
  t.is(restarted.code, 0, restarted.stderr);
  t.true(
    await waitUntil(async () => {
      const server = (JSON.parse((await gateway.dsctl(["servers", "get", "modern", "--json"])).stdout) as { server: { state: string; pid: number } }).server;
      return server.state === "SERVER_STATE_RUNNING" && server.pid !== oldPid;
    }, 60_000),
    "the modern server is running again in a new process",
  );
  // The new process holds no subscription until the gateway re-opens its subscriptions/listen.
  t.true(
    await waitUntil(async () => {
      await client.client.callTool({ name: "modern-touch", arguments: {} });
      return updates.includes("fixture://counter");
    }, 30_000),
    "notifications/resources/updated from the new process reached the client",
  );
  await client.client.unsubscribeResource({ uri: "fixture://counter" });
});
