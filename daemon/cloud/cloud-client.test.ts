import test, { type ExecutionContext } from "ava";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  followAuthorizationUrl,
  startFakeDeployStack,
  type FakeDeployStack,
  type FakeDeployStackOptions,
} from "../../test/fixtures/fake-deploystack/fake-deploystack.js";
import type { Logger } from "../../shared/logger.js";
import { GatewayError } from "../errors.js";
import { createVault, type Vault } from "../vault/vault.js";
import { createCloudClient, SESSION_EXPIRED_MESSAGE, type CloudClient, type CloudClientOptions } from "./cloud-client.js";
import { OAUTH_SCOPES } from "./cloud-contract.js";
import { mapCloudServers, INVALID_STATUS_REASON, cloudTeamConfigs } from "./map-servers.js";
import { s256Challenge } from "./pkce.js";

const START = Date.parse("2026-03-01T10:00:00Z");

interface Setup {
  readonly home: string;
  readonly fake: FakeDeployStack;
  readonly vault: Vault;
  readonly client: CloudClient;
  readonly clock: { now: number };
  readonly makeClient: (extra?: Partial<CloudClientOptions>) => CloudClient;
  /** Every log line of the clients, serialised. */
  readonly logLines: string[];
}

function recordingLogger(lines: string[]): Logger {
  const record = (level: string) => (a: object | string, b?: string) => void lines.push(`${level} ${JSON.stringify(a)} ${b ?? ""}`);
  const logger: Logger = { debug: record("debug"), info: record("info"), warn: record("warn"), error: record("error"), child: () => logger };
  return logger;
}

/** Asserts that no secret of the fake (canary, any token) appears in `text`. */
function assertNoSecrets(t: ExecutionContext, fake: FakeDeployStack, text: string | Buffer, where: string): void {
  const haystack = Buffer.isBuffer(text) ? text : Buffer.from(text);
  t.false(haystack.includes(Buffer.from(fake.canary)), `canary env value in ${where}`);
  for (const token of fake.issuedTokens()) t.false(haystack.includes(Buffer.from(token)), `a token in ${where}`);
}

async function setup(t: ExecutionContext, fakeOptions: FakeDeployStackOptions = {}, clientOptions: Partial<CloudClientOptions> = {}): Promise<Setup> {
  const home = mkdtempSync(join(tmpdir(), "dsgw-"));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  const clock = { now: START };
  const fake = await startFakeDeployStack({ now: () => clock.now, ...fakeOptions });
  t.teardown(() => fake.close());
  const vault = await createVault({ home, env: {} });
  const logLines: string[] = [];
  const makeClient = (extra: Partial<CloudClientOptions> = {}): CloudClient =>
    createCloudClient({
      vault,
      baseUrl: fake.url,
      now: () => clock.now,
      readMachineId: async () => "0123456789abcdef0123456789abcdef",
      logger: recordingLogger(logLines),
      ...clientOptions,
      ...extra,
    });
  return { home, fake, vault, client: makeClient(), clock, makeClient, logLines };
}

async function login(client: CloudClient) {
  const attempt = await client.beginLogin({ callbackPort: 0, timeoutMs: 60_000 });
  const page = await followAuthorizationUrl(attempt.authorizationUrl);
  const result = await attempt.done;
  return { attempt, page, result };
}

/** Every file under `dir`, concatenated. */
function allBytes(dir: string): Buffer {
  const parts: Buffer[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) parts.push(readFileSync(join(entry.parentPath, entry.name)));
  }
  return Buffer.concat(parts);
}

