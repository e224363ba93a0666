import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import { toJsonString } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ConfigSource } from "../../gen/deploystack/gateway/v1/gateway_pb.js";
import { GetStatusResponseSchema } from "../../gen/deploystack/gateway/v1/gateway_service_pb.js";
import { ListServersResponseSchema } from "../../gen/deploystack/gateway/v1/server_service_pb.js";
import { ServerState } from "../../gen/deploystack/gateway/v1/server_pb.js";
import { ServerChangeKind } from "../../gen/deploystack/gateway/v1/team_pb.js";
import { startFakeDeployStack, followAuthorizationUrl, type FakeDeployStack, type FakeServer } from "../fixtures/fake-deploystack/fake-deploystack.js";
import { fixtureServer, isAlive, tempHome, waitForRunning, waitUntil } from "./helpers/daemon-process.js";
import { createHookScope, dsctlEntry, type HookScope } from "./helpers/mcp-gateway.js";
import { connectGatewayClient, type RecordingClient } from "./helpers/mcp-clients.js";
import { livingDescendants } from "./helpers/process-tree.js";
import {
  commandLineOf,
  filesContaining,
  listFiles,
  loginHeadlessly,
  startControlPlaneGateway,
  writeTeamsFile,
  type ControlPlaneGateway,
} from "./helpers/control-plane-gateway.js";

/**
 * The control plane with the DeployStack source, end to end: a real daemon against the fake
 * DeployStack API on loopback (tests run in order on one daemon). Login driven headlessly
 * switches the running daemon from the file to the cloud (sessions stay connected), teams
 * switch by name with the same servers and another role, sync restarts only the changed
 * server and lists the invalid one with its reason, tokens are refreshed and rotated, a
 * refused refresh is one clear message, logout wipes the account and returns to the file,
 * and the fake's canary secret is nowhere it must not be.
 */

function fakeServers(canary: string, echoExtraArgs: readonly string[] = []): FakeServer[] {
  const normal = fixtureServer("normal-server.mjs");
  return [
    { id: "srv-echo-01", name: "Echo Tools", command: process.execPath, args: [normal, "--name", "echo", ...echoExtraArgs], env: { ECHO_API_TOKEN: canary }, status: "ready" },
    { id: "srv-notes-02", name: "Notes", command: process.execPath, args: [normal, "--name", "notes"], env: {}, status: "ready" },
    { id: "srv-github-03", name: "GitHub Tools", command: "npx", args: ["-y", "@modelcontextprotocol/server-github"], env: { GITHUB_PERSONAL_ACCESS_TOKEN: "" }, status: "invalid" },
  ];
}

let scope: HookScope;
let fake: FakeDeployStack;
let gateway: ControlPlaneGateway;
let session: RecordingClient;
const CLOUD_SERVERS = ["echo-tools", "notes"];

test.before(async () => {
  scope = createHookScope();
  fake = await startFakeDeployStack({ servers: fakeServers("placeholder") });
  fake.setServers(fakeServers(fake.canary));
  const home = tempHome(scope.context);
  const configPath = writeTeamsFile(join(home, "teams.json"), [
    { id: "local", name: "Local", servers: [{ name: "localsrv", command: process.execPath, args: [fixtureServer("normal-server.mjs"), "--name", "localsrv"] }] },
  ]);
  gateway = await startControlPlaneGateway(scope.context, { configPath, args: ["--cloud-url", fake.url, "--sync-interval", "0"] });
  await waitForRunning(gateway.daemon, ["localsrv"]);
  session = await connectGatewayClient({ mcpUrl: await gateway.mcpUrl(), sseUrl: "" }, "streamable");
});

test.after.always(async () => {
  await session?.close().catch(() => undefined);
  await scope?.close();
  await fake?.close();
});

const pidsOf = async (): Promise<Map<string, number>> => {
  const { servers } = await gateway.daemon.clients.servers.listServers({});
  gateway.daemon.track(servers.map((s) => s.pid));
  // Processes only: an INVALID server is listed but never has one.
  return new Map(servers.filter((s) => s.pid > 0).map((s) => [s.name, s.pid]));
};
const toolNames = async (): Promise<string[]> => (await session.client.listTools()).tools.map((tool) => tool.name).sort();

test.serial("before login: the file source, and whoami says nobody is logged in", async (t) => {
  const status = await gateway.daemon.clients.gateway.getStatus({});
  t.is(status.configSource, ConfigSource.FILE);
  t.false((await gateway.daemon.clients.auth.whoAmI({})).loggedIn);
  const cli = await gateway.dsctl(["whoami"]);
  t.is(cli.code, 1);
  t.is(cli.stderr, "not logged in to DeployStack — run `dsctl login`\n");
});

