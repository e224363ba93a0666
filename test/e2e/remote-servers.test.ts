import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import anyTest, { type ExecutionContext, type TestFn } from "ava";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ResourceUpdatedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { ServerState } from "../../gen/deploystack/gateway/v1/server_pb.js";
import { startRemoteFixture, type RemoteFixture } from "../../daemon/upstream/testing/remote-fixture.js";
import { startDaemon, waitUntil } from "./helpers/daemon-process.js";
import { connectGatewayClient, type RecordingClient } from "./helpers/mcp-clients.js";
import { createHookScope, startGateway, type Gateway, type HookScope } from "./helpers/mcp-gateway.js";

/**
 * Remote MCP servers through the built gateway, with real SDK clients and the SDK's own HTTP servers on loopback:
 * `lin` (SDK v1 Streamable HTTP, sessions, a configured header), `mod` (SDK v2, revision 2026-07-28 only) and
 * `old` (SDK v1 HTTP+SSE, reached by `transport: auto` falling back). Tools, progress, prompts and resources
 * cross as for a process; the configured header reaches the server and the IDE's Authorization header never
 * does; faults (kill and restart, a connection dropped mid-call, an expired session) heal.
 */

interface Context {
  gateway: Gateway;
  scope: HookScope;
  fixtures: Record<"lin" | "mod" | "old", RemoteFixture>;
}

const test = anyTest as TestFn<Context>;
type Json = Record<string, unknown>;
const HEADER_SECRET = "remote-hdr-7f3b2c";
/** lin's resource has a URI of its own: every fixture serves one, and a URI belongs to the first server that lists it. */
const LIN_COUNTER = "fixture://lin/counter";
const LIN_RESOURCE_ARGS = ["--resource", LIN_COUNTER];

test.before(async (t) => {
  const scope = createHookScope();
  const fixtures = {
    lin: await startRemoteFixture(scope.context, "v1-streamable", 0, "fixture-lin", LIN_RESOURCE_ARGS),
    mod: await startRemoteFixture(scope.context, "v2-modern", 0, "fixture-mod"),
    old: await startRemoteFixture(scope.context, "v1-sse", 0, "fixture-old"),
  };
  const dir = mkdtempSync(join(tmpdir(), "dsgw-remote-e2e-"));
  scope.context.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const configPath = join(dir, "team.json");
  writeFileSync(
    configPath,
    JSON.stringify({
      defaultTeam: "e2e",
      teams: [
        {
          id: "e2e",
          servers: [
            { name: "lin", url: fixtures.lin.url, transport: "http", headers: { "X-Api-Key": HEADER_SECRET }, requestTimeout: "30s" },
            { name: "mod", url: fixtures.mod.url },
            { name: "old", url: fixtures.old.url },
          ],
        },
      ],
    }),
  );
  try {
    t.context = { gateway: await startGateway({ configPath, servers: ["lin", "mod", "old"] }), scope, fixtures };
  } catch (error) {
    await scope.close();
    throw error;
  }
});

test.after.always(async (t) => {
  await t.context.gateway?.close();
  await t.context.scope?.close();
});

const text = (result: Json): string => String((result.content as Json[])[0]?.text ?? "");

async function connect(t: ExecutionContext<Context>, name: string): Promise<RecordingClient> {
  const client = await connectGatewayClient(t.context.gateway, "streamable", { name });
  t.teardown(() => client.close());
  return client;
}

async function state(gateway: Gateway, name: string): Promise<ServerState> {
  return (await gateway.daemon.clients.servers.getServer({ name })).server!.state;
}

