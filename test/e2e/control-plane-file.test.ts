import { writeFileSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import { Code, ConnectError } from "@connectrpc/connect";
import { ConfigSource } from "../../gen/deploystack/gateway/v1/gateway_pb.js";
import { ServerChangeKind } from "../../gen/deploystack/gateway/v1/team_pb.js";
import type { WatchEventsResponse } from "../../gen/deploystack/gateway/v1/gateway_service_pb.js";
import { fixtureServer, isAlive, tempHome, waitForRunning, waitUntil } from "./helpers/daemon-process.js";
import { createHookScope, type HookScope } from "./helpers/mcp-gateway.js";
import { connectGatewayClient, type RecordingClient } from "./helpers/mcp-clients.js";
import { startControlPlaneGateway, writeTeamsFile, type ControlPlaneGateway, type FileTeam } from "./helpers/control-plane-gateway.js";

/**
 * The control plane with the file source, end to end on one shared daemon (tests run in
 * order): teams listed and switched by name or id (never position), every team with its own
 * servers, sessions that stay connected and see the list change, the access policy for
 * both roles in MCP lists and calls and in the control API, `dsctl policy explain`, and a
 * sync that restarts only changed servers — with the new config — and keeps the running
 * config when the file is bad.
 */

const server = (name: string, extra: readonly string[] = []): Record<string, unknown> => ({
  name,
  command: process.execPath,
  args: [fixtureServer("normal-server.mjs"), "--name", name, ...extra],
});

const policy = {
  allow: ["*"],
  deny: ["alpha-crash"],
  roles: { team_user: { deny: ["alpha-env_get", "beta-*"] } },
  managementTools: true,
};

function teams(blueServers: readonly Record<string, unknown>[]): FileTeam[] {
  return [
    { id: "red", name: "Red Team", role: "team_admin", servers: [server("alpha"), server("beta")], policy },
    { id: "blue", name: "Blue Team", role: "team_user", servers: blueServers, policy },
  ];
}

const NO_WATCH = { watch: false };

let scope: HookScope;
let gateway: ControlPlaneGateway;
let configPath: string;
let session: RecordingClient;
const events: WatchEventsResponse[] = [];
const watch = new AbortController();

test.before(async () => {
  scope = createHookScope();
  const home = tempHome(scope.context);
  // Not watched: these tests apply edits with an explicit sync (hot reload has its own test, hot-reload.test.ts).
  configPath = writeTeamsFile(join(home, "teams.json"), teams([server("alpha"), server("gamma"), server("epsilon")]), undefined, NO_WATCH);
  gateway = await startControlPlaneGateway(scope.context, { configPath });
  await waitForRunning(gateway.daemon, ["alpha", "beta"]);
  void (async () => {
    for await (const event of gateway.daemon.clients.gateway.watchEvents({}, { signal: watch.signal })) events.push(event);
  })().catch(() => undefined);
  session = await connectGatewayClient({ mcpUrl: await gateway.mcpUrl(), sseUrl: "" }, "streamable");
});

test.after.always(async () => {
  watch.abort();
  await session?.close().catch(() => undefined);
  await scope?.close();
});

const toolNames = async (): Promise<string[]> => (await session.client.listTools()).tools.map((tool) => tool.name).sort();
const pidsOf = async (): Promise<Map<string, number>> => {
  const { servers } = await gateway.daemon.clients.servers.listServers({});
  gateway.daemon.track(servers.map((s) => s.pid));
  return new Map(servers.map((s) => [s.name, s.pid]));
};

test.serial("status and teams list report the file source and the current team", async (t) => {
  const status = await gateway.daemon.clients.gateway.getStatus({});
  t.is(status.configSource, ConfigSource.FILE);
  t.is(status.configPath, configPath);
  t.is(status.team?.id, "red");
  const { teams: listed } = await gateway.daemon.clients.teams.listTeams({});
  t.deepEqual(
    listed.map((team) => [team.id, team.name, team.role, team.isCurrent, team.isDefault]),
    [
      ["red", "Red Team", "team_admin", true, true],
      ["blue", "Blue Team", "team_user", false, false],
    ],
  );
  const cli = await gateway.dsctl(["teams", "list"]);
  t.is(cli.code, 0, cli.stderr);
  t.regex(cli.stdout, /^CURRENT\s+ID\s+NAME\s+ROLE\s+DEFAULT\n\*\s+red\s+Red Team\s+team_admin\s+yes\n\s+blue\s+Blue Team\s+team_user\n$/);
  const json = await gateway.dsctl(["teams", "list", "--json"]);
  t.is(JSON.parse(json.stdout).teams[0].isCurrent, true);
});

test.serial("team_admin: a denied tool is absent from lists and refused by name, in MCP and the control API", async (t) => {
  const names = await toolNames();
  t.true(names.includes("alpha-env_get"));
  t.true(names.includes("beta-echo"));
  t.false(names.includes("alpha-crash"));
  t.true(names.includes("alpha-manage") && names.includes("beta-manage"), "management tools for team_admin");
  const managed = await session.client.callTool({ name: "beta-manage", arguments: { action: "status" } });
  t.falsy(managed.isError);
  t.like(managed.structuredContent, { server: "beta", action: "status", state: "running", enabled: true });
  const mcpError = await t.throwsAsync(session.client.callTool({ name: "alpha-crash", arguments: {} }));
  t.regex(mcpError?.message ?? "", /tool "alpha-crash" is not allowed by the team policy \(deny rule `alpha-crash` of team "red"\)/);

  const { tools } = await gateway.daemon.clients.mcp.listTools({});
  t.false(tools.some((tool) => tool.name === "alpha-crash"));
  const rpcError = await t.throwsAsync(
    (async () => {
      for await (const _ of gateway.daemon.clients.mcp.callTool({ name: "alpha-crash" })) void _;
    })(),
  );
  t.is(ConnectError.from(rpcError).code, Code.PermissionDenied);
  t.regex(ConnectError.from(rpcError).rawMessage, /team policy/);

  const explained = await gateway.dsctl(["policy", "explain", "alpha-crash"]);
  t.is(explained.code, 0, explained.stderr);
  t.is(
    explained.stdout,
    'alpha-crash: denied by deny rule `alpha-crash` of team "red" (applies to every role; current role team_admin)\n' +
      '  exposed name alpha-crash, canonical name alpha-crash (server "alpha", tool "crash")\n',
  );
  const { decision } = await gateway.daemon.clients.teams.explainPolicy({ tool: "beta-echo" });
  t.like(decision, { tool: "beta-echo", allowed: true, role: "team_admin" });
});

test.serial("switch by name: the old team's servers stop, the new ones start, the session stays and sees the list change", async (t) => {
  const before = await pidsOf();
  const changesBefore = session.notifications("notifications/tools/list_changed").length;
  const switched = await gateway.dsctl(["teams", "switch", "Blue Team"]);
  t.is(switched.code, 0, switched.stderr);
  t.regex(switched.stdout, /switched to team "Blue Team" \(blue, role team_user\)/);
  const running = await waitForRunning(gateway.daemon, ["alpha", "gamma", "epsilon"]);
  t.is(running.get("alpha"), before.get("alpha"), "alpha has the same config in both teams: it keeps running");
  t.true(await waitUntil(() => !isAlive(before.get("beta") ?? 0), 30_000), "beta (red only) stopped");
  t.false((await pidsOf()).has("beta"));
  t.true(await session.waitForNotifications("notifications/tools/list_changed", changesBefore + 1));
  t.true(await waitUntil(async () => (await toolNames()).includes("gamma-echo")));
  const names = await toolNames();
  t.false(names.some((name) => name.startsWith("beta-")));
  t.false(names.includes("alpha-env_get"), "denied to team_user in blue");
  t.is((await gateway.daemon.clients.teams.getCurrentTeam({})).team?.id, "blue");
  t.is((await gateway.daemon.clients.gateway.getStatus({})).team?.id, "blue");
  t.true(events.some((event) => event.event?.kind.case === "teamSwitched" && event.event.kind.value.team?.id === "blue"));
});

test.serial("switch by id works; unknown names and list positions are NotFound", async (t) => {
  const same = await gateway.daemon.clients.teams.switchTeam({ team: "blue" });
  t.is(same.team?.id, "blue");
  for (const reference of ["nope", "1", "0"]) {
    const error = ConnectError.from(await t.throwsAsync(gateway.daemon.clients.teams.switchTeam({ team: reference })));
    t.is(error.code, Code.NotFound, reference);
    t.regex(error.rawMessage, new RegExp(`team "${reference}" not found`));
  }
  const cli = await gateway.dsctl(["teams", "switch", "nope"]);
  t.is(cli.code, 1);
  t.is(cli.stderr, 'team "nope" not found (known: "Red Team", "Blue Team")\n');
});

test.serial("team_user: role rules deny in lists and calls; explain names the role rule", async (t) => {
  const mcpError = await t.throwsAsync(session.client.callTool({ name: "alpha-env_get", arguments: { name: "HOME" } }));
  t.regex(mcpError?.message ?? "", /not allowed by the team policy \(deny rule `alpha-env_get` of team "blue" for role team_user\)/);
  const rpcError = ConnectError.from(
    await t.throwsAsync(
      (async () => {
        for await (const _ of gateway.daemon.clients.mcp.callTool({ name: "alpha-env_get" })) void _;
      })(),
    ),
  );
  t.is(rpcError.code, Code.PermissionDenied);
  const explained = await gateway.dsctl(["policy", "explain", "alpha-env_get", "--json"]);
  t.is(explained.code, 0, explained.stderr);
  t.like(JSON.parse(explained.stdout).decision, {
    tool: "alpha-env_get",
    role: "team_user",
    explanation: 'denied by deny rule `alpha-env_get` of team "blue" for role team_user',
  });
  t.false((await toolNames()).some((name) => name.endsWith("-manage")), "no management tools for team_user");
  const manageError = await t.throwsAsync(session.client.callTool({ name: "gamma-manage", arguments: { action: "disable" } }));
  t.regex(manageError?.message ?? "", /management tools are for team_admin only in team "blue"/);
  const manageExplained = await gateway.daemon.clients.teams.explainPolicy({ tool: "gamma-manage" });
  t.like(manageExplained.decision, { allowed: false, role: "team_user" });
  const allowed = await session.client.callTool({ name: "gamma-echo", arguments: { text: "hi" } });
  t.deepEqual(allowed.content, [{ type: "text", text: "hi" }]);
});

test.serial("sync restarts only changed servers, with the new config; removed ones stop; added ones start", async (t) => {
  const before = await pidsOf();
  writeTeamsFile(configPath, teams([server("alpha"), server("gamma", ["--tools", "1"]), server("delta")]), undefined, NO_WATCH);
  const synced = await gateway.dsctl(["teams", "sync"]);
  t.is(synced.code, 0, synced.stderr);
  t.regex(synced.stdout, /^SERVER\s+CHANGE\s+REASON\n/);
  t.regex(synced.stdout, /gamma\s+CHANGED\s+args changed — restarted with the new config/);
  const { changes } = await gateway.daemon.clients.teams.syncConfig({});
  t.deepEqual(
    changes.map((change) => [change.serverName, change.kind]),
    [
      ["alpha", ServerChangeKind.UNCHANGED],
      ["delta", ServerChangeKind.UNCHANGED],
      ["gamma", ServerChangeKind.UNCHANGED],
    ],
    "a second sync of the same file changes nothing",
  );
  const running = await waitForRunning(gateway.daemon, ["alpha", "gamma", "delta"]);
  t.is(running.get("alpha"), before.get("alpha"), "unchanged server kept its process");
  t.not(running.get("gamma"), before.get("gamma"), "changed server restarted");
  t.true(await waitUntil(() => !isAlive(before.get("epsilon") ?? 0), 30_000), "removed server stopped");
  t.false((await pidsOf()).has("epsilon"));
  t.true(await waitUntil(async () => (await toolNames()).includes("gamma-tool_0")), "the restarted server runs the new args");
  const syncedEvent = events.find((event) => event.event?.kind.case === "configSynced");
  t.truthy(syncedEvent);
  if (syncedEvent?.event?.kind.case === "configSynced") {
    t.deepEqual(
      syncedEvent.event.kind.value.changes.map((change) => [change.serverName, change.kind]),
      [
        ["alpha", ServerChangeKind.UNCHANGED],
        ["delta", ServerChangeKind.ADDED],
        ["epsilon", ServerChangeKind.REMOVED],
        ["gamma", ServerChangeKind.CHANGED],
      ],
    );
  }
});

test.serial("a bad team file is refused with file, line and field; the running config is kept", async (t) => {
  const before = await pidsOf();
  writeFileSync(configPath, JSON.stringify({ teams: [{ id: "blue", servers: [{ name: "alpha", command: "" }] }] }, null, 2));
  const error = ConnectError.from(await t.throwsAsync(gateway.daemon.clients.teams.syncConfig({})));
  t.is(error.code, Code.InvalidArgument);
  t.true(error.rawMessage.includes(configPath), error.rawMessage);
  t.regex(error.rawMessage, /:\d+/);
  t.regex(error.rawMessage, /command/);
  t.deepEqual(await pidsOf(), before);
  t.is((await gateway.daemon.clients.teams.getCurrentTeam({})).team?.id, "blue");
});