test.serial("login switches the running daemon to the cloud: file servers stop, cloud servers start, the session stays", async (t) => {
  const localPid = (await pidsOf()).get("localsrv") ?? 0;
  const changesBefore = session.notifications("notifications/tools/list_changed").length;
  let authorizationUrl = "";
  const succeeded = await loginHeadlessly(gateway.daemon.clients.auth, { onUrl: (url) => (authorizationUrl = url) });
  const url = new URL(authorizationUrl);
  t.is(url.origin + url.pathname, `${fake.url}/api/oauth2/auth`);
  t.is(url.searchParams.get("code_challenge_method"), "S256");
  t.like(succeeded.user, { id: "user-42", email: "dev@example.com", name: "Dev Eloper" });
  t.like(succeeded.team, { id: "team-alpha-0001", name: "Alpha Team", role: "team_admin", isCurrent: true });

  const status = await gateway.daemon.clients.gateway.getStatus({});
  t.is(status.configSource, ConfigSource.DEPLOYSTACK);
  t.is(status.configPath, fake.url);
  t.is(status.team?.id, "team-alpha-0001");
  await waitForRunning(gateway.daemon, CLOUD_SERVERS);
  t.true(await waitUntil(() => !isAlive(localPid), 30_000), "the file team's server stopped");
  t.deepEqual([...(await pidsOf()).keys()], CLOUD_SERVERS);
  t.true(await session.waitForNotifications("notifications/tools/list_changed", changesBefore + 1));
  t.true(await waitUntil(async () => (await toolNames()).includes("echo-tools-echo")));
  t.false((await toolNames()).some((name) => name.startsWith("localsrv-")));
  const echoed = await session.client.callTool({ name: "notes-echo", arguments: { text: "through the cloud config" } });
  t.deepEqual(echoed.content, [{ type: "text", text: "through the cloud config" }]);
  t.true(fake.stats.hardwareIds.length > 0 && fake.stats.hardwareIds.every((id) => /^[0-9a-f]{32}$/.test(id)));

  const who = await gateway.dsctl(["whoami"]);
  t.is(who.code, 0, who.stderr);
  t.regex(who.stdout, /email\s+dev@example\.com/);
  t.regex(who.stdout, new RegExp(`api\\s+${fake.url.replaceAll(".", "\\.")}`));
  const teams = await gateway.dsctl(["teams", "list"]);
  t.regex(teams.stdout, /\*\s+team-alpha-0001\s+Alpha Team\s+team_admin\s+yes\n\s+team-beta-0002\s+Beta Team\s+team_user\n/);
});

test.serial("sync lists the invalid server with its reason and does not start it", async (t) => {
  const { changes } = await gateway.daemon.clients.teams.syncConfig({});
  t.deepEqual(
    changes.map((change) => [change.serverName, change.kind]),
    [
      ["GitHub Tools", ServerChangeKind.INVALID],
      ["echo-tools", ServerChangeKind.UNCHANGED],
      ["notes", ServerChangeKind.UNCHANGED],
    ],
    "an invalid server is named as DeployStack names it",
  );
  t.regex(changes[0].reason, /not started: DeployStack marks it "invalid"/);
  t.false([...(await pidsOf()).keys()].some((name) => name.startsWith("github")));
  const cli = await gateway.dsctl(["teams", "sync"]);
  t.regex(cli.stdout, /GitHub Tools\s+INVALID\s+not started: DeployStack marks it "invalid"/);

  // `dsctl servers list` shows it too, state INVALID with the reason, and it is never started.
  const { servers } = await gateway.daemon.clients.servers.listServers({});
  const invalid = servers.find((server) => server.name === "GitHub Tools");
  t.like(invalid, { state: ServerState.INVALID, enabled: false, pid: 0, toolCount: 0 });
  t.regex(invalid?.lastError ?? "", /^DeployStack marks it "invalid": a required setting/);
  const list = await gateway.dsctl(["servers", "list"]);
  t.is(list.code, 0, list.stderr);
  t.regex(list.stdout, /GitHub Tools\s+INVALID\s+no\b.*DeployStack marks it "invalid"/);
  const got = await gateway.daemon.clients.servers.getServer({ name: "GitHub Tools" });
  t.is(got.server?.state, ServerState.INVALID);
  const refused = await gateway.daemon.clients.servers.enableServer({ name: "GitHub Tools" }).catch((error: unknown) => ConnectError.from(error));
  t.true(refused instanceof ConnectError && refused.code === Code.FailedPrecondition && /is invalid and is not started/.test(refused.rawMessage), String(refused));
  const restart = await gateway.dsctl(["servers", "restart", "GitHub Tools"]);
  t.not(restart.code, 0);
  t.regex(restart.stderr, /is invalid and is not started: DeployStack marks it "invalid"/);
  t.false(livingDescendants(gateway.daemon.pid).some((pid) => /server-github/.test(commandLineOf(pid))), "no process of it runs");
});

