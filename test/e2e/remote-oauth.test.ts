import test, { type ExecutionContext } from "ava";
import { spawn } from "node:child_process";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { toJsonString } from "@bufbuild/protobuf";
import { ServerState } from "../../gen/deploystack/gateway/v1/server_pb.js";
import { ListServersResponseSchema } from "../../gen/deploystack/gateway/v1/server_service_pb.js";
import { approveInBrowser, startOAuthFixture, WRITE_SCOPE, type OAuthFixture, type OAuthFixtureOptions } from "../fixtures/oauth/oauth-fixture.js";
import { createLeakFinder, filesUnder } from "./helpers/canary.js";
import { repoRoot, startDaemon, tempHome, waitUntil, type DaemonProcess } from "./helpers/daemon-process.js";

/**
 * Remote servers with OAuth, end to end: the built daemon and dsctl against a real
 * authorization server and a real OAuth-protected MCP server on loopback
 * (test/fixtures/oauth, built with the MCP SDK's server-side auth helpers). The test plays
 * the user: it runs `dsctl servers login NAME --no-browser`, follows the printed URL with an
 * HTTP client (the AS approves at once) back to the daemon's loopback callback, and then
 * uses the server through the gateway's /mcp endpoint with an MCP SDK client.
 */

const dsctlMain = join(repoRoot, "dist/cli/main.js");

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Everything dsctl printed in this file, for the leak scan. */
const printed: string[] = [];

