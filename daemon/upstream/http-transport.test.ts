import test, { type ExecutionContext } from "ava";
import { Agent } from "undici";
import { CallCancellation } from "../call-signal.js";
import { watchCatalog } from "./catalog.js";
import { createUpstreamConnection, type ManagedUpstreamConnection } from "./connection.js";
import { createRemoteRequester, UpstreamNeedsAuthError, type UpstreamAuthProvider } from "./http-request.js";
import { createHttpMessageTransport } from "./http-transport.js";
import { RawJson } from "./raw-json.js";
import { startRemoteFixture, type RemoteFlavour } from "./testing/remote-fixture.js";
import type { JsonObject } from "./types.js";

/**
 * The HTTP upstream transports against the MCP SDK's own server transports on loopback (v1 Streamable HTTP
 * and HTTP+SSE, v2 sessions and v2 modern), through the one upstream connection type with its era machinery.
 */

/** Where `open` puts its transport, for a test that reads its `failure` after a failed start. */
interface Capture {
  transport?: ReturnType<typeof createHttpMessageTransport>;
}

interface Opened {
  connection: ManagedUpstreamConnection;
  notifications: { method: string; params: JsonObject | undefined }[];
  flavour: () => string | undefined;
}

async function open(
  t: ExecutionContext,
  url: string,
  mode: "auto" | "http" | "sse" = "auto",
  extra: { headers?: Record<string, string>; auth?: UpstreamAuthProvider; capture?: Capture } = {},
): Promise<Opened> {
  const pool = new Agent({ allowH2: true });
  t.teardown(() => pool.close());
  let flavour: string | undefined;
  const requester = createRemoteRequester({ serverName: "r", url: new URL(url), headers: extra.headers ?? {}, dispatcher: pool, ...(extra.auth ? { auth: extra.auth } : {}) });
  const transport = createHttpMessageTransport({ serverName: "r", url: new URL(url), mode, requester, onFlavour: (kind) => (flavour = kind) });
  if (extra.capture) extra.capture.transport = transport;
  const notifications: Opened["notifications"] = [];
  const connection = await createUpstreamConnection({
    serverName: "r",
    transport,
    era: "auto",
    probeTimeoutMs: 20_000,
    handlers: { onNotification: (method, params) => notifications.push({ method, params }), onRequest: async () => ({}) },
  });
  t.teardown(() => connection.close());
  return { connection, notifications, flavour: () => flavour };
}

const text = (result: JsonObject): string => String((result.content as JsonObject[])[0]?.text ?? "");

async function waitFor(condition: () => boolean, ms = 30_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return true;
}

/**
 * A front on loopback that forwards every request to `fixtureUrl`'s server, unless `refuse` answers it first (it gets
 * the request and its whole body, and returns true once it has answered). Returns the front's origin.
 */
async function startFront(
  t: ExecutionContext,
  fixtureUrl: string,
  refuse: (req: import("node:http").IncomingMessage, body: string, res: import("node:http").ServerResponse) => boolean,
): Promise<string> {
  const { createServer, request } = await import("node:http");
  const target = new URL(fixtureUrl);
  const front = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      if (refuse(req, body.toString(), res)) return;
      const forwarded = request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      // A client that goes away takes the forwarded request with it, as a proxy's would.
      forwarded.on("error", () => res.destroy());
      res.on("close", () => forwarded.destroy());
      forwarded.end(body);
    });
  });
  await new Promise<void>((resolve) => front.listen(0, "127.0.0.1", resolve));
  t.teardown(() => {
    front.closeAllConnections();
    return new Promise<void>((resolve) => front.close(() => resolve()));
  });
  return `http://127.0.0.1:${(front.address() as { port: number }).port}`;
}

