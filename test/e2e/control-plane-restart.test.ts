import { join } from "node:path";
import test from "ava";
import { ConfigSource } from "../../gen/deploystack/gateway/v1/gateway_pb.js";
import type { WatchEventsResponse } from "../../gen/deploystack/gateway/v1/gateway_service_pb.js";
import { ServerChangeKind } from "../../gen/deploystack/gateway/v1/team_pb.js";
import { startFakeDeployStack, type FakeServer } from "../fixtures/fake-deploystack/fake-deploystack.js";
import { fixtureServer, tempHome, waitForRunning, waitUntil } from "./helpers/daemon-process.js";
import { loginHeadlessly, startControlPlaneGateway, writeTeamsFile } from "./helpers/control-plane-gateway.js";

/**
 * The cloud source over time: the periodic background sync applies a change made in
 * DeployStack without anyone running `dsctl teams sync`, and a restarted daemon comes back
 * on the cloud source, with the remembered team, from the vault alone — the API is gone
 * (a laptop on a train) and the servers still start.
 */

function servers(extra: readonly string[] = []): FakeServer[] {
  const normal = fixtureServer("normal-server.mjs");
  return [
    { id: "srv-echo-01", name: "Echo Tools", command: process.execPath, args: [normal, "--name", "echo", ...extra], env: {}, status: "ready" },
    { id: "srv-notes-02", name: "Notes", command: process.execPath, args: [normal, "--name", "notes"], env: {}, status: "ready" },
  ];
}

test("periodic sync applies cloud changes; a restart uses the vault's configurations and team while the API is down", async (t) => {
  const fake = await startFakeDeployStack({ servers: servers() });
  let fakeClosed = false;
  t.teardown(async () => {
    if (!fakeClosed) await fake.close();
  });
  const home = tempHome(t);
  const configPath = writeTeamsFile(join(home, "teams.json"), [
    { id: "local", servers: [{ name: "localsrv", command: process.execPath, args: [fixtureServer("normal-server.mjs")] }] },
  ]);
  const args = ["--cloud-url", fake.url, "--sync-interval", "1s"];
  const first = await startControlPlaneGateway(t, { configPath, home, args });
  const events: WatchEventsResponse[] = [];
  const watch = new AbortController();
  t.teardown(() => watch.abort());
  void (async () => {
    for await (const event of first.daemon.clients.gateway.watchEvents({}, { signal: watch.signal })) events.push(event);
  })().catch(() => undefined);

  await loginHeadlessly(first.daemon.clients.auth);
  await first.daemon.clients.teams.switchTeam({ team: "team-beta-0002" });
  const before = await waitForRunning(first.daemon, ["echo-tools", "notes"]);
  fake.setServers(servers(["--tools", "1"]));
  const changedBySync = (): boolean =>
    events.some(
      (event) =>
        event.event?.kind.case === "configSynced" &&
        event.event.kind.value.changes.some((change) => change.serverName === "echo-tools" && change.kind === ServerChangeKind.CHANGED),
    );
  t.true(await waitUntil(changedBySync, 60_000), "the background sync found and applied the change");
  const after = await waitForRunning(first.daemon, ["echo-tools", "notes"]);
  t.not(after.get("echo-tools"), before.get("echo-tools"));
  t.is(after.get("notes"), before.get("notes"));
  watch.abort();
  first.daemon.process.kill("SIGTERM");
  await first.daemon.exited;

  await fake.close();
  fakeClosed = true;
  const second = await startControlPlaneGateway(t, { configPath, home, args });
  const status = await second.daemon.clients.gateway.getStatus({});
  t.is(status.configSource, ConfigSource.DEPLOYSTACK);
  t.is(status.team?.id, "team-beta-0002", "the remembered team");
  t.is(status.team?.role, "team_user");
  const running = await waitForRunning(second.daemon, ["echo-tools", "notes"]);
  t.deepEqual([...running.keys()].sort(), ["echo-tools", "notes"]);
  const { tools } = await second.daemon.clients.mcp.listTools({ server: "echo-tools" });
  t.true(tools.some((tool) => tool.name === "echo-tools-tool_0"), "the last synced config, from the vault");
  t.true((await second.daemon.clients.auth.whoAmI({})).loggedIn);
});
