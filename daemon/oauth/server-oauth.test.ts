import test, { type ExecutionContext } from "ava";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { Agent } from "undici";
import { createAuthorizedFetch } from "../../test/fixtures/oauth/authorized-fetch.js";
import { approveInBrowser, startOAuthFixture, type OAuthFixture, type OAuthFixtureOptions } from "../../test/fixtures/oauth/oauth-fixture.js";
import { createRemoteRequester } from "../upstream/http-request.js";
import { toUpstreamAuth } from "./oauth-registry.js";
import { GatewayError } from "../errors.js";
import { createVault, type Vault } from "../vault/vault.js";
import type { ServerOAuthConfig } from "./oauth-config.js";
import { createOAuthStore } from "./oauth-store.js";
import { createServerOAuth, type ServerOAuth } from "./server-oauth.js";

/**
 * The OAuth client against a real authorization server and a real protected MCP server on
 * loopback (test/fixtures/oauth: the SDK's server-side auth helpers), with the SDK's own
 * MCP client speaking through a fetch that uses the module as the gateway's remote requester
 * does (test/fixtures/oauth/authorized-fetch.ts); the redirect rule is checked with the
 * requester itself. Only the clock is injected.
 */

interface Harness {
  readonly fixture: OAuthFixture;
  readonly home: string;
  readonly vault: Vault;
  readonly oauth: ServerOAuth;
  readonly secrets: Set<string>;
  readonly clock: { now: number };
  signedIn: number;
  /** An MCP client through the authorized fetch; rejects while unauthorized. */
  connect(): Promise<Client>;
  /** Every byte under the home folder. */
  stateBytes(): string;
}

async function harness(t: ExecutionContext, config: ServerOAuthConfig = {}, fixtureOptions: OAuthFixtureOptions = {}): Promise<Harness> {
  const home = mkdtempSync(join(tmpdir(), "dsgw-oauth-"));
  const fixture = await startOAuthFixture(fixtureOptions);
  const clients: Client[] = [];
  t.teardown(async () => {
    for (const client of clients) await client.close().catch(() => {});
    await fixture.close();
    rmSync(home, { recursive: true, force: true });
  });
  const vault = await createVault({ home, env: { DEPLOYSTACK_MASTER_KEY: "a".repeat(64) }, keychain: null });
  const secrets = new Set<string>();
  const clock = { now: Date.now() };
  const h: Harness = {
    fixture,
    home,
    vault,
    secrets,
    clock,
    signedIn: 0,
    oauth: createServerOAuth({
      serverName: "linear",
      serverUrl: fixture.mcpUrl,
      config,
      store: createOAuthStore(vault),
      now: () => clock.now,
      onSecret: (value) => secrets.add(value),
      onSignedIn: () => {
        h.signedIn += 1;
      },
    }),
    async connect() {
      const client = new Client({ name: "oauth-test", version: "1.0.0" });
      clients.push(client);
      await client.connect(new StreamableHTTPClientTransport(new URL(fixture.mcpUrl), { fetch: createAuthorizedFetch(h.oauth) }));
      return client;
    },
    stateBytes() {
      return readdirSync(home, { withFileTypes: true, recursive: true })
        .filter((entry) => entry.isFile())
        .map((entry) => readFileSync(join(entry.parentPath, entry.name)).toString("latin1"))
        .join("\n");
    },
  };
  return h;
}

async function login(h: Harness): Promise<{ issuer: string; authorizationUrl: URL; callbackStatus: number }> {
  const attempt = await h.oauth.beginLogin({ timeoutMs: 60_000 });
  const { callbackStatus } = await approveInBrowser(attempt.authorizationUrl);
  const { issuer } = await attempt.done;
  return { issuer, authorizationUrl: new URL(attempt.authorizationUrl), callbackStatus };
}

function textOf(result: Awaited<ReturnType<Client["callTool"]>>): string {
  return (result.content as { text: string }[])[0]!.text;
}