test.serial("switching cloud teams keeps the same servers and changes the role", async (t) => {
  const before = await pidsOf();
  const switched = await gateway.daemon.clients.teams.switchTeam({ team: "Beta Team" });
  t.like(switched.team, { id: "team-beta-0002", role: "team_user", isCurrent: true });
  t.deepEqual(await pidsOf(), before, "the configurations endpoint is not team-scoped: same servers, same processes");
  const { decision } = await gateway.daemon.clients.teams.explainPolicy({ tool: "echo-tools-echo" });
  t.like(decision, { allowed: true, role: "team_user" });
  t.is((await gateway.daemon.clients.gateway.getStatus({})).team?.id, "team-beta-0002");
});

test.serial("sync after a change in DeployStack restarts only that server, with the new config", async (t) => {
  const before = await pidsOf();
  fake.setServers(fakeServers(fake.canary, ["--tools", "1"]));
  const { changes } = await gateway.daemon.clients.teams.syncConfig({});
  t.deepEqual(
    changes.filter((change) => change.kind !== ServerChangeKind.INVALID).map((change) => [change.serverName, change.kind]),
    [
      ["echo-tools", ServerChangeKind.CHANGED],
      ["notes", ServerChangeKind.UNCHANGED],
    ],
  );
  const running = await waitForRunning(gateway.daemon, CLOUD_SERVERS);
  t.not(running.get("echo-tools"), before.get("echo-tools"));
  t.is(running.get("notes"), before.get("notes"));
  t.true(await waitUntil(async () => (await toolNames()).includes("echo-tools-tool_0")), "the new args are in force");
});

test.serial("tokens are refreshed before they expire, and rotated refresh tokens are used once", async (t) => {
  fake.accessTokenTtlSeconds = 2;
  fake.expireAccessTokens();
  const refreshesBefore = fake.stats.refreshes;
  await gateway.daemon.clients.teams.syncConfig({});
  t.true(fake.stats.refreshes > refreshesBefore, "a 401 got one refresh");
  // The new token lives 2 s: half its lifetime later the client refreshes before calling.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  const afterFirst = fake.stats.refreshes;
  await gateway.daemon.clients.teams.syncConfig({});
  t.true(fake.stats.refreshes > afterFirst, "refreshed ahead of expiry");
  t.is(fake.stats.refusedRefreshes, 0, "no refresh token was spent twice");
  t.true((await gateway.daemon.clients.auth.whoAmI({})).loggedIn);
  fake.accessTokenTtlSeconds = 3600;
});

test.serial("the canary secret and the tokens are in no file, log, API or CLI output, or argv", async (t) => {
  const secrets = [fake.canary, ...fake.issuedTokens()];
  const outputs: string[] = [
    toJsonString(GetStatusResponseSchema, await gateway.daemon.clients.gateway.getStatus({})),
    toJsonString(ListServersResponseSchema, await gateway.daemon.clients.servers.listServers({})),
  ];
  for (const args of [["status", "--json"], ["servers", "list", "--json"], ["servers", "get", "echo-tools", "--json"], ["teams", "list", "--json"], ["whoami", "--json"], ["servers", "logs", "echo-tools"]]) {
    const run = await gateway.dsctl(args);
    t.is(run.code, 0, `${args.join(" ")}: ${run.stderr}`);
    outputs.push(run.stdout, run.stderr);
  }
  t.regex(outputs[1], /ECHO_API_TOKEN/, "env names are shown");
  const argv = [gateway.daemon.pid, ...livingDescendants(gateway.daemon.pid)].map(commandLineOf);
  t.true(argv.some((line) => line.includes("--name echo")), "the cloud servers are among the processes searched");
  for (const secret of secrets) {
    t.deepEqual(filesContaining(gateway.home, secret), [], "files under DEPLOYSTACK_HOME");
    t.false(gateway.daemon.stdout().includes(secret) || gateway.daemon.stderr().includes(secret), "daemon output");
    t.false(outputs.some((output) => output.includes(secret)), "API and CLI output");
    t.false(argv.some((line) => line.includes(secret)), "argv");
  }
});

