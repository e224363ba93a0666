import test from "ava";
import { createServer, type Server } from "node:http";
import type { ServerConfig } from "../config/types.js";
import { startRemoteFixture } from "../upstream/testing/remote-fixture.js";
import { serverConfig, supervisorForTest, waitFor, waitForState } from "./test-support.js";
import type { ServerState } from "./types.js";

/**
 * A remote server is a supervised connection with the process lifecycle (STARTING, RUNNING, BACKOFF, FAILED…)
 * plus NEEDS_AUTH, no pid, and its URL shown without credentials. Real SDK servers on loopback.
 */

const SECRET = "url-secret-5d1e";

function remote(name: string, url: string, overrides: Partial<ServerConfig["remote"]> = {}): ServerConfig {
  return serverConfig(name, "", [], { remote: { url, transport: "auto", headers: {}, insecure: false, ...overrides } });
}

/** A port nothing listens on (bound once, then released). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const fastBackoff = { initialDelayMs: 200, maxDelayMs: 1000, jitter: 0, maxCrashes: 50, windowMs: 60_000 };

test("unreachable at start → BACKOFF, RUNNING as soon as it answers; killed → BACKOFF → RUNNING again when it is back", async (t) => {
  const port = await freePort();
  const { supervisor } = supervisorForTest(t, {
    servers: [remote("far", `http://127.0.0.1:${port}/mcp`)],
    restartPolicy: fastBackoff,
  });
  const states: ServerState[] = [];
  supervisor.on("state", (snapshot) => states.push(snapshot.state));
  await supervisor.start();
  const backoff = await waitForState(t, supervisor, "far", "backoff");
  t.regex(backoff.lastError ?? "", /server "far" is unreachable: ECONNREFUSED/);
  const first = await startRemoteFixture(t, "v1-streamable", port);
  const running = await waitForState(t, supervisor, "far", "running");
  t.is(running.pid, undefined, "a remote server has no pid");
  t.is(running.era, "legacy");
  t.is(running.transport, "streamable-http");
  t.is(running.url, `http://127.0.0.1:${port}/mcp`);
  t.true(running.toolCount > 0);
  await first.kill();
  await waitForState(t, supervisor, "far", "backoff");
  const restartsBefore = supervisor.get("far").restarts;
  await startRemoteFixture(t, "v1-streamable", port);
  const again = await waitForState(t, supervisor, "far", "running");
  t.true(again.restarts >= restartsBefore);
  const connection = await supervisor.acquire("far");
  const answer = await connection.request("tools/call", { name: "echo", arguments: { text: "back" } });
  t.regex(JSON.stringify(answer), /back/);
  t.deepEqual(states.slice(0, 2), ["starting", "backoff"]);
});

test("a 401 with no auth provider → NEEDS_AUTH naming the login command; callers are told the same; a provider with a token → RUNNING", async (t) => {
  const fixture = await startRemoteFixture(t, "v1-streamable");
  let allowed = "Bearer good";
  const guard: Server = createServer((req, res) => {
    if (req.headers.authorization !== allowed) return void res.writeHead(401, { "www-authenticate": "Bearer" }).end();
    // A same-origin proxy would be more work than a redirect; the credential stops at the guard (another origin).
    res.writeHead(307, { location: fixture.url }).end();
  });
  await new Promise<void>((resolve) => guard.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => guard.close(() => resolve())));
  const url = `http://127.0.0.1:${(guard.address() as { port: number }).port}/mcp`;
  let token: string | undefined;
  const { supervisor } = supervisorForTest(t, {
    servers: [remote("linear", url)],
    restartPolicy: fastBackoff,
    authProviderFor: (config) =>
      config.name === "linear"
        ? { authorization: async () => (token ? `Bearer ${token}` : undefined), unauthorized: async () => "needs_auth", insufficientScope: async () => undefined }
        : undefined,
  });
  await supervisor.start();
  const waiting = await waitForState(t, supervisor, "linear", "needs_auth");
  t.is(waiting.lastError, 'server "linear" needs sign-in: run `dsctl servers login linear`');
  t.is(waiting.restarts, 0, "not retried on its own");
  await t.throwsAsync(supervisor.acquire("linear"), { message: 'server "linear" needs sign-in: run `dsctl servers login linear`' });
  token = "good";
  await supervisor.restart("linear");
  await waitForState(t, supervisor, "linear", "running");
  allowed = "nobody";
  t.pass();
});

test("status shows the URL without userinfo and with credential-like query values masked; the secrets are masked in errors too", async (t) => {
  const port = await freePort();
  const { supervisor } = supervisorForTest(t, {
    servers: [remote("creds", `http://user:${SECRET}@127.0.0.1:${port}/mcp?api_key=${SECRET}x&workspace=acme`, { headers: { "X-Key": `${SECRET}h` } })],
    restartPolicy: fastBackoff,
  });
  await supervisor.start();
  const snapshot = await waitForState(t, supervisor, "creds", "backoff");
  t.is(snapshot.url, `http://127.0.0.1:${port}/mcp?api_key=***&workspace=acme`);
  const everything = JSON.stringify([snapshot, supervisor.log("creds").tail()]);
  t.false(everything.includes(SECRET), everything);
  t.true(await waitFor(() => supervisor.get("creds").restarts >= 1));
});

test("insecure: plain http off loopback is shown as such in status", (t) => {
  const { supervisor } = supervisorForTest(t, { servers: [remote("lan", "http://10.255.255.1:9/mcp", { insecure: true })] });
  t.true(supervisor.get("lan").insecure);
  t.is(supervisor.get("lan").transport, "streamable-http");
});

test("a changed URL or header reconnects the server to the new settings; an unchanged remote config is left alone", async (t) => {
  const first = await startRemoteFixture(t, "v1-streamable", 0, "first");
  const second = await startRemoteFixture(t, "v2-modern", 0, "second");
  const config = remote("moving", first.url);
  const { supervisor } = supervisorForTest(t, { servers: [config] });
  await supervisor.start();
  t.is((await waitForState(t, supervisor, "moving", "running")).identity?.serverInfo.name, "first");
  const startedAt = supervisor.get("moving").startedAt;
  await supervisor.replaceServers([remote("moving", first.url)]);
  t.is(supervisor.get("moving").startedAt, startedAt, "the same settings: no reconnect");
  await supervisor.replaceServers([remote("moving", second.url)]);
  const moved = await waitForState(t, supervisor, "moving", "running");
  t.is(moved.identity?.serverInfo.name, "second");
  t.is(moved.era, "modern", "the era is probed again for the new URL");
  await supervisor.replaceServers([remote("moving", second.url, { headers: { "X-Team": "blue" } })]);
  await waitForState(t, supervisor, "moving", "running");
  const connection = await supervisor.acquire("moving");
  await connection.request("tools/call", { name: "echo", arguments: { text: "x" } });
  t.is((await second.stats()).lastHeaders["x-team"], "blue");
});