test.serial("dsctl servers get and list show the URL, the transport and the era; no pid", async (t) => {
  const { gateway, fixtures } = t.context;
  const lin = await gateway.dsctl(["servers", "get", "lin"]);
  t.is(lin.code, 0, lin.stderr);
  t.regex(lin.stdout, new RegExp(`\\nurl +${fixtures.lin.url.replaceAll(".", "\\.")}\\n`));
  t.regex(lin.stdout, /\ntransport +streamable_http\n/);
  t.regex(lin.stdout, /\nera +legacy\n/);
  t.regex(lin.stdout, /\npid +-\n/);
  t.notRegex(lin.stdout, /\ncommand /);
  const mod = await gateway.dsctl(["servers", "get", "mod", "--json"]);
  const server = (JSON.parse(mod.stdout) as { server: Json }).server;
  t.is(server.protocolEra, "PROTOCOL_ERA_MODERN");
  t.is(server.url, fixtures.mod.url);
  const old = (await gateway.daemon.clients.servers.getServer({ name: "old" })).server!;
  t.is(old.transport, 3, "the SSE fixture was reached by falling back to HTTP+SSE");
  const list = await gateway.dsctl(["servers", "list"]);
  t.regex(list.stdout, /remote: lin → http:\/\/127\.0\.0\.1:\d+\/mcp \(streamable-http\)/);
  t.false(`${lin.stdout}${mod.stdout}${list.stdout}`.includes(HEADER_SECRET), "header values are never shown");
});

test.serial("tools, progress, prompts and resources of every remote server, through one SDK client", async (t) => {
  const client = await connect(t, "remote-tools");
  const { tools } = await client.client.listTools();
  const names = tools.map((tool) => tool.name);
  for (const prefix of ["lin", "mod", "old"]) {
    t.true(names.includes(`${prefix}-echo`), `${prefix}-echo listed`);
    t.is(text((await client.client.callTool({ name: `${prefix}-echo`, arguments: { text: `via ${prefix}` } })) as Json), `via ${prefix}`);
    const seen: number[] = [];
    const done = await client.client.callTool({ name: `${prefix}-progress`, arguments: { n: 3 } }, undefined, {
      onprogress: (progress) => void seen.push(progress.progress),
    });
    t.is(text(done as Json), "done 3");
    t.deepEqual(seen, [1, 2, 3], `${prefix}: progress reached the caller`);
    const prompt = await client.client.getPrompt({ name: `${prefix}-greet`, arguments: { who: prefix } });
    t.regex(JSON.stringify(prompt.messages), new RegExp(`hello ${prefix}`));
  }
  const { resources } = await client.client.listResources();
  t.true(resources.some((resource) => resource.uri === "fixture://counter"));
  const read = await client.client.readResource({ uri: "fixture://counter" });
  t.regex(JSON.stringify(read.contents), /counter \d+/);
  const big = await client.client.callTool({ name: "lin-big", arguments: { n: 1 << 20 } });
  t.is(text(big as Json).length, 1 << 20, "1 MiB through");
});

test.serial("the configured header reaches the server; the IDE's own Authorization header never does", async (t) => {
  const { gateway, fixtures } = t.context;
  const client = new Client({ name: "ide-with-token", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(gateway.mcpUrl), {
    requestInit: { headers: { Authorization: "Bearer ide-token-must-not-pass", "X-Api-Key": "from-the-ide" } },
  });
  await client.connect(transport);
  t.teardown(() => client.close());
  await client.callTool({ name: "lin-echo", arguments: { text: "who am i" } });
  const { lastHeaders } = await fixtures.lin.stats();
  t.is(lastHeaders["x-api-key"], HEADER_SECRET, "the team file's header, not the IDE's");
  t.is(lastHeaders.authorization as string | undefined, undefined, "no Authorization header upstream");
  t.false(JSON.stringify(lastHeaders).includes("ide-token-must-not-pass"));
  const modHeaders = (await fixtures.mod.stats()).lastHeaders;
  t.is(modHeaders["x-api-key"] as string | undefined, undefined, "lin's header goes to lin only");
});

test.serial("a connection dropped mid-call: the caller gets a clear error and the next call works", async (t) => {
  const client = await connect(t, "remote-drop");
  const failed = await client.client.callTool({ name: "lin-drop", arguments: {} }).then(
    (result) => JSON.stringify(result),
    (error: Error) => error.message,
  );
  t.regex(failed, /connection was lost during tools\/call/);
  t.is(text((await client.client.callTool({ name: "lin-echo", arguments: { text: "still here" } })) as Json), "still here");
  t.is(await state(t.context.gateway, "lin"), ServerState.RUNNING);
});

test.serial("an expired upstream session (404) is re-initialized transparently; subscriptions go on", async (t) => {
  const { fixtures } = t.context;
  const client = await connect(t, "remote-expiry");
  const updates: string[] = [];
  client.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => void updates.push(notification.params.uri));
  await client.client.subscribeResource({ uri: LIN_COUNTER });
  const before = (await fixtures.lin.stats()).initializes;
  await fixtures.lin.expire();
  t.is(text((await client.client.callTool({ name: "lin-echo", arguments: { text: "after expiry" } })) as Json), "after expiry");
  t.is((await fixtures.lin.stats()).initializes, before + 1, "one new upstream session");
  await client.client.callTool({ name: "lin-touch", arguments: {} });
  t.true(await waitUntil(() => updates.includes(LIN_COUNTER), 30_000), "resources/updated after the new session");
});