test("without a token the server answers 401 and the error names the exact login command", async (t) => {
  const h = await harness(t);
  const refused = await t.throwsAsync(() => h.connect());
  t.is((refused as Error & { code?: number }).code, 401);
  t.false(await h.oauth.hasTokens());
  const error = h.oauth.needsAuthError();
  t.is(error.kind, "failed_precondition");
  t.is(error.message, 'server "linear" needs sign-in: run `dsctl servers login linear`');
});

test("sign-in by dynamic registration: PKCE S256, resource, state, native registration; then calls work", async (t) => {
  const h = await harness(t);
  await t.throwsAsync(() => h.connect()); // the 401 that tells the gateway where the metadata is
  const { issuer, authorizationUrl, callbackStatus } = await login(h);
  t.is(callbackStatus, 200);
  t.is(issuer, h.fixture.issuer);
  t.is(h.signedIn, 1);
  const query = authorizationUrl.searchParams;
  t.is(query.get("code_challenge_method"), "S256");
  t.regex(query.get("code_challenge") ?? "", /^[A-Za-z0-9_-]{43}$/);
  t.is(query.get("resource"), h.fixture.mcpUrl);
  t.truthy(query.get("state"));
  t.is(h.fixture.registrations.length, 1);
  t.is(h.fixture.registrations[0]!.application_type, "native");
  t.deepEqual(h.fixture.registrations[0]!.redirect_uris, [query.get("redirect_uri")]);
  t.regex(query.get("redirect_uri") ?? "", /^http:\/\/localhost:\d+\/oauth\/callback$/);
  t.deepEqual(h.fixture.tokenRequestResources, [h.fixture.mcpUrl]);

  const client = await h.connect();
  t.is(textOf(await client.callTool({ name: "echo", arguments: { text: "hi" } })), "echo: hi");

  // Every token went to the masker; none is in any file of the state folder (the vault is sealed).
  t.true(h.fixture.issuedTokens.length >= 2);
  for (const token of h.fixture.issuedTokens) t.true(h.secrets.has(token), "token registered with the masker");
  const bytes = h.stateBytes();
  for (const token of h.fixture.issuedTokens) t.false(bytes.includes(token), "token in plain text on disk");
  t.false(bytes.includes(h.fixture.issuer), "the issuer is not even in the record names");
});

test("a second sign-in reuses the registration stored for the issuer", async (t) => {
  const h = await harness(t);
  await login(h);
  const second = await login(h);
  t.is(h.fixture.registrations.length, 1);
  t.is(second.callbackStatus, 200);
});

test("the token is refreshed before it expires (injected clock), and the new one is used", async (t) => {
  const h = await harness(t);
  await login(h);
  const client = await h.connect();
  const before = h.fixture.mcpAuthorizations.at(-1);
  h.clock.now += 3600_000 - 30_000; // inside the refresh margin
  t.is(textOf(await client.callTool({ name: "echo", arguments: { text: "later" } })), "echo: later");
  t.is(h.fixture.refreshCount(), 1);
  t.not(h.fixture.mcpAuthorizations.at(-1), before);
  t.deepEqual(h.fixture.tokenRequestResources, [h.fixture.mcpUrl, h.fixture.mcpUrl], "the refresh names the resource too");
});

test("a 401 with a stored token refreshes silently and retries once", async (t) => {
  const h = await harness(t);
  await login(h);
  const client = await h.connect();
  h.fixture.expireAccessTokens();
  // Several calls at once with the same stale token refresh it once.
  const results = await Promise.all(["a", "b", "c"].map((text) => client.callTool({ name: "echo", arguments: { text } })));
  t.deepEqual(results.map(textOf), ["echo: a", "echo: b", "echo: c"]);
  t.is(h.fixture.refreshCount(), 1);
});

