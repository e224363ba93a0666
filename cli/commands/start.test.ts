import test from "ava";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { statePaths, type StatePaths } from "../../shared/paths.js";
import { runVerb } from "../dial.js";
import { createCapturedIo } from "../io.js";
import { createFakeDaemonState, fakeDaemonRoutes } from "../testing/fake-services.js";
import { serveOnSocket } from "../testing/socket-server.js";
import { daemonArguments, startDaemon } from "./start.js";

function tempHome(t: { teardown(fn: () => void): void }): StatePaths {
  const home = mkdtempSync(join(tmpdir(), "dsgw-"));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  return statePaths(home);
}

/** Writes a stand-in daemon program (plain Node, no imports). */
function fakeDaemon(paths: StatePaths, source: string): string {
  const path = join(paths.home, "fake-daemon.mjs");
  writeFileSync(path, source);
  return path;
}

test("daemon arguments follow the agreed contract, with --config made absolute", (t) => {
  t.deepEqual(daemonArguments({}, "/work"), []);
  t.deepEqual(daemonArguments({ config: "team.yaml", port: 0, controlListen: "127.0.0.1:9096" }, "/work"), [
    "--config",
    "/work/team.yaml",
    "--port",
    "0",
    "--control-listen",
    "127.0.0.1:9096",
  ]);
  t.deepEqual(daemonArguments({ config: "/abs/team.yaml" }, "/work"), ["--config", "/abs/team.yaml"]);
});

test("start refuses when a daemon already answers on the socket", async (t) => {
  const paths = tempHome(t);
  mkdirSync(paths.runDir, { recursive: true, mode: 0o700 });
  const server = await serveOnSocket(paths.controlSocket, fakeDaemonRoutes(createFakeDaemonState()));
  t.teardown(() => server.close());
  const io = createCapturedIo();
  const code = await runVerb(io, paths.controlSocket, () => startDaemon({}, io, { paths, daemonEntry: "/nonexistent" }));
  t.is(code, 1);
  t.is(io.err(), `a gateway daemon is already running at ${paths.controlSocket} (pid 1234); \`dsctl stop\` stops it\n`);
});

test("a daemon that dies during start-up: exit 1 and the last lines of its start log", async (t) => {
  const paths = tempHome(t);
  const entry = fakeDaemon(
    paths,
    `process.stderr.write("args " + JSON.stringify(process.argv.slice(2)) + " home " + process.env.DEPLOYSTACK_HOME + " detached " + process.env.DEPLOYSTACK_DETACHED + "\\n");
process.stderr.write("team.yaml:3:5: teams[0].id: required\\n");
process.exit(3);
`,
  );
  writeFileSync(join(paths.home, "team.yaml"), "");
  const io = createCapturedIo();
  const code = await runVerb(io, paths.controlSocket, () =>
    startDaemon({ config: "team.yaml", port: 0 }, io, { paths, daemonEntry: entry, cwd: paths.home, pollMs: 50 }),
  );
  t.is(code, 1);
  const logPath = join(paths.logsDir, "daemon-start.log");
  t.is(
    io.err(),
    `the gateway daemon exited during start-up (code 3); the last lines of ${logPath}:\n` +
      `  args ["--config","${join(paths.home, "team.yaml")}","--port","0"] home ${paths.home} detached 1\n` +
      "  team.yaml:3:5: teams[0].id: required\n",
  );
  t.is(statSync(logPath).mode & 0o777, 0o600);
  t.is(statSync(paths.logsDir).mode & 0o777, 0o700);

  // A second failed start shows only its own lines, though the log keeps both.
  const again = createCapturedIo();
  await runVerb(again, paths.controlSocket, () => startDaemon({}, again, { paths, daemonEntry: entry, pollMs: 50 }));
  t.regex(again.err(), /\n {2}args \[\] home /);
  t.notRegex(again.err(), /--config/);
  t.is(readFileSync(logPath, "utf8").split("\n").filter((line) => line.startsWith("args")).length, 2);
});

test("a daemon that never answers: a clear timeout, not a hang", async (t) => {
  const paths = tempHome(t);
  const pidFile = join(paths.home, "fake.pid");
  const entry = fakeDaemon(paths, `import { writeFileSync } from "node:fs";\nwriteFileSync(${JSON.stringify(pidFile)}, String(process.pid));\nsetTimeout(() => {}, 60_000);\n`);
  t.teardown(() => {
    try {
      process.kill(Number(readFileSync(pidFile, "utf8")), "SIGKILL");
    } catch {
      // already gone
    }
  });
  const io = createCapturedIo();
  const code = await runVerb(io, paths.controlSocket, () =>
    startDaemon({}, io, { paths, daemonEntry: entry, readyTimeoutMs: 300, pollMs: 50 }),
  );
  t.is(code, 1);
  t.is(io.err(), `the gateway daemon has not answered at ${paths.controlSocket} yet; see ${join(paths.logsDir, "daemon-start.log")} and \`dsctl status\`\n`);
});

test("a missing daemon program is reported", async (t) => {
  const paths = tempHome(t);
  const io = createCapturedIo();
  t.is(await runVerb(io, paths.controlSocket, () => startDaemon({}, io, { paths, daemonEntry: join(paths.home, "nope.js") })), 1);
  t.is(io.err(), `the daemon program ${join(paths.home, "nope.js")} is missing; run \`npm run build\`\n`);
});

test("--foreground exits with the daemon's exit code", async (t) => {
  const paths = tempHome(t);
  const entry = fakeDaemon(paths, "process.exit(process.env.DEPLOYSTACK_DETACHED === undefined ? 7 : 8);\n");
  const io = createCapturedIo();
  t.is(await startDaemon({ foreground: true }, io, { paths, daemonEntry: entry, env: { ...process.env, DEPLOYSTACK_DETACHED: "1" } }), 7);
});