/** On a working connection whose server wants more scope for `tools/call`: that call fails naming the scope and the command, nothing else. */
async function onlyTheCallRefused(t: ExecutionContext, connection: ManagedUpstreamConnection): Promise<void> {
  const refused = await connection.request("tools/call", { name: "echo", arguments: { text: "x" } }).then(
    () => "answered",
    (error: Error) => error.message,
  );
  t.regex(refused, /needs more access for this request \(scope "files:write"\): run `dsctl servers login r` to grant it/);
  t.false(connection.closed.aborted, "the connection stays up");
  t.true(Array.isArray((await connection.request("tools/list", {})).tools));
}

const expected: Record<RemoteFlavour, { era: "legacy" | "modern"; flavour: string }> = {
  "v1-streamable": { era: "legacy", flavour: "streamable-http" },
  "v1-sse": { era: "legacy", flavour: "sse" },
  "v2-legacy": { era: "legacy", flavour: "streamable-http" },
  "v2-modern": { era: "modern", flavour: "streamable-http" },
};

for (const flavour of Object.keys(expected) as RemoteFlavour[]) {
  test(`auto: ${flavour}: era and transport detected; tools, progress, prompts and resources work`, async (t) => {
    const fixture = await startRemoteFixture(t, flavour);
    const { connection, notifications, flavour: seen } = await open(t, fixture.url);
    t.is(connection.identity.era, expected[flavour].era);
    t.is(seen(), expected[flavour].flavour);
    const listed = await connection.request("tools/list", {});
    t.true((listed.tools as JsonObject[]).some((tool) => tool.name === "echo"));
    t.is(text(await connection.request("tools/call", { name: "echo", arguments: { text: "über" } })), "über");
    const called = await connection.request("tools/call", { name: "progress", arguments: { n: 3 }, _meta: { progressToken: "p-1" } });
    t.is(text(called), "done 3");
    t.is(notifications.filter((n) => n.method === "notifications/progress" && n.params?.progressToken === "p-1").length, 3);
    const prompt = await connection.request("prompts/get", { name: "greet", arguments: { who: "you" } });
    t.regex(JSON.stringify(prompt), /hello you/);
    const read = await connection.request("resources/read", { uri: "fixture://counter" });
    t.regex(JSON.stringify(read), /counter \d+/);
  });
}

test("a 1 MiB result passes through as the server's bytes (RawJson), over JSON and SSE bodies", async (t) => {
  for (const flavour of ["v1-streamable", "v2-modern"] as const) {
    const fixture = await startRemoteFixture(t, flavour);
    const { connection } = await open(t, fixture.url);
    const result = await connection.forward("tools/call", { name: "big", arguments: { n: 1 << 20 } });
    t.true(result instanceof RawJson, flavour);
    const parsed = (result as RawJson).parse();
    t.is(text(parsed).length, 1 << 20);
  }
});

test("configured headers reach the server; nothing else of ours does", async (t) => {
  const fixture = await startRemoteFixture(t, "v1-streamable");
  const { connection } = await open(t, fixture.url, "http", { headers: { "X-Api-Key": "k-123" } });
  await connection.request("tools/call", { name: "echo", arguments: { text: "x" } });
  const { lastHeaders } = await fixture.stats();
  t.is(lastHeaders["x-api-key"], "k-123");
  t.is(lastHeaders.authorization as string | undefined, undefined);
  t.truthy(lastHeaders["mcp-session-id"]);
  t.is(lastHeaders["mcp-protocol-version"], "2025-11-25");
});

test("modern requests mirror their method and name in headers, with no session", async (t) => {
  const fixture = await startRemoteFixture(t, "v2-modern");
  const { connection } = await open(t, fixture.url);
  await connection.request("tools/call", { name: "echo", arguments: { text: "x" } });
  const { lastHeaders } = await fixture.stats();
  t.is(lastHeaders["mcp-method"], "tools/call");
  t.is(lastHeaders["mcp-name"], "echo");
  t.is(lastHeaders["mcp-protocol-version"], "2026-07-28");
  t.is(lastHeaders["mcp-session-id"] as string | undefined, undefined);
});