test("step-up: a hostile insufficient_scope challenge yields only well-formed scope tokens, bounded; the next sign-in asks for them with the granted and configured ones", async (t) => {
  const h = await harness(t, { scopes: ["mcp:tools"] });
  await login(h);
  // A control character separates (headers cannot hold it); a backslash or an over-long token is not a scope token.
  const hostile = `Bearer error="insufficient_scope", scope="files:write a\u0007b ${"x".repeat(300)} back\\slash  other:read", error_description="…"`;
  t.is(await h.oauth.insufficientScope(hostile), "files:write a b other:read");
  const long = `Bearer error="insufficient_scope", scope="${Array.from({ length: 40 }, (_, i) => `scope-number-${i}`).join(" ")}"`;
  const named = (await h.oauth.insufficientScope(long))!;
  t.true(named.length <= 201, "bounded for a message");
  t.true(named.endsWith("…"));
  // The challenge just seen is what the next sign-in asks for, with what was configured (and granted) kept.
  await h.oauth.insufficientScope(hostile);
  const { authorizationUrl } = await login(h);
  t.deepEqual((authorizationUrl.searchParams.get("scope") ?? "").split(" ").sort(), ["a", "b", "files:write", "mcp:tools", "other:read"]);
});

test("a revoked refresh token leaves the server needing a sign-in, with the tokens forgotten", async (t) => {
  const h = await harness(t);
  await login(h);
  const client = await h.connect();
  h.fixture.expireAccessTokens();
  h.fixture.revokeRefreshTokens();
  await t.throwsAsync(() => client.callTool({ name: "echo", arguments: { text: "x" } }));
  t.false(await h.oauth.hasTokens());
  t.deepEqual(await h.vault.list("oauth-tokens-"), []);
  // Signing in again brings it back.
  await login(h);
  const again = await h.connect();
  t.is(textOf(await again.callTool({ name: "echo", arguments: { text: "back" } })), "echo: back");
});

test("logout removes the tokens from the vault; the registration stays (it is bound to the issuer, not a session)", async (t) => {
  const h = await harness(t);
  await login(h);
  t.is((await h.vault.list("oauth-tokens-")).length, 1);
  t.true(await h.oauth.logout());
  t.deepEqual(await h.vault.list("oauth-tokens-"), []);
  t.is((await h.vault.list("oauth-client-")).length, 1);
  t.false(await h.oauth.logout(), "nothing left to remove");
  await t.throwsAsync(() => h.connect());
});

test("an authorization response from another issuer is refused before the code is used (RFC 9207)", async (t) => {
  const h = await harness(t);
  h.fixture.setIssuerInResponse("wrong");
  const attempt = await h.oauth.beginLogin({ timeoutMs: 60_000 });
  const { callbackStatus } = await approveInBrowser(attempt.authorizationUrl);
  t.is(callbackStatus, 400);
  const error = await t.throwsAsync(() => attempt.done, { instanceOf: GatewayError });
  t.is(error.kind, "permission_denied");
  t.regex(error.message, /attacker\.example.*refused/);
  t.deepEqual(h.fixture.tokenRequestResources, [], "the code never reached the token endpoint");
  t.false(await h.oauth.hasTokens());
});

test("a missing iss is refused when the authorization server advertises it", async (t) => {
  const h = await harness(t);
  h.fixture.setIssuerInResponse("missing");
  const attempt = await h.oauth.beginLogin({ timeoutMs: 60_000 });
  t.is((await approveInBrowser(attempt.authorizationUrl)).callbackStatus, 400);
  const error = await t.throwsAsync(() => attempt.done, { instanceOf: GatewayError });
  t.regex(error.message, /no "iss"/);
  t.deepEqual(h.fixture.tokenRequestResources, []);
});