test.serial("a refused refresh ends the session with one clear message; the servers keep running", async (t) => {
  const before = await pidsOf();
  fake.refuseRefresh = true;
  fake.expireAccessTokens();
  const error = ConnectError.from(await t.throwsAsync(gateway.daemon.clients.teams.syncConfig({})));
  t.is(error.code, Code.FailedPrecondition);
  t.is(error.rawMessage, "the DeployStack session has expired — run `dsctl login`");
  const cli = await gateway.dsctl(["teams", "sync"]);
  t.is(cli.code, 1);
  t.is(cli.stderr, "the DeployStack session has expired — run `dsctl login`\n");
  t.false((await gateway.daemon.clients.auth.whoAmI({})).loggedIn);
  t.deepEqual(await pidsOf(), before);
  fake.refuseRefresh = false;
});

test.serial("dsctl login --no-browser prints the URL; logout wipes the account and returns to the file", async (t) => {
  const child = spawn(process.execPath, [dsctlEntry, "login", "--no-browser"], {
    env: { ...process.env, DEPLOYSTACK_HOME: gateway.home },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  t.teardown(() => void child.kill());
  t.true(await waitUntil(() => /https?:\/\/\S+\/api\/oauth2\/auth\?\S+/.test(stdout), 60_000), stderr);
  const url = /(https?:\/\/\S+\/api\/oauth2\/auth\?\S+)/.exec(stdout)?.[1] ?? "";
  const callback = await followAuthorizationUrl(url);
  t.is(callback.status, 200);
  t.is(await exited, 0, stderr);
  t.regex(stdout, /logged in as dev@example\.com \(Dev Eloper\); current team "Beta Team" \(role team_user\)/, "the remembered team");
  t.regex(stderr, /waiting for the browser/);
  const cloudPids = await waitForRunning(gateway.daemon, CLOUD_SERVERS);

  const logout = await gateway.dsctl(["logout"]);
  t.is(logout.code, 0, logout.stderr);
  const status = await gateway.daemon.clients.gateway.getStatus({});
  t.is(status.configSource, ConfigSource.FILE);
  t.is(status.team?.id, "local");
  await waitForRunning(gateway.daemon, ["localsrv"]);
  t.true(await waitUntil(() => [...cloudPids.values()].every((pid) => !isAlive(pid)), 30_000), "the cloud servers stopped");
  t.true(await waitUntil(async () => (await toolNames()).some((name) => name.startsWith("localsrv-"))));

  const vaultFiles = readdirSync(join(gateway.home, "vault"));
  t.deepEqual(
    vaultFiles.filter((name) => name.startsWith("cloud.")),
    [],
    "no vault record of the account is left",
  );
  const cacheTeams = existsSync(join(gateway.home, "cache/teams")) ? readdirSync(join(gateway.home, "cache/teams")) : [];
  t.false(cacheTeams.some((name) => name.startsWith("team-")), `no tool cache of the account's teams: ${cacheTeams.join(", ")}`);
  for (const secret of [fake.canary, ...fake.issuedTokens()]) t.deepEqual(filesContaining(gateway.home, secret), []);
  t.false(listFiles(gateway.home).some((file) => file.includes("team-alpha") || file.includes("team-beta")));
  t.false((await gateway.daemon.clients.auth.whoAmI({})).loggedIn);
});

test.serial("a login times out with DeadlineExceeded and a clear message; a cancelled login closes its callback", async (t) => {
  const timedOut = ConnectError.from(
    await t.throwsAsync(
      (async () => {
        for await (const _ of gateway.daemon.clients.auth.login({ timeout: { seconds: 1n, nanos: 0 } })) void _;
      })(),
    ),
  );
  t.is(timedOut.code, Code.DeadlineExceeded);
  t.regex(timedOut.rawMessage, /^login timed out after 1 s waiting for the browser to return to http:\/\/localhost:\d+\/oauth\/callback — run `dsctl login` again$/);

  const controller = new AbortController();
  let url = "";
  const cancelled = await t.throwsAsync(
    (async () => {
      for await (const message of gateway.daemon.clients.auth.login({}, { signal: controller.signal })) {
        if (message.step.case === "authorizationUrl") {
          url = message.step.value;
          controller.abort();
        }
      }
    })(),
  );
  t.is(ConnectError.from(cancelled).code, Code.Canceled);
  const redirectUri = new URL(url).searchParams.get("redirect_uri") ?? "";
  t.true(
    await waitUntil(async () => {
      try {
        await fetch(`${redirectUri}?code=x&state=y`);
        return false;
      } catch {
        return true;
      }
    }, 30_000),
    "the loopback callback listener is closed",
  );
  t.is((await gateway.daemon.clients.gateway.getStatus({})).configSource, ConfigSource.FILE);
});