test("headless login with PKCE and state, then userinfo, teams and configurations (incl. invalid)", async (t) => {
  const { home, fake, vault, client, makeClient, logLines } = await setup(t);
  const attempt = await client.beginLogin({ callbackPort: 0, timeoutMs: 60_000 });
  const url = new URL(attempt.authorizationUrl);
  t.is(url.origin + url.pathname, `${fake.url}/api/oauth2/auth`);
  t.is(url.searchParams.get("response_type"), "code");
  t.is(url.searchParams.get("client_id"), "deploystack-gateway-cli");
  t.is(url.searchParams.get("scope"), OAUTH_SCOPES.join(" "));
  t.is(url.searchParams.get("scope"), "mcp:read mcp:categories:read account:read user:read teams:read gateway:config:read offline_access");
  t.is(url.searchParams.get("code_challenge_method"), "S256");
  t.regex(url.searchParams.get("code_challenge")!, /^[A-Za-z0-9_-]{43}$/);
  t.regex(url.searchParams.get("state")!, /^[A-Za-z0-9_-]{32}$/);
  t.regex(attempt.redirectUri, /^http:\/\/localhost:\d+\/oauth\/callback$/);
  t.is(url.searchParams.get("redirect_uri"), attempt.redirectUri);

  const page = await followAuthorizationUrl(attempt.authorizationUrl);
  t.is(page.status, 200);
  t.regex(page.body, /You can close this window/);
  const result = await attempt.done;
  t.like(result, { baseUrl: fake.url, accountChanged: false, user: { sub: "user-42", email: "dev@example.com" } });
  t.is(fake.stats.codeExchanges, 1);
  t.deepEqual(fake.stats.tokenRequests[0], {
    contentType: "application/json",
    grantType: "authorization_code",
    fields: ["client_id", "code", "code_verifier", "grant_type", "redirect_uri"],
  });

  t.like(await client.status(), { loggedIn: true, baseUrl: fake.url, user: { email: "dev@example.com" } });
  t.like(await client.whoAmI(), { sub: "user-42", preferredUsername: "dev", name: "Dev Eloper" });

  const teams = await client.listTeams();
  t.deepEqual(
    teams.map((team) => [team.id, team.slug, team.role, team.isDefault]),
    [
      ["team-alpha-0001", "alpha", "team_admin", true],
      ["team-beta-0002", "beta", "team_user", false],
    ],
  );

  const configurations = await client.fetchConfigurations();
  t.regex(configurations.hardwareId, /^[0-9a-f]{32}$/);
  t.deepEqual(fake.stats.hardwareIds, [configurations.hardwareId]);
  t.deepEqual(configurations.servers.map((server) => [server.name, server.status]), [
    ["everything", "ready"],
    ["memory", "ready"],
    ["GitHub Tools", "invalid"],
  ]);
  const mapped = mapCloudServers(configurations.servers, configurations.malformed);
  t.deepEqual(mapped.servers.map((server) => server.name), ["everything", "memory"]);
  t.is(mapped.servers.find((server) => server.name === "memory")!.env.MEMORY_API_TOKEN, fake.canary, "the child gets the secret");
  t.deepEqual(mapped.invalid, [{ id: "srv-github-03", name: "GitHub Tools", reason: INVALID_STATUS_REASON }]);
  const { teams: teamConfigs, defaultTeamId } = cloudTeamConfigs(teams, mapped.servers);
  t.is(defaultTeamId, "team-alpha-0001");
  t.deepEqual(teamConfigs.map((team) => [team.id, team.role, team.servers.length]), [
    ["team-alpha-0001", "team_admin", 2],
    ["team-beta-0002", "team_user", 2],
  ]);

  // A restarted daemon finds the session and the downloads in the vault.
  const restarted = makeClient();
  t.like(await restarted.status(), { loggedIn: true });
  t.is((await restarted.storedTeams())?.length, 2);
  t.is((await restarted.storedConfigurations())?.servers.length, 3);
  t.is((await restarted.listTeams()).length, 2);
  t.is(fake.stats.codeExchanges, 1, "no second login");

  // Nothing secret is on disk in the clear or in the logs: not the canary, not a token.
  assertNoSecrets(t, fake, allBytes(home), "files under DEPLOYSTACK_HOME");
  t.true(logLines.length > 0);
  assertNoSecrets(t, fake, logLines.join("\n"), "logs");
  t.true((await vault.list()).includes("cloud.session"));

  t.deepEqual(await client.logout(), { teamIds: ["team-alpha-0001", "team-beta-0002"] });
  t.deepEqual(await vault.list(), ["device"], "logout wipes the session and downloads, keeps the device id");
  t.like(await client.status(), { loggedIn: false, expired: false });
  await t.throwsAsync(client.listTeams(), { instanceOf: GatewayError, message: "not logged in to DeployStack — run `dsctl login`" });
});

test("form-encoded token requests carry exactly the backend's fields", async (t) => {
  const { fake, client } = await setup(t, {}, { tokenEncoding: "form" });
  await login(client);
  t.deepEqual(fake.stats.tokenRequests.map((request) => request.contentType), ["application/x-www-form-urlencoded"]);
  t.is((await client.listTeams()).length, 2);
});