test("the gateway's requester with this module: a redirect to another origin arrives there without the token; a caller's header is replaced by the token", async (t) => {
  const h = await harness(t);
  await login(h);
  const pool = new Agent();
  t.teardown(() => pool.close());
  const requester = createRemoteRequester({ serverName: "linear", url: new URL(h.fixture.mcpUrl), headers: {}, dispatcher: pool, auth: toUpstreamAuth(h.oauth) });
  const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" });
  // The caller's (an IDE's) header is replaced by the gateway's own token on the server's origin.
  const direct = await requester.send({
    method: "POST",
    url: new URL(h.fixture.mcpUrl),
    headers: { authorization: "Bearer ide-own-token", "content-type": "application/json", accept: "application/json, text/event-stream" },
    body,
  });
  await direct.body.dump();
  t.regex(h.fixture.mcpAuthorizations.at(-1) ?? "", /^Bearer at-/);
  const moved = await requester.send({
    method: "POST",
    url: new URL(h.fixture.redirectingUrl),
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
    body,
  });
  await moved.body.dump();
  t.is(moved.status, 404, "the redirect was followed to the other origin");
  t.is(h.fixture.elsewhereRequests.length, 1);
  t.is(h.fixture.elsewhereRequests[0]!.authorization, undefined);
  t.is(await h.oauth.authorization(h.fixture.redirectingUrl.replace(/:\d+/, ":1")), undefined, "no token for another port either");
});

test("the test fetch drops a caller's Authorization like the requester", async (t) => {
  const h = await harness(t);
  const response = await createAuthorizedFetch(h.oauth)(h.fixture.mcpUrl, { method: "POST", headers: { authorization: "Bearer ide-own-token", "content-type": "application/json" }, body: "{}" });
  await response.arrayBuffer();
  t.deepEqual(h.fixture.mcpAuthorizations, [undefined]);
});

test("a Client ID Metadata Document is used as the client id where the server supports it (no registration)", async (t) => {
  const documentUrl = "https://gateway.example.com/oauth/client.json";
  const h = await harness(t, { clientMetadataUrl: documentUrl }, {
    clientMetadataDocuments: { [documentUrl]: { client_name: "DeployStack Gateway", redirect_uris: ["http://localhost/oauth/callback"] } },
  });
  const { authorizationUrl } = await login(h);
  t.is(authorizationUrl.searchParams.get("client_id"), documentUrl);
  t.is(h.fixture.registrations.length, 0);
  const client = await h.connect();
  t.is(textOf(await client.callTool({ name: "whoami", arguments: {} })), `client ${documentUrl}`);
  // The refresh presents the same client id.
  h.fixture.expireAccessTokens();
  t.is(textOf(await client.callTool({ name: "whoami", arguments: {} })), `client ${documentUrl}`);
  t.is(h.fixture.refreshCount(), 1);
});

test("a configured client is used as is, its secret registered with the masker", async (t) => {
  const h = await harness(t, { clientId: "team-client", clientSecret: "team-client-secret-value" }, {
    dynamicRegistration: false,
    preRegistered: [
      {
        client_id: "team-client",
        client_secret: "team-client-secret-value",
        redirect_uris: ["http://localhost/oauth/callback"],
        token_endpoint_auth_method: "client_secret_post",
      },
    ],
  });
  t.true(h.secrets.has("team-client-secret-value"));
  const { authorizationUrl } = await login(h);
  t.is(authorizationUrl.searchParams.get("client_id"), "team-client");
  const client = await h.connect();
  t.is(textOf(await client.callTool({ name: "whoami", arguments: {} })), "client team-client");
  t.false(h.stateBytes().includes("team-client-secret-value"));
});

test("with neither a configured client nor a registration endpoint the sign-in says what to configure", async (t) => {
  const h = await harness(t, {}, { dynamicRegistration: false });
  const error = await t.throwsAsync(() => h.oauth.beginLogin({ timeoutMs: 60_000 }), { instanceOf: GatewayError });
  t.is(error.kind, "failed_precondition");
  t.regex(error.message, /set oauth\.clientId/);
});

test("hostile metadata: an AS whose metadata names another issuer is refused (RFC 8414 §3.3)", async (t) => {
  const h = await harness(t, {}, { metadataIssuer: "https://honest.example/" });
  const error = await t.throwsAsync(() => h.oauth.beginLogin({ timeoutMs: 60_000 }), { instanceOf: GatewayError });
  t.is(error.kind, "permission_denied");
  t.regex(error.message, /names issuer "https:\/\/honest\.example\/"; refused/);
  t.deepEqual(h.fixture.authorizationRequests, []);
});

