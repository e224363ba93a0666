import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import test from "ava";
import { startScriptedDaemon } from "./testing/scripted-daemon.js";
import { initializeBody, initializeSession, mcpHeaders, send, waitFor } from "./testing/harness.js";

const MAIN = resolve(dirname(fileURLToPath(import.meta.url)), "../dist/frontend/main.js");

interface Running {
  readonly child: ChildProcess;
  readonly port: number;
  readonly stdoutLines: string[];
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
}

async function startMain(t: import("ava").ExecutionContext, config: Record<string, unknown>, home: string): Promise<Running> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first`);
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH, DEPLOYSTACK_HOME: home, DEPLOYSTACK_FRONTEND_CONFIG: JSON.stringify(config) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolveExit) => child.once("exit", (code) => resolveExit(code)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  const stdoutLines: string[] = [];
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolvePort, reject) => {
    lines.on("line", (line) => {
      stdoutLines.push(line);
      const value = JSON.parse(line) as { event: string; port: number };
      if (value.event === "listening") resolvePort(value.port);
    });
    void exited.then((code) => reject(new Error(`frontend exited ${code}: ${stderr}`)));
  });
  return { child, port, stdoutLines, stderr: () => stderr, exited };
}

function tempHome(t: import("ava").ExecutionContext): string {
  const home = mkdtempSync(join(tmpdir(), "dsgw-"));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  return home;
}

test("the process prints one listening line, serves MCP through the daemon socket, and exits 0 on SIGTERM", async (t) => {
  const daemon = await startScriptedDaemon();
  t.teardown(() => daemon.dispose());
  const home = tempHome(t);
  const running = await startMain(t, { host: "127.0.0.1", port: 0, controlSocket: daemon.socketPath, allowedOrigins: [], clientAuth: "none", sessionIdleTimeoutMs: 1_800_000, maxSessions: 256 }, home);
  t.true(running.port > 0);
  const health = await send(running.port, { path: "/healthz", headers: { host: `localhost:${running.port}` } });
  t.deepEqual(JSON.parse(health.body), { status: "ok", sessions: 0 });
  const sid = await initializeSession(running.port);
  const ping = await send(running.port, { method: "POST", headers: mcpHeaders(running.port, { "mcp-session-id": sid, accept: "application/json" }), body: '{"jsonrpc":"2.0","id":2,"method":"ping"}' });
  t.deepEqual(JSON.parse(ping.body), { jsonrpc: "2.0", id: 2, result: {} });
  running.child.kill("SIGTERM");
  t.is(await running.exited, 0);
  t.deepEqual(running.stdoutLines, [JSON.stringify({ event: "listening", port: running.port })], "stdout holds exactly the listening line");
  await waitFor(() => daemon.records[0].closed);
  t.true(daemon.records[0].closed, "the session's daemon stream was closed on shutdown");
});

test("with no daemon the process keeps serving (503), and works once the daemon appears", async (t) => {
  const daemon = await startScriptedDaemon();
  await daemon.stop();
  t.teardown(() => daemon.dispose());
  const home = tempHome(t);
  const running = await startMain(t, { host: "127.0.0.1", port: 0, controlSocket: daemon.socketPath, clientAuth: "none" }, home);
  const refused = await send(running.port, { method: "POST", headers: mcpHeaders(running.port), body: initializeBody() });
  t.is(refused.status, 503);
  await daemon.start();
  const sid = await initializeSession(running.port);
  t.regex(sid, /^[A-Za-z0-9_-]{43}$/);
  await daemon.stop();
  const health = await send(running.port, { path: "/healthz", headers: { host: `localhost:${running.port}` } });
  t.is(health.status, 200, "still alive after the daemon went away again");
  t.is(running.child.exitCode, null);
  running.child.kill("SIGTERM");
  t.is(await running.exited, 0);
});

test("clientAuth token: the token file is created 0600 under DEPLOYSTACK_HOME and required on every request", async (t) => {
  const daemon = await startScriptedDaemon();
  t.teardown(() => daemon.dispose());
  const home = tempHome(t);
  const running = await startMain(t, { host: "127.0.0.1", port: 0, controlSocket: daemon.socketPath, clientAuth: "token" }, home);
  const tokenPath = join(home, "client.token");
  t.is(statSync(tokenPath).mode & 0o777, 0o600);
  const token = readFileSync(tokenPath, "utf8").trim();
  t.is((await send(running.port, { path: "/healthz", headers: { host: `localhost:${running.port}` } })).status, 401);
  t.is((await send(running.port, { path: "/healthz", headers: { host: `localhost:${running.port}`, authorization: `Bearer ${token}` } })).status, 200);
  t.false(running.stderr().includes(token), "the token is never logged");
  running.child.kill("SIGTERM");
  t.is(await running.exited, 0);
});

test("a bad configuration exits 1 with the reason on stderr", async (t) => {
  const home = tempHome(t);
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH, DEPLOYSTACK_HOME: home, DEPLOYSTACK_FRONTEND_CONFIG: JSON.stringify({ host: "0.0.0.0", port: 0 }) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  let stdout = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  const code = await new Promise<number | null>((resolveExit) => child.once("exit", resolveExit));
  t.is(code, 1);
  t.regex(stderr, /"host" must be a loopback address/);
  t.is(stdout, "");
});