test("an expired session (404) is re-initialized transparently: the request is answered, subscriptions and list changes go on", async (t) => {
  const fixture = await startRemoteFixture(t, "v1-streamable");
  const { connection, notifications } = await open(t, fixture.url, "http");
  await connection.request("resources/subscribe", { uri: "fixture://counter" });
  const before = (await fixture.stats()).initializes;
  await fixture.expire();
  t.is(text(await connection.request("tools/call", { name: "echo", arguments: { text: "after expiry" } })), "after expiry");
  t.is((await fixture.stats()).initializes, before + 1);
  await connection.request("tools/call", { name: "touch", arguments: {} });
  t.true(await waitFor(() => notifications.some((n) => n.method === "notifications/resources/updated")), "resources/updated after the new session");
  await connection.request("tools/call", { name: "add_tool", arguments: {} });
  t.true(await waitFor(() => notifications.some((n) => n.method === "notifications/tools/list_changed")), "list_changed on the new session's GET stream");
});

test("a connection dropped mid-call: a clear error for that call, and the next call works", async (t) => {
  const fixture = await startRemoteFixture(t, "v1-streamable");
  const { connection } = await open(t, fixture.url, "http");
  const error = await t.throwsAsync(connection.request("tools/call", { name: "drop", arguments: {} }));
  t.regex(error!.message, /connection was lost during tools\/call/);
  t.is(text(await connection.request("tools/call", { name: "echo", arguments: { text: "again" } })), "again");
  t.false(connection.closed.aborted);
});

for (const flavour of ["v1-streamable", "v2-modern"] as const) {
  test(`${flavour}: a cancelled call fails at once, its POST is closed (a legacy session is told first), and the next call works`, async (t) => {
    const fixture = await startRemoteFixture(t, flavour);
    let slowPost: { closedEarly: Promise<boolean> } | undefined;
    let cancelledNotices = 0;
    const front = await startFront(t, fixture.url, (_req, body, res) => {
      if (body.includes('"notifications/cancelled"')) cancelledNotices++;
      if (body.includes('"slow"')) {
        slowPost = { closedEarly: new Promise((resolve) => res.on("close", () => resolve(!res.writableFinished))) };
      }
      return false;
    });
    const { connection } = await open(t, `${front}/mcp`, "http");
    const cancellation = new CallCancellation();
    const call = connection.request("tools/call", { name: "slow", arguments: { ms: 60_000 } }, { signal: cancellation });
    t.true(await waitFor(() => slowPost !== undefined), "the call reached the server");
    cancellation.abort("cancelled by the client");
    await t.throwsAsync(call, { message: /cancel/ });
    t.true(await slowPost!.closedEarly, "the call's POST was closed before its answer");
    t.is(cancelledNotices, flavour === "v1-streamable" ? 1 : 0, "notifications/cancelled is POSTed to a legacy session only");
    t.is(text(await connection.request("tools/call", { name: "echo", arguments: { text: "next" } })), "next");
  });
}

test("an unreachable server fails the start with a reason; a killed server closes the connection", async (t) => {
  const fixture = await startRemoteFixture(t, "v1-streamable");
  const url = fixture.url;
  const { connection } = await open(t, url, "http");
  await fixture.kill();
  // The GET stream breaks and cannot be opened again, and a request that finds nobody ends the connection. A request
  // may first meet a pooled socket the kernel has already closed (a lost connection: that request fails, the next one
  // reconnects), so requests go on until the connection is closed.
  let closed = false;
  for (const deadline = Date.now() + 30_000; !closed && Date.now() < deadline; ) {
    await connection.request("tools/list", {}).catch(() => undefined);
    closed = await waitFor(() => connection.closed.aborted, 250);
  }
  t.true(closed, "closed after the server went away");
  await t.throwsAsync(open(t, url, "http"), { message: /server "r"/ });
});

