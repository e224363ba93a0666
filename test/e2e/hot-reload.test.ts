import { renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import { ServerChangeKind } from "../../gen/deploystack/gateway/v1/team_pb.js";
import type { WatchEventsResponse } from "../../gen/deploystack/gateway/v1/gateway_service_pb.js";
import { fixtureServer, tempHome, waitForRunning, waitUntil } from "./helpers/daemon-process.js";
import { createHookScope, type HookScope } from "./helpers/mcp-gateway.js";
import { connectGatewayClient, type RecordingClient } from "./helpers/mcp-clients.js";
import { startControlPlaneGateway, type ControlPlaneGateway } from "./helpers/control-plane-gateway.js";

/**
 * Hot reload of the team file (issue 15, part 2), end to end on one real daemon whose team
 * file is edited on disk the way editors save: in place (truncate + write), write-temp-and-
 * rename (VS Code, JetBrains), and vim's rename-to-backup-then-write. Each applied change
 * goes through the same path as `dsctl teams sync`: only changed servers restart, the MCP
 * session stays connected and is told the list changed. A file with a mistake is never
 * applied: `dsctl status` and WatchEvents carry file:line:column:field until it is fixed.
 * A second daemon with `gateway.watch: false` ignores saves.
 */

const node = JSON.stringify(process.execPath);
const normal = JSON.stringify(fixtureServer("normal-server.mjs"));

/** The team file as YAML (so positions are lines and columns a person sees). */
function teamYaml(options: { betaEnv?: string; gamma?: boolean; watch?: boolean; mistake?: boolean } = {}): string {
  const lines = [
    ...(options.watch === false ? ["gateway:", "  watch: false"] : []),
    "teams:",
    "  - id: hot",
    "    servers:",
    "      - name: alpha",
    `        command: ${node}`,
    `        args: [${normal}, "--name", "alpha"]`,
    "      - name: beta",
    `        command: ${node}`,
    `        args: [${normal}, "--name", "beta"]`,
    `        env: { MARK: "${options.betaEnv ?? "one"}" }`,
    ...(options.mistake ? ["        idleTimout: 5m"] : []),
    ...(options.gamma ? ["      - name: gamma", `        command: ${node}`, `        args: [${normal}, "--name", "gamma"]`] : []),
  ];
  return `${lines.join("\n")}\n`;
}

let scope: HookScope;
let gateway: ControlPlaneGateway;
let configPath: string;
let session: RecordingClient;
const events: WatchEventsResponse[] = [];
const watch = new AbortController();

test.before(async () => {
  scope = createHookScope();
  const home = tempHome(scope.context);
  configPath = join(home, "team.yaml");
  writeFileSync(configPath, teamYaml());
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

const pidsOf = async (): Promise<Map<string, number>> => {
  const { servers } = await gateway.daemon.clients.servers.listServers({});
  gateway.daemon.track(servers.map((server) => server.pid));
  return new Map(servers.map((server) => [server.name, server.pid]));
};
const eventsOf = (kind: "configSynced" | "configError"): WatchEventsResponse[] => events.filter((event) => event.event?.kind.case === kind);

/** Writes the file the way editors that save in place do: truncate, then write. */
function saveInPlace(text: string): void {
  writeFileSync(configPath, "");
  writeFileSync(configPath, text);
}

test.serial("an in-place save that changes one server's env restarts only that server; the session stays and hears list_changed", async (t) => {
  const before = await pidsOf();
  const synced = eventsOf("configSynced").length;
  const listChanged = session.notifications("notifications/tools/list_changed").length;
  saveInPlace(teamYaml({ betaEnv: "two" }));
  t.true(await waitUntil(() => eventsOf("configSynced").length > synced, 60_000), "a config_synced event follows the save");
  const changes = eventsOf("configSynced").at(-1)!.event!.kind.value as { changes: { serverName: string; kind: number }[] };
  t.deepEqual(
    changes.changes.map((change) => [change.serverName, change.kind]),
    [
      ["alpha", ServerChangeKind.UNCHANGED],
      ["beta", ServerChangeKind.CHANGED],
    ],
  );
  t.true(gateway.daemon.stderr().includes("watching the team file"));
  const after = await waitForRunning(gateway.daemon, ["alpha", "beta"]);
  t.is(after.get("alpha"), before.get("alpha"), "alpha kept its process");
  t.not(after.get("beta"), before.get("beta"), "beta restarted");
  t.true(await session.waitForNotifications("notifications/tools/list_changed", listChanged + 1, 60_000), "the session was told");
  const tools = (await session.client.listTools()).tools.map((tool) => tool.name);
  t.true(tools.includes("alpha-echo") && tools.includes("beta-echo"), "the same session still lists both servers");
});

test.serial("a save with a mistake is not applied: status and WatchEvents name file:line:column:field until it is fixed", async (t) => {
  const before = await pidsOf();
  const errors = eventsOf("configError").length;
  saveInPlace(teamYaml({ betaEnv: "three", mistake: true }));
  t.true(await waitUntil(() => eventsOf("configError").length > errors, 60_000), "a config_error event follows the save");
  const status = await gateway.daemon.clients.gateway.getStatus({});
  t.is(status.configError?.path, configPath);
  t.is(status.configError?.message, `${configPath}:11:9: teams[0].servers[1].idleTimout: unknown field (did you mean "idleTimeout"?)`);
  const event = eventsOf("configError").at(-1)!.event!.kind.value as { message: string };
  t.is(event.message, status.configError?.message ?? "(no status field)");
  t.deepEqual(await pidsOf(), before, "nothing restarted: the running config stays");
  const cli = await gateway.dsctl(["status"]);
  t.regex(cli.stdout, /config error: the team file has mistakes/);
  t.true(cli.stdout.includes(`${configPath}:11:9: teams[0].servers[1].idleTimout`));

  const synced = eventsOf("configSynced").length;
  saveInPlace(teamYaml({ betaEnv: "three" }));
  t.true(await waitUntil(() => eventsOf("configSynced").length > synced, 60_000), "the fixed file is applied");
  t.is((await gateway.daemon.clients.gateway.getStatus({})).configError, undefined, "the error clears");
  const after = await waitForRunning(gateway.daemon, ["alpha", "beta"]);
  t.is(after.get("alpha"), before.get("alpha"));
  t.not(after.get("beta"), before.get("beta"), "the fixed file's env change is in force");
});

test.serial("write-temp-and-rename saves (VS Code, JetBrains) are seen, and again after the first rename", async (t) => {
  const listChanged = session.notifications("notifications/tools/list_changed").length;
  const temp = join(gateway.home, ".team.yaml.tmp");
  writeFileSync(temp, teamYaml({ betaEnv: "three", gamma: true }));
  renameSync(temp, configPath);
  await waitForRunning(gateway.daemon, ["alpha", "beta", "gamma"]);
  t.true(await session.waitForNotifications("notifications/tools/list_changed", listChanged + 1, 60_000));
  t.true(
    await waitUntil(async () => (await session.client.listTools()).tools.some((tool) => tool.name === "gamma-echo"), 60_000),
    "the added server's tools reach the connected session",
  );
  writeFileSync(temp, teamYaml({ betaEnv: "three" }));
  renameSync(temp, configPath);
  t.true(await waitUntil(async () => !(await pidsOf()).has("gamma"), 60_000), "the second rename-replace is seen too: gamma removed");
});

test.serial("vim's backup-and-replace save (rename to file~, write a new file) is seen", async (t) => {
  const before = await pidsOf();
  renameSync(configPath, `${configPath}~`);
  writeFileSync(configPath, teamYaml({ betaEnv: "four" }));
  t.true(
    await waitUntil(async () => {
      const now = await pidsOf();
      return now.get("beta") !== before.get("beta") && (now.get("beta") ?? 0) > 0;
    }, 60_000),
    "beta restarted with the new env",
  );
  t.is((await pidsOf()).get("alpha"), before.get("alpha"));
});

test.serial("gateway.watch: false — saves are not applied until dsctl teams sync", async (t) => {
  const home = tempHome(t);
  const path = join(home, "team.yaml");
  writeFileSync(path, teamYaml({ watch: false }));
  const quiet = await startControlPlaneGateway(t, { configPath: path, home });
  const before = await waitForRunning(quiet.daemon, ["alpha", "beta"]);
  const seen: WatchEventsResponse[] = [];
  const stop = new AbortController();
  t.teardown(() => stop.abort());
  void (async () => {
    for await (const event of quiet.daemon.clients.gateway.watchEvents({}, { signal: stop.signal })) seen.push(event);
  })().catch(() => undefined);
  writeFileSync(path, teamYaml({ watch: false, betaEnv: "changed" }));
  // Absence over a window far beyond the 300 ms debounce: a slow machine can only make this pass more easily.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  t.false(seen.some((event) => event.event?.kind.case === "configSynced" || event.event?.kind.case === "configError"));
  const { servers } = await quiet.daemon.clients.servers.listServers({});
  t.is(servers.find((server) => server.name === "beta")?.pid, before.get("beta"), "beta was not restarted");
  t.false(quiet.daemon.stderr().includes("watching the team file"), "no watch was armed");
  await quiet.daemon.clients.teams.syncConfig({});
  const after = await waitForRunning(quiet.daemon, ["alpha", "beta"]);
  t.not(after.get("beta"), before.get("beta"), "dsctl teams sync still applies it");
});
