import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { statePaths } from "../../shared/paths.js";
import { fixtureServer, isAlive, normalServer, repoRoot, tempHome, waitUntil, writeTeamFile } from "./helpers/daemon-process.js";
import { livingDescendants } from "./helpers/process-tree.js";

// dsctl end to end: the built CLI (`dist/cli/main.js`) drives the built daemon it starts
// itself (`dsctl start`, detached) in a temporary DEPLOYSTACK_HOME, through every verb,
// with --json, the stdio bridge under the MCP SDK's stdio client, and `dsctl stop`
// leaving nothing running.

const cliMain = join(repoRoot, "dist/cli/main.js");
const CANARY = "dsctl-canary-5b2e91";

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Everything every dsctl run printed, to check that the canary never appears. */
const transcript: string[] = [];

function dsctl(home: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliMain, ...args], {
      env: { ...process.env, DEPLOYSTACK_HOME: home },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.once("error", reject);
    child.once("close", (code) => {
      transcript.push(stdout, stderr);
      resolve({ code, stdout, stderr });
    });
  });
}

async function json<T>(home: string, ...args: string[]): Promise<T> {
  const run = await dsctl(home, ...args, "--json");
  if (run.code !== 0) throw new Error(`dsctl ${args.join(" ")} failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}

interface ServerJson {
  name: string;
  state?: string;
  pid?: number;
}

async function serverStates(home: string): Promise<Map<string, ServerJson>> {
  const { servers } = await json<{ servers: ServerJson[] }>(home, "servers", "list");
  return new Map(servers.map((server) => [server.name, server]));
}

/** Stops whatever the test started, even when it failed half-way. */
function cleanUp(t: ExecutionContext, home: string, pids: Set<number>): void {
  t.teardown(async () => {
    await dsctl(home, "stop");
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone, as it should be
      }
    }
  });
}

test.serial("dsctl drives a daemon it started: status, servers, logs, tools, stdio, stop", async (t) => {
  const home = tempHome(t);
  const pids = new Set<number>();
  cleanUp(t, home, pids);
  const config = writeTeamFile(home, [normalServer("alpha"), { name: "beta", args: [fixtureServer("env-dump.mjs")], env: { API_TOKEN: CANARY } }]);

  const started = await dsctl(home, "start", "--config", config, "--port", "0");
  t.is(started.code, 0, started.stderr);
  const daemonPid = Number(/gateway started \(pid (\d+)\)/.exec(started.stdout)?.[1]);
  pids.add(daemonPid);
  t.true(daemonPid > 0);
  t.regex(started.stdout, /\n {2}mcp {5}http:\/\/localhost:\d+\/mcp\n/);
  t.regex(started.stdout, /\n {2}sse {5}http:\/\/localhost:\d+\/sse\n/);
  t.true(started.stdout.includes(`  socket  ${statePaths(home).controlSocket}\n`));

  const second = await dsctl(home, "start", "--config", config);
  t.is(second.code, 1);
  t.is(second.stderr, `a gateway daemon is already running at ${statePaths(home).controlSocket} (pid ${daemonPid}); \`dsctl stop\` stops it\n`);

  const status = await json<{ pid: number; configPath: string; mcpUrl: string; configSource: string; team: { id: string } }>(home, "status");
  t.is(status.pid, daemonPid);
  t.is(status.configPath, config);
  t.is(status.configSource, "CONFIG_SOURCE_FILE");
  t.is(status.team.id, "e2e");
  t.regex(status.mcpUrl, /^http:\/\/localhost:\d+\/mcp$/);
  const human = await dsctl(home, "status");
  t.regex(human.stdout, new RegExp(`^gateway +running \\(version [^,]+, pid ${daemonPid}, up `));

  t.true(
    await waitUntil(async () => {
      const states = await serverStates(home);
      return [...states.values()].every((server) => server.state === "SERVER_STATE_RUNNING");
    }, 90_000),
    "both servers reach RUNNING",
  );
  for (const pid of livingDescendants(daemonPid)) pids.add(pid);

  const table = await dsctl(home, "servers", "list");
  t.is(table.code, 0);
  const rows = table.stdout.trimEnd().split("\n");
  t.regex(rows[0], /^NAME +STATE +ENABLED +PID +UPTIME +RESTARTS +TOOLS +ERA +LAST ERROR$/);
  t.regex(rows[1], /^alpha +RUNNING +yes +\d+ /);
  t.regex(rows[2], /^beta +RUNNING +yes +\d+ /);

  const beta = await dsctl(home, "servers", "get", "beta");
  t.regex(beta.stdout, /\nenv +API_TOKEN\n/);
  const missing = await dsctl(home, "servers", "get", "nope");
  t.is(missing.code, 1);
  t.is(missing.stderr, 'server "nope" not found\n');

  // The env-dump server prints its environment; the secret comes out masked.
  t.true(await waitUntil(async () => (await dsctl(home, "servers", "logs", "beta")).stdout.includes("env-dump: done"), 30_000));
  const logs = await dsctl(home, "servers", "logs", "beta");
  t.regex(logs.stdout, /stderr +API_TOKEN=\S+\n/);
  const jsonLogs = (await dsctl(home, "servers", "logs", "beta", "-n", "3", "--json")).stdout.trimEnd().split("\n");
  t.is(jsonLogs.length, 3);
  for (const line of jsonLogs) t.is(typeof (JSON.parse(line) as { line: { text: string } }).line.text, "string");

  const alphaPid = (await serverStates(home)).get("alpha")!.pid!;
  const disabled = await dsctl(home, "servers", "disable", "alpha");
  t.is(disabled.stdout, 'server "alpha" disabled (STOPPED)\n');
  t.true(await waitUntil(() => !isAlive(alphaPid), 30_000), "the disabled server's process is gone");
  const enabled = await json<{ server: { name: string; enabled: boolean } }>(home, "servers", "enable", "alpha");
  t.like(enabled.server, { name: "alpha", enabled: true });
  t.true(await waitUntil(async () => (await serverStates(home)).get("alpha")?.state === "SERVER_STATE_RUNNING", 60_000));
  const restarted = await dsctl(home, "servers", "restart", "beta");
  t.is(restarted.code, 0, restarted.stderr);
  t.true(await waitUntil(async () => (await serverStates(home)).get("beta")?.state === "SERVER_STATE_RUNNING", 60_000));
  for (const pid of livingDescendants(daemonPid)) pids.add(pid);

  // Follow streams until Ctrl-C, then exits 0.
  const follow = spawn(process.execPath, [cliMain, "servers", "logs", "alpha", "-f"], { env: { ...process.env, DEPLOYSTACK_HOME: home } });
  let followed = "";
  follow.stdout.setEncoding("utf8").on("data", (chunk: string) => (followed += chunk));
  const followExit = new Promise<number | null>((resolve) => follow.once("close", (code) => resolve(code)));
  t.true(await waitUntil(() => followed.includes("supervisor"), 30_000), "follow printed the history");
  follow.kill("SIGINT");
  t.is(await followExit, 0);

  const tools = await json<{ tools: { name: string; server: string }[] }>(home, "tools", "list", "--server", "alpha");
  t.true(tools.tools.some((tool) => tool.name === "alpha-echo" && tool.server === "alpha"));
  t.true(tools.tools.every((tool) => tool.server === "alpha"));
  const call = await dsctl(home, "tools", "call", "alpha-echo", "--args", '{"text":"through the gateway"}');
  t.is(call.code, 0, call.stderr);
  t.deepEqual(JSON.parse(call.stdout), { content: [{ type: "text", text: "through the gateway" }] });
  const unknown = await dsctl(home, "tools", "call", "alpha-nope");
  t.is(unknown.code, 1);
  t.is(unknown.stderr.split("\n").length, 2, "one line");

  // dsctl stdio under the MCP SDK's own stdio client.
  const client = new Client({ name: "dsctl-e2e", version: "1.0.0" });
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [cliMain, "stdio"],
    env: { ...(process.env as Record<string, string>), DEPLOYSTACK_HOME: home },
    stderr: "pipe",
  });
  await client.connect(transport);
  try {
    const listed = await client.listTools();
    t.true(listed.tools.some((tool) => tool.name === "alpha-echo"));
    const echoed = await client.callTool({ name: "alpha-echo", arguments: { text: "over stdio" } });
    t.deepEqual(echoed.content, [{ type: "text", text: "over stdio" }]);
  } finally {
    await client.close();
  }

  const before = livingDescendants(daemonPid);
  for (const pid of before) pids.add(pid);
  const stopped = await dsctl(home, "stop");
  t.is(stopped.code, 0, stopped.stderr);
  t.is(stopped.stdout, `gateway stopped (pid ${daemonPid})\n`);
  const after = await dsctl(home, "status");
  t.is(after.code, 1);
  t.is(after.stderr, `cannot reach the gateway daemon at ${statePaths(home).controlSocket} — is it running? try \`dsctl start\`\n`);
  t.true(await waitUntil(() => [daemonPid, ...before].every((pid) => !isAlive(pid)), 60_000), "nothing the daemon started is left");

  t.false(transcript.join("\n").includes(CANARY), "the secret never appears in dsctl output");
});