test.serial("kill and restart the upstream: BACKOFF, then RUNNING on the same URL; calls, list changes and subscriptions work again", async (t) => {
  const { gateway, fixtures } = t.context;
  const port = fixtures.lin.port;
  const watcher = await connect(t, "remote-watcher");
  const updates: string[] = [];
  watcher.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => void updates.push(notification.params.uri));
  await watcher.client.subscribeResource({ uri: LIN_COUNTER });
  await fixtures.lin.kill();
  t.true(
    await waitUntil(async () => [ServerState.BACKOFF, ServerState.STARTING].includes(await state(gateway, "lin")), 60_000),
    "lin left RUNNING",
  );
  const lastError = (await gateway.daemon.clients.servers.getServer({ name: "lin" })).server!.lastError;
  t.regex(lastError, /unreachable|connection/);
  fixtures.lin = await startRemoteFixture(t.context.scope.context, "v1-streamable", port, "fixture-lin", LIN_RESOURCE_ARGS);
  t.true(await waitUntil(async () => (await state(gateway, "lin")) === ServerState.RUNNING, 90_000), "lin RUNNING again");
  const client = await connect(t, "remote-restart");
  t.is(text((await client.client.callTool({ name: "lin-echo", arguments: { text: "back" } })) as Json), "back");
  await client.client.callTool({ name: "lin-touch", arguments: {} });
  t.true(await waitUntil(() => updates.includes(LIN_COUNTER), 30_000), "the subscription was re-established on the new connection");
  const changes = watcher.notifications("notifications/tools/list_changed").length;
  await client.client.callTool({ name: "lin-add_tool", arguments: {} });
  t.true(await watcher.waitForNotifications("notifications/tools/list_changed", changes + 1, 30_000), "list changes reach clients after the reconnect");
  t.true(await waitUntil(async () => (await watcher.client.listTools()).tools.some((tool) => tool.name.startsWith("lin-added_")), 30_000));
});

test.serial("plain http:// to a host off loopback is refused at load without insecure: true", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "dsgw-remote-insecure-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const configPath = join(dir, "team.json");
  writeFileSync(configPath, JSON.stringify({ teams: [{ id: "x", servers: [{ name: "far", url: "http://mcp.example.com/mcp" }] }] }));
  const daemon = await startDaemon(t, { configPath, noWait: true });
  const exit = await Promise.race([daemon.exited, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 60_000))]);
  const output = `${daemon.stdout()}${daemon.stderr()}`;
  if (exit) {
    t.not(exit.code, 0);
  } else {
    // A daemon that stays up with the file refused must say so and run no such server.
    const { servers } = await daemon.clients.servers.listServers({});
    t.false(servers.some((server) => server.name === "far"));
  }
  t.regex(output, /plain http:\/\/ is allowed only for loopback hosts/);
});