test("a callback with the wrong state is refused and ignored; PKCE binds the code to the verifier", async (t) => {
  const { fake, client } = await setup(t);
  const attempt = await client.beginLogin({ callbackPort: 0, timeoutMs: 60_000 });
  const forged = await fetch(`${attempt.redirectUri}?code=stolen&state=not-the-state`);
  t.is(forged.status, 400);
  t.regex(await forged.text(), /does not belong to the login/);
  t.is((await fetch(attempt.redirectUri.replace("/oauth/callback", "/other"))).status, 404);

  // The fake's token endpoint checks S256: a code with a wrong verifier is refused.
  const first = await fetch(attempt.authorizationUrl, { redirect: "manual" });
  const location = new URL(first.headers.get("location")!);
  const code = location.searchParams.get("code")!;
  const wrong = await fetch(`${fake.url}/api/oauth2/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ grant_type: "authorization_code", code, redirect_uri: attempt.redirectUri, client_id: "deploystack-gateway-cli", code_verifier: "x".repeat(43) }),
  });
  t.is(wrong.status, 400);
  t.like(await wrong.json(), { error: "invalid_grant" });
  t.not(s256Challenge("x".repeat(43)), new URL(attempt.authorizationUrl).searchParams.get("code_challenge"));

  // The real browser round trip still completes the login.
  await followAuthorizationUrl(attempt.authorizationUrl);
  t.like(await attempt.done, { user: { sub: "user-42" } });
});

test("a denied authorization, a timeout and a busy port end the login with clear errors", async (t) => {
  const { fake, client } = await setup(t);
  fake.denyNextAuthorization = true;
  const denied = await client.beginLogin({ callbackPort: 0, timeoutMs: 60_000 });
  await followAuthorizationUrl(denied.authorizationUrl);
  const refusal = await t.throwsAsync(denied.done, { instanceOf: GatewayError });
  t.is((refusal as GatewayError).kind, "permission_denied");
  t.regex(refusal!.message, /DeployStack refused the authorization: access_denied/);

  const slow = await client.beginLogin({ callbackPort: 0, timeoutMs: 150 });
  const timeout = await t.throwsAsync(slow.done, { instanceOf: GatewayError });
  t.is((timeout as GatewayError).kind, "deadline_exceeded");
  t.regex(timeout!.message, /^login timed out after 0 s waiting for the browser to return to http:\/\/localhost:\d+\/oauth\/callback — run `dsctl login` again$/);

  const holder = await client.beginLogin({ callbackPort: 0, timeoutMs: 60_000 });
  t.teardown(() => holder.cancel());
  const port = Number(new URL(holder.redirectUri).port);
  const busy = await t.throwsAsync(client.beginLogin({ callbackPort: port, timeoutMs: 60_000 }), { instanceOf: GatewayError });
  t.regex(busy!.message, new RegExp(`cannot listen for the login callback on localhost:${port} \\(the port is in use\\)`));
  holder.cancel();
  await t.throwsAsync(holder.done, { message: "login cancelled" });
  t.like(await client.status(), { loggedIn: false });
});

test("tokens are refreshed before expiry (injected clock), rotated, stored first, and refreshed once for concurrent calls", async (t) => {
  const { home, fake, vault, client, clock, logLines } = await setup(t, { accessTokenTtlSeconds: 3600 });
  await login(client);
  const firstSession = (await vault.read("cloud.session"))!;
  const firstRefresh = (firstSession.tokens as { refreshToken: string }).refreshToken;

  await client.listTeams();
  t.is(fake.stats.refreshes, 0, "no refresh while the token is fresh");

  clock.now += 3600_000 - 60_000; // one minute before expiry: inside the 5-minute margin
  await client.listTeams();
  t.is(fake.stats.refreshes, 1);
  const secondSession = (await vault.read("cloud.session"))!;
  const secondTokens = secondSession.tokens as { refreshToken: string; accessToken: string; expiresAt: number };
  t.not(secondTokens.refreshToken, firstRefresh, "the new refresh token is stored");
  t.is(secondTokens.expiresAt, clock.now + 3600_000);
  t.is(fake.stats.bearerTokens.at(-1), secondTokens.accessToken, "the call used the new access token");

  // Rotation: the spent refresh token is refused by the server.
  const replay = await fetch(`${fake.url}/api/oauth2/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ grant_type: "refresh_token", refresh_token: firstRefresh, client_id: "deploystack-gateway-cli" }),
  });
  t.is(replay.status, 400);
  t.deepEqual(fake.stats.tokenRequests.at(-1)?.fields, ["client_id", "grant_type", "refresh_token"]);

  clock.now += 3600_000 - 1_000;
  const [teams, user, configurations] = await Promise.all([client.listTeams(), client.whoAmI(), client.fetchConfigurations()]);
  t.is(teams.length, 2);
  t.is(user.sub, "user-42");
  t.is(configurations.servers.length, 3);
  t.is(fake.stats.refreshes, 2, "one refresh for three concurrent calls");
  t.is(fake.stats.refusedRefreshes, 1, "only the deliberate replay was refused");
  t.true(logLines.some((line) => line.includes("DeployStack session refreshed")));
  assertNoSecrets(t, fake, logLines.join("\n"), "logs");
  assertNoSecrets(t, fake, allBytes(home), "files under DEPLOYSTACK_HOME");
});