test("401: the auth provider is asked once to refresh, then the transport ends with needs-sign-in", async (t) => {
  const fixture = await startRemoteFixture(t, "v1-streamable");
  const { createServer } = await import("node:http");
  let seen: string | undefined;
  // A guard in front of the fixture: only "Bearer good" passes.
  const guard = createServer((req, res) => {
    seen = req.headers.authorization;
    if (req.headers.authorization !== "Bearer good") {
      res.writeHead(401, { "www-authenticate": 'Bearer resource_metadata="x"' }).end();
      return;
    }
    res.writeHead(307, { location: fixture.url }).end();
  });
  await new Promise<void>((resolve) => guard.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => guard.close(() => resolve())));
  const address = guard.address() as { port: number };
  const calls: string[] = [];
  let token = "stale";
  const auth: UpstreamAuthProvider = {
    insufficientScope: async () => undefined,
    authorization: async () => `Bearer ${token}`,
    unauthorized: async ({ wwwAuthenticate }) => {
      calls.push(`401 ${wwwAuthenticate}`);
      if (token === "stale") {
        token = "good";
        return "retry";
      }
      return "needs_auth";
    },
  };
  // Refreshed once: the start succeeds; the redirect to another origin (the fixture's port) drops the credential.
  const { connection } = await open(t, `http://127.0.0.1:${address.port}/mcp`, "http", { auth, headers: { "X-Secret": "s" } });
  t.is(connection.identity.era, "legacy");
  t.deepEqual(calls, ['401 Bearer resource_metadata="x"']);
  t.is(seen, "Bearer good");
  const { lastHeaders } = await fixture.stats();
  t.is(lastHeaders.authorization as string | undefined, undefined, "the credential did not follow the redirect to another origin");
  t.is(lastHeaders["x-secret"] as string | undefined, undefined, "configured headers did not follow it either");
  // No usable token: the start fails with the sign-in command.
  token = "revoked";
  const capture: Capture = {};
  await t.throwsAsync(open(t, `http://127.0.0.1:${address.port}/mcp`, "http", { auth, capture }));
  t.is(capture.transport?.failure?.message, 'server "r" needs sign-in: run `dsctl servers login r`');
  t.true(calls.length >= 2, "the provider heard of the 401 and answered needs_auth");
});

test("403 insufficient_scope: while connecting it is a sign-in the server needs; on a working connection only the refused request (or the listening stream) fails", async (t) => {
  const fixture = await startRemoteFixture(t, "v1-streamable");
  const { createServer } = await import("node:http");
  // A guard in front of the fixture: `tools/call` and the GET stream (or, when `everything` is set, every request) need a
  // scope the token lacks.
  let everything = true;
  let refusedListening = 0;
  const guard = createServer((req, res) => {
    if (req.method === "GET") {
      refusedListening++;
      res.writeHead(403, { "www-authenticate": 'Bearer error="insufficient_scope", scope="events:read"' }).end();
      return;
    }
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
    req.on("end", () => {
      if (req.method === "POST" && (everything || body.includes('"tools/call"'))) {
        res.writeHead(403, { "www-authenticate": 'Bearer error="insufficient_scope", scope="files:write"' }).end();
        return;
      }
      res.writeHead(307, { location: fixture.url }).end();
    });
  });
  await new Promise<void>((resolve) => guard.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => guard.close(() => resolve())));
  const url = `http://127.0.0.1:${(guard.address() as { port: number }).port}/mcp`;
  const scopes: string[] = [];
  const auth: UpstreamAuthProvider = {
    insufficientScope: async ({ wwwAuthenticate }) => {
      scopes.push(wwwAuthenticate);
      return "files:write";
    },
    authorization: async () => "Bearer token",
    unauthorized: async () => "needs_auth",
  };
  const capture: Capture = {};
  await t.throwsAsync(open(t, url, "http", { auth, capture }));
  t.is(capture.transport?.failure?.message, 'server "r" needs more access for this request (scope "files:write"): run `dsctl servers login r` to grant it');
  t.true(capture.transport?.failure instanceof UpstreamNeedsAuthError, "NEEDS_AUTH: nothing works without the scope");

  everything = false;
  const { connection } = await open(t, url, "http", { auth });
  t.true(await waitFor(() => refusedListening > 0), "the listening stream was asked for and refused");
  await onlyTheCallRefused(t, connection);
  t.is(scopes.length, 2 + refusedListening);
});

