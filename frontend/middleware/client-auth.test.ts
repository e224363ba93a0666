import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { loadOrCreateClientToken } from "../client-token.js";
import { type ScriptedDaemon, startScriptedDaemon } from "../testing/scripted-daemon.js";
import { type TestFrontend, initializeBody, mcpHeaders, send, startTestFrontend } from "../testing/harness.js";

let daemon: ScriptedDaemon;
let fe: TestFrontend;
let token: string;
let home: string;
test.before(async () => {
  home = mkdtempSync(join(tmpdir(), "dsgw-"));
  token = loadOrCreateClientToken(join(home, "client.token"));
  daemon = await startScriptedDaemon();
  fe = await startTestFrontend({ socketPath: daemon.socketPath, settings: { clientAuth: "token" }, clientToken: token });
});
test.after.always(async () => {
  await fe?.close();
  await daemon?.dispose();
  rmSync(home, { recursive: true, force: true });
});

test("the client token file is created 0600 with 32 random bytes, and reused afterwards", (t) => {
  const path = join(home, "client.token");
  t.regex(token, /^[A-Za-z0-9_-]{43}$/);
  t.is(statSync(path).mode & 0o777, 0o600);
  t.is(loadOrCreateClientToken(path), token);
  const other = join(home, "other.token");
  writeFileSync(other, "given-token\n", { mode: 0o644 });
  t.is(loadOrCreateClientToken(other), "given-token");
  t.is(readFileSync(other, "utf8"), "given-token\n");
});

test.serial("without the right bearer token every route is 401 with WWW-Authenticate: Bearer", async (t) => {
  for (const authorization of [undefined, "", "Bearer", `Bearer ${token}x`, `Bearer ${token.slice(1)}`, `Basic ${token}`, "Bearer  ", `bearer${token}`]) {
    for (const [method, path] of [["GET", "/healthz"], ["POST", "/mcp"], ["GET", "/sse"], ["POST", "/message?sessionId=x"]]) {
      const headers: Record<string, string> = mcpHeaders(fe.port);
      if (authorization !== undefined) headers.authorization = authorization;
      const result = await send(fe.port, { method, path, headers, body: method === "POST" ? initializeBody() : undefined });
      t.is(result.status, 401, `${method} ${path} ${authorization}`);
      t.regex(String(result.headers["www-authenticate"]), /^Bearer/);
    }
  }
  t.is(fe.sessions.size, 0);
});

test.serial("with the right bearer token requests go through", async (t) => {
  const health = await send(fe.port, { path: "/healthz", headers: { host: `localhost:${fe.port}`, authorization: `Bearer ${token}` } });
  t.is(health.status, 200);
  const init = await send(fe.port, { method: "POST", headers: mcpHeaders(fe.port, { authorization: `bearer ${token}`, accept: "application/json" }), body: initializeBody() });
  t.is(init.status, 200);
  t.is(JSON.parse(init.body).result.serverInfo.name, "scripted");
});