test("a token the server stops accepting is refreshed once and the call retried", async (t) => {
  const { fake, client } = await setup(t);
  await login(client);
  fake.expireAccessTokens();
  t.is((await client.listTeams()).length, 2);
  t.is(fake.stats.refreshes, 1);
});

test("a refused refresh ends the session once, clearly, without further network calls", async (t) => {
  const { fake, vault, client, clock, logLines } = await setup(t, { accessTokenTtlSeconds: 600 });
  await login(client);
  await client.fetchConfigurations();
  let expiredEvents = 0;
  client.onSessionExpired(() => expiredEvents++);
  fake.refuseRefresh = true;
  clock.now += 600_000;

  const results = await Promise.allSettled([client.listTeams(), client.whoAmI()]);
  for (const result of results) {
    t.is(result.status, "rejected");
    const error = (result as PromiseRejectedResult).reason as GatewayError;
    t.true(error instanceof GatewayError);
    t.is(error.kind, "failed_precondition");
    t.is(error.message, SESSION_EXPIRED_MESSAGE);
  }
  t.is(fake.stats.refusedRefreshes, 1, "concurrent calls share one refresh attempt");
  t.is(expiredEvents, 1);
  const requests = fake.stats.tokenRequests.length;
  await t.throwsAsync(client.fetchConfigurations(), { message: SESSION_EXPIRED_MESSAGE });
  t.is(fake.stats.tokenRequests.length, requests, "no further refresh attempts");
  t.is(expiredEvents, 1, "told once");
  t.is(logLines.filter((line) => line.includes("session has expired")).length, 1, "logged once");
  for (const result of results) assertNoSecrets(t, fake, String((result as PromiseRejectedResult).reason), "errors");
  t.like(await client.status(), { loggedIn: false, expired: true });
  t.false((await vault.list()).includes("cloud.session"), "dead tokens are removed");
  t.is((await client.storedConfigurations())?.servers.length, 3, "the last configurations stay usable offline");

  fake.refuseRefresh = false;
  await login(client);
  t.like(await client.status(), { loggedIn: true });
  t.is((await client.listTeams()).length, 2);
});

test("a backend under a path prefix works end to end", async (t) => {
  const { fake, client } = await setup(t, { pathPrefix: "/deploystack" });
  t.regex(fake.url, /\/deploystack$/);
  const { attempt } = await login(client);
  t.true(attempt.authorizationUrl.startsWith(`${fake.url}/api/oauth2/auth?`));
  t.is((await client.listTeams()).length, 2);
  t.is(fake.stats.requests["GET /api/teams/me"], 1);
});

test("the API URL must be https except on loopback", async (t) => {
  const { vault } = await setup(t);
  t.throws(() => createCloudClient({ vault, baseUrl: "http://cloud.example.com" }), { message: /must use https/ });
  t.throws(() => createCloudClient({ vault, baseUrl: "not a url" }), { message: /is not a valid URL/ });
  t.notThrows(() => createCloudClient({ vault, baseUrl: "https://cloud-api.deploystack.io/" }));
  t.notThrows(() => createCloudClient({ vault, baseUrl: "https://example.com/deploystack/" }));
});

test("an unreachable API is reported as unavailable, naming the endpoint", async (t) => {
  const { fake, client } = await setup(t);
  await login(client);
  await fake.close();
  const error = await t.throwsAsync(client.listTeams(), { instanceOf: GatewayError });
  t.is((error as GatewayError).kind, "unavailable");
  t.regex(error!.message, new RegExp(`^cannot reach the DeployStack API at ${fake.url}/api/teams/me \\(`));
});