test("TLS is verified: a server whose certificate nobody trusts is unreachable, with the TLS error's code", async (t) => {
  const { startTlsFront } = await import("./testing/tls-proxy.js");
  const fixture = await startRemoteFixture(t, "v1-streamable");
  const front = await startTlsFront(new URL(fixture.url).origin);
  t.teardown(() => front.close());
  const capture: Capture = {};
  await t.throwsAsync(open(t, `${front.origin}/mcp`, "http", { capture }));
  t.regex(capture.transport?.failure?.message ?? "", /server "r" is unreachable: [A-Z_]*(CERT|SELF_SIGNED)[A-Z_]*/);
  t.deepEqual(front.versions, [], "no request got through");
});

test("closing a legacy session sends DELETE: the server forgets the session", async (t) => {
  const fixture = await startRemoteFixture(t, "v1-streamable");
  const { connection } = await open(t, fixture.url, "http");
  await connection.request("tools/list", {});
  const session = (await fixture.stats()).lastHeaders["mcp-session-id"]!;
  t.truthy(session);
  await connection.close();
  const after = await fetch(fixture.url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-session-id": session },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
  });
  await after.arrayBuffer();
  t.is(after.status, 404);
});

test("HTTP+SSE: an endpoint on another origin is refused (messages carry the credentials), and the start fails saying so", async (t) => {
  const { createServer } = await import("node:http");
  let posted = false;
  const server = createServer((req, res) => {
    if (req.method === "POST") posted = true;
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write("event: endpoint\ndata: http://elsewhere.example/messages\n\n");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/sse`;
  const error = await t.throwsAsync(open(t, url, "sse", { headers: { "X-Key": "k" } }));
  t.is(error!.message, 'server "r" named an endpoint the gateway does not post to (not its own origin)');
  t.false(posted);
});

test("HTTP+SSE, 403 insufficient_scope: a refused request fails with the message, a refused notification is dropped, the stream goes on", async (t) => {
  const fixture = await startRemoteFixture(t, "v1-sse");
  // Everything goes to the fixture (its endpoint is a path, so messages come back through the front), except that
  // `tools/call` and `notifications/initialized` need a scope the token lacks.
  const origin = await startFront(t, fixture.url, (req, body, res) => {
    if (req.method !== "POST" || !/"(tools\/call|notifications\/initialized)"/.test(body)) return false;
    res.writeHead(403, { "www-authenticate": 'Bearer error="insufficient_scope", scope="files:write"' }).end();
    return true;
  });
  const auth: UpstreamAuthProvider = { insufficientScope: async () => "files:write", authorization: async () => "Bearer token", unauthorized: async () => "needs_auth" };
  const { connection } = await open(t, `${origin}${new URL(fixture.url).pathname}`, "sse", { auth });
  await onlyTheCallRefused(t, connection);
});

test("auto: a legacy server that refuses the probe with a bare 400 (no JSON-RPC body) is still spoken to over Streamable HTTP", async (t) => {
  const fixture = await startRemoteFixture(t, "v1-streamable");
  // A front that answers any request without a session other than initialize with a plain-text 400.
  const origin = await startFront(t, fixture.url, (req, body, res) => {
    if (req.method !== "POST" || req.headers["mcp-session-id"] || body.includes('"initialize"')) return false;
    res.writeHead(400, { "content-type": "text/plain" }).end("Bad Request: No valid session ID provided");
    return true;
  });
  const { connection, flavour } = await open(t, `${origin}/mcp`);
  t.is(connection.identity.era, "legacy");
  t.is(flavour(), "streamable-http");
  t.is(text(await connection.request("tools/call", { name: "echo", arguments: { text: "ok" } })), "ok");
});