function dsctl(home: string, args: readonly string[], onStdout?: (text: string) => void): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [dsctlMain, ...args], { env: { ...process.env, DEPLOYSTACK_HOME: home }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      onStdout?.(stdout);
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.once("exit", (code) => {
      clearTimeout(timer);
      printed.push(stdout, stderr);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

/** `dsctl servers login NAME --no-browser`, approving the printed URL like a browser would. */
async function signIn(home: string, name: string): Promise<{ run: Run; callbackStatus: number }> {
  let approving: Promise<{ callbackStatus: number }> | undefined;
  const run = await dsctl(home, ["servers", "login", name, "--no-browser"], (stdout) => {
    const url = /^\s+(http:\/\/\S+)$/m.exec(stdout)?.[1];
    if (url && !approving) approving = approveInBrowser(url);
  });
  const approved = await approving;
  return { run, callbackStatus: approved?.callbackStatus ?? 0 };
}

function writeRemoteTeam(folder: string, fixture: OAuthFixture): string {
  const path = join(folder, "team.json");
  writeFileSync(
    path,
    JSON.stringify({ defaultTeam: "e2e", teams: [{ id: "e2e", name: "End to end", servers: [{ name: "linear", url: fixture.mcpUrl, oauth: {} }] }] }, null, 2),
  );
  return path;
}

async function stateOf(daemon: DaemonProcess, name: string): Promise<{ state: ServerState; lastError: string }> {
  const { server } = await daemon.clients.servers.getServer({ name });
  return { state: server?.state ?? ServerState.UNSPECIFIED, lastError: server?.lastError ?? "" };
}

async function waitForState(daemon: DaemonProcess, name: string, state: ServerState): Promise<void> {
  const reached = await waitUntil(async () => (await stateOf(daemon, name)).state === state, 60_000);
  if (!reached) throw new Error(`server "${name}" did not reach ${ServerState[state]} (now ${ServerState[(await stateOf(daemon, name)).state]})\n${daemon.stderr()}`);
}

/** A daemon whose remote server (the fixture's) is signed in and RUNNING: the starting point of several tests. */
async function signedInDaemon(t: ExecutionContext, options: OAuthFixtureOptions = {}): Promise<{ fixture: OAuthFixture; home: string; daemon: DaemonProcess }> {
  const fixture = await startOAuthFixture(options);
  t.teardown(() => fixture.close());
  const home = tempHome(t);
  const daemon = await startDaemon(t, { home, configPath: writeRemoteTeam(home, fixture) });
  await waitForState(daemon, "linear", ServerState.NEEDS_AUTH);
  t.is((await signIn(home, "linear")).run.code, 0);
  await waitForState(daemon, "linear", ServerState.RUNNING);
  return { fixture, home, daemon };
}

/** An MCP client of the gateway that sends its own (IDE) bearer token, which must never reach the upstream. */
async function gatewayClient(daemon: DaemonProcess, ideToken: string): Promise<Client> {
  let mcpUrl = "";
  await waitUntil(async () => {
    const status = await daemon.clients.gateway.getStatus({});
    mcpUrl = status.frontendRunning ? status.mcpUrl : "";
    return mcpUrl !== "";
  }, 60_000);
  const client = new Client({ name: "ide", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), { requestInit: { headers: { authorization: `Bearer ${ideToken}` } } }));
  return client;
}

function textOf(result: Awaited<ReturnType<Client["callTool"]>>): string {
  return (result.content as { text: string }[])[0]?.text ?? "";
}

/** The text of every file below `dir`, for a canary scan. */
function textOfFilesUnder(dir: string): string {
  return filesUnder(dir)
    .map((path) => {
      try {
        return readFileSync(path).toString("latin1");
      } catch {
        return "";
      }
    })
    .join("\n");
}

test.serial("sign-in, silent refresh, revoked refresh → NEEDS_AUTH, logout; no token in any output, file or answer", async (t) => {
  const fixture = await startOAuthFixture();
  t.teardown(() => fixture.close());
  const home = tempHome(t);
  const daemon = await startDaemon(t, { home, configPath: writeRemoteTeam(home, fixture) });
  const answers: string[] = [];
  const list = async (): Promise<void> => {
    answers.push(toJsonString(ListServersResponseSchema, await daemon.clients.servers.listServers({})));
  };

  // 401 without a token: NEEDS_AUTH, and the message names the command.
  await waitForState(daemon, "linear", ServerState.NEEDS_AUTH);
  t.regex((await stateOf(daemon, "linear")).lastError, /dsctl servers login linear/);
  const get = await dsctl(home, ["servers", "get", "linear"]);
  t.regex(get.stdout, /NEEDS_AUTH/);
  t.regex(get.stdout, /dsctl servers login linear/);

  // Sign in through dsctl; the server goes RUNNING without a daemon restart.
  const first = await signIn(home, "linear");
  t.is(first.run.code, 0, first.run.stderr);
  t.is(first.callbackStatus, 200);
  t.regex(first.run.stdout, /To sign in to server "linear", open this URL/);
  t.regex(first.run.stdout, /signed in to server "linear" \(issuer http:\/\/127\.0\.0\.1:\d+\/\)/);
  await waitForState(daemon, "linear", ServerState.RUNNING);
  await list();

  const ideToken = "ide-own-token-7c1d";
  const client = await gatewayClient(daemon, ideToken);
  t.teardown(() => client.close());
  const tools = await client.listTools();
  const echo = tools.tools.find((tool) => tool.name.endsWith("echo"))!.name;
  t.is(textOf(await client.callTool({ name: echo, arguments: { text: "one" } })), "echo: one");

  // A hostile server echoing the token in an error: the gateway masks it (tokens are registered with the masker).
  const prompts = await client.listPrompts();
  const leak = prompts.prompts.find((prompt) => prompt.name.endsWith("leak"))!.name;
  const leaked = await t.throwsAsync(() => client.getPrompt({ name: leak }));
  printed.push(leaked.message);
  t.regex(leaked.message, /rejected token \*\*\*/);

  // The access token expires: a 401, a silent refresh, the same call succeeds.
  fixture.expireAccessTokens();
  t.is(textOf(await client.callTool({ name: echo, arguments: { text: "two" } })), "echo: two");
  t.true(fixture.refreshCount() >= 1);
  t.is((await stateOf(daemon, "linear")).state, ServerState.RUNNING);

  // The refresh token is revoked too: the server wants a sign-in again.
  fixture.expireAccessTokens();
  fixture.revokeRefreshTokens();
  const refused = await client.callTool({ name: echo, arguments: { text: "three" } }).then(
    (result) => result.isError === true,
    () => true,
  );
  t.true(refused, "the call fails");
  await waitForState(daemon, "linear", ServerState.NEEDS_AUTH);
  t.regex((await stateOf(daemon, "linear")).lastError, /dsctl servers login linear/);
  await list();

  // Sign in again, then sign out: the tokens leave the vault and the server needs a sign-in.
  const second = await signIn(home, "linear");
  t.is(second.run.code, 0, second.run.stderr);
  await waitForState(daemon, "linear", ServerState.RUNNING);
  const vaultDir = join(home, "vault");
  t.is(readdirSync(vaultDir).filter((name) => name.startsWith("oauth-tokens-")).length, 1);
  const logout = await dsctl(home, ["servers", "logout", "linear"]);
  t.is(logout.code, 0, logout.stderr);
  t.regex(logout.stdout, /signed out of server "linear": its tokens were removed from the vault/);
  t.deepEqual(readdirSync(vaultDir).filter((name) => name.startsWith("oauth-tokens-")), []);
  await waitForState(daemon, "linear", ServerState.NEEDS_AUTH);
  const again = await dsctl(home, ["servers", "logout", "linear", "--json"]);
  t.is(again.code, 0);
  t.false(JSON.parse(again.stdout).removed ?? false);
  await list();
  for await (const message of daemon.clients.servers.streamServerLogs({ name: "linear", follow: false })) answers.push(message.line?.text ?? "");

  // The IDE's own Authorization never reached the upstream; the upstream only ever saw the gateway's tokens.
  t.false(fixture.mcpAuthorizations.includes(`Bearer ${ideToken}`));
  t.true(fixture.mcpAuthorizations.some((value) => value?.startsWith("Bearer at-")));

  // Canary scan: no token in any form in dsctl output, control API answers, daemon logs or state files.
  const outlets: Record<string, string> = {
    dsctl: printed.join("\n"),
    "control api": answers.join("\n"),
    "daemon output": daemon.stdout() + daemon.stderr(),
    "state folder": textOfFilesUnder(home),
  };
  t.true(fixture.issuedTokens.length >= 6);
  for (const token of fixture.issuedTokens) {
    const find = createLeakFinder(token);
    for (const [outlet, text] of Object.entries(outlets)) t.deepEqual(find(text), [], `${outlet} shows a token`);
  }
});

test.serial("an authorization response naming another issuer is refused: dsctl says why and the server stays NEEDS_AUTH", async (t) => {
  const fixture = await startOAuthFixture();
  t.teardown(() => fixture.close());
  fixture.setIssuerInResponse("wrong");
  const home = tempHome(t);
  const daemon = await startDaemon(t, { home, configPath: writeRemoteTeam(home, fixture) });
  await waitForState(daemon, "linear", ServerState.NEEDS_AUTH);
  const { run, callbackStatus } = await signIn(home, "linear");
  t.is(callbackStatus, 400);
  t.not(run.code, 0);
  t.regex(run.stderr, /names issuer "https:\/\/attacker\.example\/".*refused/);
  t.deepEqual(fixture.tokenRequestResources, [], "the code never reached the token endpoint");
  t.is((await stateOf(daemon, "linear")).state, ServerState.NEEDS_AUTH);
  t.deepEqual(readdirSync(join(home, "vault")).filter((name) => name.startsWith("oauth-tokens-")), []);
});

test.serial("login and logout of a server without oauth: are refused with a clear reason", async (t) => {
  const fixture = await startOAuthFixture();
  t.teardown(() => fixture.close());
  const home = tempHome(t);
  const path = join(home, "team.json");
  writeFileSync(path, JSON.stringify({ defaultTeam: "e2e", teams: [{ id: "e2e", name: "E2E", servers: [{ name: "plain", url: fixture.mcpUrl }] }] }));
  const daemon = await startDaemon(t, { home, configPath: path });
  await waitForState(daemon, "plain", ServerState.NEEDS_AUTH);
  const login = await dsctl(home, ["servers", "login", "plain", "--no-browser"]);
  t.not(login.code, 0);
  t.regex(login.stderr, /has no oauth: block/);
  const missing = await dsctl(home, ["servers", "logout", "nope"]);
  t.not(missing.code, 0);
});

test.serial("a token close to its expiry is refreshed before the request goes out: no 401 at all", async (t) => {
  // 62 s tokens are inside the gateway's 60 s refresh margin two seconds after they are issued.
  const { fixture, daemon } = await signedInDaemon(t, { accessTokenTtlSeconds: 62 });
  const before = fixture.unauthorizedCount();
  await new Promise((resolve) => setTimeout(resolve, 2_500));
  const client = await gatewayClient(daemon, "ide-token");
  t.teardown(() => client.close());
  const tools = await client.listTools();
  const echo = tools.tools.find((tool) => tool.name.endsWith("echo"))!.name;
  t.is(textOf(await client.callTool({ name: echo, arguments: { text: "fresh" } })), "echo: fresh");
  t.true(fixture.refreshCount() >= 1, "refreshed");
  t.is(fixture.unauthorizedCount(), before, "no request went out with a token about to expire");
});

test.serial("step-up: a call refused with 403 insufficient_scope names the scope and the command, the server stays up, and the next sign-in asks for the scope", async (t) => {
  const { fixture, home, daemon } = await signedInDaemon(t);
  t.false((fixture.authorizationRequests.at(-1)?.get("scope") ?? "").includes(WRITE_SCOPE), "the first sign-in did not ask for it");

  const client = await gatewayClient(daemon, "ide-token");
  t.teardown(() => client.close());
  const names = (await client.listTools()).tools.map((tool) => tool.name);
  const write = names.find((name) => name.endsWith("write"))!;
  const echo = names.find((name) => name.endsWith("echo"))!;

  // The token lacks the scope: this call fails with a message naming the scope and the command; nothing else does.
  const refused = await client.callTool({ name: write, arguments: { text: "x" } }).then(
    (result) => (result.isError ? textOf(result) : "succeeded"),
    (error: Error) => error.message,
  );
  t.is(fixture.insufficientScopeCount(), 1, "refused once, not retried");
  t.regex(refused, new RegExp(`server "linear" needs more access for this request \\(scope "${WRITE_SCOPE}"\\): run \`dsctl servers login linear\``));
  t.is((await stateOf(daemon, "linear")).state, ServerState.RUNNING);
  t.is(textOf(await client.callTool({ name: echo, arguments: { text: "still" } })), "echo: still");

  // Signing in again asks for the scope the server named beside the ones granted; then the call goes through.
  t.is((await signIn(home, "linear")).run.code, 0);
  t.true((fixture.authorizationRequests.at(-1)?.get("scope") ?? "").split(" ").includes(WRITE_SCOPE));
  await waitForState(daemon, "linear", ServerState.RUNNING);
  const retried = await waitUntil(async () => {
    const result = await client.callTool({ name: write, arguments: { text: "y" } }).catch(() => undefined);
    return result !== undefined && !result.isError && textOf(result) === "wrote: y";
  }, 30_000);
  t.true(retried, "the call succeeds with the new token");
});