test.serial("dsctl start with a bad team file: exit 1, the daemon's file:line:col reason", async (t) => {
  const home = tempHome(t);
  const pids = new Set<number>();
  cleanUp(t, home, pids);
  const config = join(home, "bad.yaml");
  writeFileSync(config, `teams:\n  - id: demo\n    servers:\n      - name: a\n        comand: node\n        env: { TOKEN: "${CANARY}" }\n`);
  const run = await dsctl(home, "start", "--config", config, "--port", "0");
  t.is(run.code, 1);
  t.regex(run.stderr, /^the gateway daemon exited during start-up \(code \d+\); the last lines of .*daemon-start\.log:\n/);
  t.true(run.stderr.includes(`${config}:4:9: teams[0].servers[0].command: required`), run.stderr);
  t.true(run.stderr.includes(`${config}:5:9: teams[0].servers[0].comand: unknown field (did you mean "command"?)`), run.stderr);
  t.false(run.stderr.includes(CANARY));
});

test.serial("dsctl start --foreground stays attached and Ctrl-C stops the daemon and its servers", async (t) => {
  const home = tempHome(t);
  const pids = new Set<number>();
  cleanUp(t, home, pids);
  const config = writeTeamFile(home, [normalServer("alpha")]);
  const child = spawn(process.execPath, [cliMain, "start", "--foreground", "--config", config, "--port", "0"], {
    env: { ...process.env, DEPLOYSTACK_HOME: home },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  t.teardown(() => {
    child.kill("SIGKILL");
  });

  t.true(
    await waitUntil(async () => (await serverStates(home).catch(() => new Map<string, ServerJson>())).get("alpha")?.state === "SERVER_STATE_RUNNING", 90_000),
    output,
  );
  const status = await json<{ pid: number }>(home, "status");
  pids.add(status.pid);
  const before = livingDescendants(status.pid);
  for (const pid of before) pids.add(pid);

  child.kill("SIGINT");
  t.is(await exited, 0, output);
  t.true(await waitUntil(() => [status.pid, ...before].every((pid) => !isAlive(pid)), 60_000), "nothing is left running");
  t.is((await dsctl(home, "status")).code, 1);
});
