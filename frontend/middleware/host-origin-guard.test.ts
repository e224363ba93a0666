import test from "ava";
import { isAllowedOrigin, isLoopbackHost, normaliseOrigins } from "../../shared/loopback.js";
import { type ScriptedDaemon, startScriptedDaemon } from "../testing/scripted-daemon.js";
import { type TestFrontend, initializeBody, send, startTestFrontend } from "../testing/harness.js";

const PORT = 9095;

test("Host: loopback names with our port pass; DNS-rebinding names, wrong ports and odd spellings are refused", (t) => {
  for (const host of ["localhost:9095", "LOCALHOST:9095", "127.0.0.1:9095", "[::1]:9095"]) t.true(isLoopbackHost(host, PORT), host);
  for (const host of [
    undefined,
    "",
    "evil.com",
    "evil.com:9095",
    "localhost.evil.com:9095",
    "localhost.:9095",
    "127.0.0.1.nip.io:9095",
    "localhost:9096",
    "localhost:09095",
    "localhost",
    "127.0.0.1",
    "[::1]",
    "[::1]9095",
    "[0:0:0:0:0:0:0:1]:9095",
    "127.1:9095",
    "0x7f.0.0.1:9095",
    "0.0.0.0:9095",
    "user@localhost:9095",
    "localhost:9095:9095",
    "localhost:9095/",
    "[::ffff:127.0.0.1]:9095",
  ]) {
    t.false(isLoopbackHost(host, PORT), String(host));
  }
  t.true(isLoopbackHost("localhost", 80), "no port means 80");
});

test("Origin: our own loopback origin and listed ones pass; other loopback ports, foreign and null origins are refused", (t) => {
  const allowed = normaliseOrigins(["https://app.example.com/", "http://localhost:6274"]);
  for (const origin of ["http://localhost:9095", "http://127.0.0.1:9095", "http://[::1]:9095", "HTTP://LOCALHOST:9095", "https://app.example.com", "http://localhost:6274"]) {
    t.true(isAllowedOrigin(origin, PORT, allowed), origin);
  }
  for (const origin of [
    "http://localhost:3000",
    "http://127.0.0.1:8080",
    "https://localhost:9095",
    "http://evil.com",
    "http://localhost.evil.com:9095",
    "http://evil.com:9095",
    "null",
    "",
    "file://",
    "http://localhost:9095/path",
    "http://localhost:09095",
    "http://user@localhost:9095",
    "https://app.example.com.evil.com",
  ]) {
    t.false(isAllowedOrigin(origin, PORT, allowed), origin);
  }
});

let daemon: ScriptedDaemon;
let fe: TestFrontend;
test.before(async () => {
  daemon = await startScriptedDaemon();
  fe = await startTestFrontend({ socketPath: daemon.socketPath, settings: { allowedOrigins: ["https://dash.example.com"] } });
});
test.after.always(async () => {
  await fe?.close();
  await daemon?.dispose();
});

const ROUTES: Array<{ method: string; path: string }> = [
  { method: "GET", path: "/healthz" },
  { method: "POST", path: "/mcp" },
  { method: "GET", path: "/mcp" },
  { method: "DELETE", path: "/mcp" },
  { method: "GET", path: "/sse" },
  { method: "POST", path: "/message?sessionId=x" },
  { method: "GET", path: "/nowhere" },
  { method: "OPTIONS", path: "/mcp" },
];

test.serial("every route refuses a foreign Host or Origin with 403 before anything else happens", async (t) => {
  const bad: Array<Record<string, string>> = [
    { host: "evil.com" },
    { host: `localhost.evil.com:${fe.port}` },
    { host: `evil.com:${fe.port}` },
    { host: `localhost:${fe.port + 1}` },
    { host: `localhost:${fe.port}`, origin: "http://evil.com" },
    { host: `localhost:${fe.port}`, origin: "http://localhost:3000" },
    { host: `127.0.0.1:${fe.port}`, origin: "null" },
  ];
  for (const route of ROUTES) {
    for (const headers of bad) {
      const result = await send(fe.port, {
        method: route.method,
        path: route.path,
        headers: { ...headers, "content-type": "application/json", accept: "application/json, text/event-stream" },
        body: route.method === "POST" ? '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}' : undefined,
      });
      t.is(result.status, 403, `${route.method} ${route.path} ${JSON.stringify(headers)}`);
      t.is(JSON.parse(result.body).error.code, -32000);
    }
  }
  t.is(fe.sessions.size, 0, "no session was created by a refused request");
  t.is(daemon.records.length, 0, "the daemon never heard of them");
});

test.serial("loopback hosts with our port, our own origin and a listed origin pass; CORS answers only those", async (t) => {
  for (const host of [`localhost:${fe.port}`, `127.0.0.1:${fe.port}`, `[::1]:${fe.port}`]) {
    const result = await send(fe.port, { path: "/healthz", headers: { host } });
    t.is(result.status, 200, host);
  }
  const own = await send(fe.port, { path: "/healthz", headers: { host: `localhost:${fe.port}`, origin: `http://localhost:${fe.port}` } });
  t.is(own.status, 200);
  const preflight = await send(fe.port, {
    method: "OPTIONS",
    path: "/mcp",
    headers: { host: `localhost:${fe.port}`, origin: "https://dash.example.com", "access-control-request-method": "POST" },
  });
  t.is(preflight.status, 204);
  t.is(preflight.headers["access-control-allow-origin"], "https://dash.example.com");
  t.regex(String(preflight.headers["access-control-allow-headers"]), /Mcp-Session-Id/);
  const plain = await send(fe.port, { path: "/healthz", headers: { host: `localhost:${fe.port}` } });
  t.is(plain.headers["access-control-allow-origin"], undefined);
});

test.serial("every route refuses a browser request from another site (Sec-Fetch-Site) with 403, and opens no session", async (t) => {
  const sessionsBefore = fe.sessions.size;
  const recordsBefore = daemon.records.length;
  const bad: Array<Record<string, string>> = [
    { "sec-fetch-site": "cross-site" },
    { "sec-fetch-site": "cross-site", origin: `http://localhost:${fe.port}` },
    { "sec-fetch-site": "same-site" },
    { "sec-fetch-site": "bogus" },
  ];
  for (const route of ROUTES) {
    for (const headers of bad) {
      const result = await send(fe.port, {
        method: route.method,
        path: route.path,
        headers: { host: `localhost:${fe.port}`, ...headers, "content-type": "application/json", accept: "application/json, text/event-stream" },
        body: route.method === "POST" ? initializeBody() : undefined,
      });
      t.is(result.status, 403, `${route.method} ${route.path} ${JSON.stringify(headers)}`);
      t.regex(JSON.parse(result.body).error.message, /sec-fetch-site/);
    }
  }
  t.is(fe.sessions.size, sessionsBefore);
  t.is(daemon.records.length, recordsBefore, "the daemon never heard of them");
  // Allowed: our own pages, address-bar requests, a listed origin from another site, native clients.
  const good: Array<Record<string, string>> = [
    { "sec-fetch-site": "same-origin", origin: `http://localhost:${fe.port}` },
    { "sec-fetch-site": "none" },
    { "sec-fetch-site": "cross-site", origin: "https://dash.example.com" },
    { "sec-fetch-site": "same-site", origin: `http://localhost:${fe.port}` },
    {},
  ];
  for (const headers of good) {
    const result = await send(fe.port, { path: "/healthz", headers: { host: `localhost:${fe.port}`, ...headers } });
    t.is(result.status, 200, JSON.stringify(headers));
  }
});
