import test from "ava";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { followAuthorizationUrl, startFakeDeployStack } from "../../test/fixtures/fake-deploystack/fake-deploystack.js";
import { createVault } from "../vault/vault.js";
import { createCloudClient, SESSION_EXPIRED_MESSAGE } from "./cloud-client.js";
import { loadCloudTeams } from "./cloud-teams.js";

test("cloud teams: network first, the vault when offline or unreachable, never past an expired session", async (t) => {
  const home = mkdtempSync(join(tmpdir(), "dsgw-"));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  const fake = await startFakeDeployStack();
  t.teardown(() => fake.close());
  const vault = await createVault({ home, env: {} });
  const client = createCloudClient({ vault, baseUrl: fake.url, readMachineId: async () => undefined });

  t.is(await loadCloudTeams(client, { online: false }), undefined, "nothing stored before the first sync");
  const attempt = await client.beginLogin({ callbackPort: 0 });
  await followAuthorizationUrl(attempt.authorizationUrl);
  await attempt.done;

  const online = await loadCloudTeams(client, { online: true });
  t.like(online, { origin: "network", defaultTeamId: "team-alpha-0001" });
  t.deepEqual(online!.teams.map((team) => [team.slug, team.role, team.servers.map((s) => s.name)]), [
    ["alpha", "team_admin", ["everything", "memory"]],
    ["beta", "team_user", ["everything", "memory"]],
  ]);
  t.deepEqual(online!.invalid.map((entry) => entry.name), ["GitHub Tools"]);

  const offline = await loadCloudTeams(client, { online: false });
  t.like(offline, { origin: "vault" });
  t.deepEqual(offline!.teams, online!.teams);

  fake.setServers([]);
  t.is((await loadCloudTeams(client, { online: true }))!.teams[0].servers.length, 0, "a sync sees removed servers");

  fake.expireAccessTokens();
  fake.refuseRefresh = true;
  await t.throwsAsync(loadCloudTeams(client, { online: true }), { message: SESSION_EXPIRED_MESSAGE });

  const unreachable = createCloudClient({ vault, baseUrl: fake.url });
  await (await createVault({ home, env: {} })).write("cloud.session", {
    version: 1,
    baseUrl: "http://127.0.0.1:9",
    tokens: { accessToken: "a", refreshToken: "r", tokenType: "Bearer", scope: "", issuedAt: Date.now(), expiresAt: Date.now() + 3_600_000 },
  });
  const fallback = await loadCloudTeams(unreachable, { online: true });
  t.like(fallback, { origin: "vault" });
});
