import test from "ava";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { statePaths, type StatePaths } from "../shared/paths.js";
import { unreachableMessage } from "./dial.js";
import { createCapturedIo, type CapturedIo } from "./io.js";
import { createProgram } from "./program.js";
import { createFakeDaemonState, fakeDaemonRoutes, type FakeDaemonState } from "./testing/fake-services.js";
import { serveOnSocket } from "./testing/socket-server.js";

function tempHome(t: { teardown(fn: () => void): void }): StatePaths {
  const home = mkdtempSync(join(tmpdir(), "dsgw-"));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  return statePaths(home);
}

/** Runs one dsctl command line in-process; returns its exit code and output. */
async function dsctl(paths: StatePaths, ...argv: string[]): Promise<{ code: number; io: CapturedIo }> {
  const io = createCapturedIo();
  let code = 0;
  const program = createProgram({
    io,
    paths,
    stdin: new PassThrough(),
    stdout: new PassThrough(),
    setExitCode: (value) => (code = value),
    interrupt: () => new AbortController().signal,
    throwOnUsageError: true,
  });
  await program.parseAsync(argv, { from: "user" });
  return { code, io };
}

async function withFakeDaemon(t: { teardown(fn: () => Promise<void> | void): void }, paths: StatePaths): Promise<FakeDaemonState> {
  mkdirSync(paths.runDir, { recursive: true, mode: 0o700 });
  const state = createFakeDaemonState();
  const server = await serveOnSocket(paths.controlSocket, fakeDaemonRoutes(state));
  t.teardown(() => server.close());
  return state;
}

test("with no daemon, every verb prints the one-line hint and exits 1", async (t) => {
  const paths = tempHome(t);
  for (const argv of [["status"], ["stop"], ["servers", "list"], ["servers", "logs", "x", "-f"], ["tools", "list", "--json"]]) {
    const { code, io } = await dsctl(paths, ...argv);
    t.is(code, 1, argv.join(" "));
    t.is(io.err(), `cannot reach the gateway daemon at ${paths.controlSocket} — is it running? try \`dsctl start\`\n`, argv.join(" "));
    t.is(io.out(), "");
  }
});

test("a stale socket path (a file nobody listens on) gets the same hint", async (t) => {
  const paths = tempHome(t);
  mkdirSync(paths.runDir, { recursive: true });
  writeFileSync(paths.controlSocket, "");
  const { code, io } = await dsctl(paths, "status");
  t.is(code, 1);
  t.is(io.err(), `${unreachableMessage(paths.controlSocket)}\n`);
});

test("the built dsctl prints the hint without a stack trace and exits 1", (t) => {
  const main = new URL("../dist/cli/main.js", import.meta.url);
  if (!existsSync(main)) {
    t.fail("dist/cli/main.js is missing: run `npm run build` first");
    return;
  }
  const paths = tempHome(t);
  const result = spawnSync(process.execPath, [main.pathname, "servers", "list"], {
    env: { ...process.env, DEPLOYSTACK_HOME: paths.home, DSCTL_DEBUG: "" },
    encoding: "utf8",
  });
  t.is(result.status, 1);
  t.is(result.stdout, "");
  t.is(result.stderr, `${unreachableMessage(paths.controlSocket)}\n`);
});

test("over a real socket: status, servers list --json, get, disable", async (t) => {
  const paths = tempHome(t);
  const state = await withFakeDaemon(t, paths);
  const status = await dsctl(paths, "status", "--json");
  t.is(status.code, 0);
  t.like(JSON.parse(status.io.out()), { version: "9.9.9", mcpUrl: "http://localhost:9095/mcp" });

  const list = await dsctl(paths, "servers", "list", "--json");
  t.deepEqual(
    (JSON.parse(list.io.out()) as { servers: { name: string }[] }).servers.map((s) => s.name),
    ["everything", "memory"],
  );
  const missing = await dsctl(paths, "servers", "get", "nope");
  t.is(missing.code, 1);
  t.is(missing.io.err(), 'server "nope" not found\n');

  const disable = await dsctl(paths, "servers", "disable", "memory");
  t.is(disable.code, 0);
  t.is(disable.io.out(), 'server "memory" disabled (STOPPED)\n');
  t.false(state.servers.get("memory")!.enabled);
});

test("stop asks for shutdown and returns once the socket stops answering", async (t) => {
  const paths = tempHome(t);
  mkdirSync(paths.runDir, { recursive: true, mode: 0o700 });
  const state = createFakeDaemonState();
  let server: Awaited<ReturnType<typeof serveOnSocket>> | undefined;
  const routes = fakeDaemonRoutes(state);
  server = await serveOnSocket(paths.controlSocket, routes);
  t.teardown(() => server?.close());
  // The fake "daemon" goes away a little after the shutdown request, as the real one does.
  const watcher = setInterval(() => {
    if (state.shutdownRequested && server) {
      const closing = server;
      server = undefined;
      void closing.close();
      clearInterval(watcher);
    }
  }, 20);
  t.teardown(() => clearInterval(watcher));
  const { code, io } = await dsctl(paths, "stop");
  t.true(state.shutdownRequested);
  t.is(code, 0, io.err());
  t.is(io.out(), "gateway stopped (pid 1234)\n");
  t.is((await dsctl(paths, "status")).code, 1);
});

test("usage errors are reported by commander with a non-zero exit", async (t) => {
  const paths = tempHome(t);
  const error = await t.throwsAsync(dsctl(paths, "servers", "logs", "x", "-n", "many"));
  t.regex(error!.message, /expected a non-negative whole number/);
});