test("an AS that does not advertise PKCE S256 is refused before any request", async (t) => {
  const h = await harness(t, {}, { pkceMethods: ["plain"] });
  const error = await t.throwsAsync(() => h.oauth.beginLogin({ timeoutMs: 60_000 }), { instanceOf: GatewayError });
  t.regex(error.message, /does not advertise PKCE S256/);
  t.is(h.fixture.registrations.length, 0);
});

test("protected-resource metadata naming another resource is refused (the token would be for someone else)", async (t) => {
  const h = await harness(t, {}, { protectedResource: "https://other.example/mcp" });
  const error = await t.throwsAsync(() => h.oauth.beginLogin({ timeoutMs: 60_000 }), { instanceOf: GatewayError });
  t.regex(error.message, /https:\/\/other\.example\/mcp.*does not match|resource/i);
  t.deepEqual(h.fixture.authorizationRequests, []);
});

test("tokens are bound to the server URL and issuer: a server whose URL changed gets none of them", async (t) => {
  const h = await harness(t);
  await login(h);
  const other = await startOAuthFixture();
  t.teardown(() => other.close());
  const moved = createServerOAuth({ serverName: "linear", serverUrl: other.mcpUrl, config: {}, store: createOAuthStore(h.vault) });
  t.is(await moved.authorization(other.mcpUrl), undefined);
  t.false(await moved.hasTokens());
  // Signing in there registers the gateway with that authorization server afresh.
  const attempt = await moved.beginLogin({ timeoutMs: 60_000 });
  await approveInBrowser(attempt.authorizationUrl);
  t.is((await attempt.done).issuer, other.issuer);
  t.is(other.registrations.length, 1);
  t.is((await h.vault.list("oauth-client-")).length, 2, "one registration per issuer");
});

test("a tampered token record is never used: the server asks for a sign-in, which replaces it", async (t) => {
  const h = await harness(t);
  await login(h);
  const [record] = readdirSync(join(h.home, "vault")).filter((name) => name.startsWith("oauth-tokens-"));
  const path = join(h.home, "vault", record!);
  const sealed = readFileSync(path);
  sealed[sealed.length - 1]! ^= 0xff;
  writeFileSync(path, sealed);
  const fresh = createServerOAuth({ serverName: "linear", serverUrl: h.fixture.mcpUrl, config: {}, store: createOAuthStore(h.vault) });
  t.is(await fresh.authorization(h.fixture.mcpUrl), undefined);
  t.is(await fresh.unauthorized({}), "needs_auth");
  const attempt = await fresh.beginLogin({ timeoutMs: 60_000 });
  await approveInBrowser(attempt.authorizationUrl);
  await attempt.done;
  t.truthy(await createServerOAuth({ serverName: "linear", serverUrl: h.fixture.mcpUrl, config: {}, store: createOAuthStore(h.vault) }).authorization(h.fixture.mcpUrl));
});

test("a server or authorization server that never answers cannot hang the sign-in: every request has a limit", async (t) => {
  const home = mkdtempSync(join(tmpdir(), "dsgw-oauth-"));
  const hanging = createServer(() => {});
  await new Promise<void>((resolve) => hanging.listen(0, "127.0.0.1", resolve));
  t.teardown(() => {
    hanging.closeAllConnections();
    hanging.close();
    rmSync(home, { recursive: true, force: true });
  });
  const vault = await createVault({ home, env: { DEPLOYSTACK_MASTER_KEY: "a".repeat(64) }, keychain: null });
  const oauth = createServerOAuth({
    serverName: "stuck",
    serverUrl: `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/mcp`,
    config: {},
    store: createOAuthStore(vault),
    requestTimeoutMs: 300,
  });
  const started = Date.now();
  const error = await t.throwsAsync(() => oauth.beginLogin({ timeoutMs: 60_000 }), { instanceOf: GatewayError });
  t.is(error.kind, "unavailable");
  t.regex(error.message, /cannot discover how to sign in to server "stuck"/);
  t.true(Date.now() - started < 30_000);
});
