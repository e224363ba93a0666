import test from "ava";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { ProtocolEra, ServerState } from "../../gen/deploystack/gateway/v1/server_pb.js";
import { ServerService } from "../../gen/deploystack/gateway/v1/server_service_pb.js";
import { runVerb } from "../dial.js";
import { createCapturedIo } from "../io.js";
import { createFakeDaemonState, fakeDaemonRoutes } from "../testing/fake-services.js";
import { disableServer, enableServer, errorHeadline, getServer, listServers, restartServer, serverLogs } from "./servers.js";

function setup() {
  const state = createFakeDaemonState();
  const client = createClient(ServerService, createRouterTransport(fakeDaemonRoutes(state)));
  return { state, client, io: createCapturedIo() };
}

test("servers list prints an aligned table", async (t) => {
  const { client, io } = setup();
  t.is(await listServers(client, {}, io), 0);
  t.is(
    io.out(),
    [
      "NAME        STATE    ENABLED  PID   UPTIME  RESTARTS  TOOLS  ERA  LAST ERROR",
      "everything  RUNNING  yes      4242  5m 3s   1         16     -",
      "memory      FAILED   yes      -     -       5         0      -    exited with code 1: Error: boom",
      "",
    ].join("\n"),
  );
  t.is(io.err(), "");
});

test("servers list shows a hung server as UNHEALTHY with why", async (t) => {
  const { state, client, io } = setup();
  const everything = state.servers.get("everything")!;
  everything.state = ServerState.UNHEALTHY;
  everything.lastError = "stopped responding: no answer to a ping within 30s";
  t.is(await listServers(client, {}, io), 0);
  t.regex(io.out(), /\neverything +UNHEALTHY +yes .* stopped responding: no answer to a ping within 30s\n/);
  const json = createCapturedIo();
  await listServers(client, { json: true }, json);
  t.like((JSON.parse(json.out()) as { servers: Record<string, unknown>[] }).servers[0], { state: "SERVER_STATE_UNHEALTHY" });
});

test("the LAST ERROR column shows why a server exited at once: the stderr line that says it", (t) => {
  t.is(
    errorHeadline("exited with code 2\npython3: can't open file '/state/pyadd.py': [Errno 2] No such file or directory"),
    "exited with code 2: python3: can't open file '/state/pyadd.py': [Errno 2] No such file or directory",
  );
  const traceback = ["Traceback (most recent call last):", '  File "/x/add.py", line 1, in <module>', "    import nope", "ModuleNotFoundError: No module named 'nope'"];
  t.is(errorHeadline(`crash loop: 5 crashes within 60s; last: exited with code 1\n${traceback.join("\n")}`), "crash loop: 5 crashes within 60s; last: exited with code 1: ModuleNotFoundError: No module named 'nope'");
  t.is(errorHeadline("exited with code 1\nstarting up\n\n"), "exited with code 1: starting up", "no error-like line: the first one");
  t.is(errorHeadline("killed by SIGKILL"), "killed by SIGKILL");
  t.is(errorHeadline(""), "");
  t.is(errorHeadline(`exited with code 1\nError: ${"x".repeat(200)}`).length, 120);
});

test("servers list --json prints the response as proto JSON", async (t) => {
  const { client, io } = setup();
  t.is(await listServers(client, { json: true }, io), 0);
  const json = JSON.parse(io.out()) as { servers: Record<string, unknown>[] };
  t.is(json.servers.length, 2);
  t.like(json.servers[0], {
    name: "everything",
    state: "SERVER_STATE_RUNNING",
    enabled: true,
    pid: 4242,
    restarts: 1,
    uptime: "303s",
    toolCount: 16,
    transport: "SERVER_TRANSPORT_STDIO",
    startup: "STARTUP_MODE_EAGER",
    serverInfoName: "mcp-servers/everything",
  });
  t.like(json.servers[1], { name: "memory", state: "SERVER_STATE_FAILED", envNames: ["MEMORY_FILE_PATH"], lastError: "exited with code 1\nError: boom" });
  t.true(io.out().startsWith("{\n  "), "pretty printed");
});

test("servers get shows one server, env by name only", async (t) => {
  const { client, io } = setup();
  t.is(await getServer(client, { name: "memory" }, io), 0);
  t.regex(io.out(), /^name {9}memory\n/);
  t.regex(io.out(), /\nstate {8}FAILED\n/);
  t.regex(io.out(), /\nenv {10}MEMORY_FILE_PATH\n/);
  t.regex(io.out(), /\nstartup {6}lazy\n/);
  t.regex(io.out(), /\nlast error {3}exited with code 1\n {13}Error: boom\n$/);
});

test("servers get --json prints GetServerResponse", async (t) => {
  const { client, io } = setup();
  await getServer(client, { name: "everything", json: true }, io);
  t.like(JSON.parse(io.out()), { server: { name: "everything", state: "SERVER_STATE_RUNNING" } });
});

test("enable and disable print the new state and change it", async (t) => {
  const { client, io, state } = setup();
  t.is(await disableServer(client, { name: "everything" }, io), 0);
  t.false(state.servers.get("everything")!.enabled);
  t.is(await enableServer(client, { name: "everything" }, io), 0);
  t.is(io.out(), 'server "everything" disabled (STOPPED)\nserver "everything" enabled (STARTING)\n');
  const json = createCapturedIo();
  await disableServer(client, { name: "memory", json: true }, json);
  t.like(JSON.parse(json.out()), { server: { name: "memory", state: "SERVER_STATE_STOPPED" } });
});

test("a daemon error is one line on stderr and exit 1", async (t) => {
  const { client, io } = setup();
  t.is(await runVerb(io, "/sock", () => getServer(client, { name: "nope" }, io)), 1);
  t.is(io.err(), 'server "nope" not found\n');
  t.is(io.out(), "");
});

test("an unimplemented RPC prints the server's message and exits 1", async (t) => {
  const { client, io } = setup();
  t.is(await runVerb(io, "/sock", () => restartServer(client, { name: "memory" }, io)), 1);
  t.is(io.err(), "deploystack.gateway.v1.ServerService.RestartServer is not implemented yet\n");
});

test("servers logs prints the tail", async (t) => {
  const { client, io } = setup();
  t.is(await serverLogs(client, { name: "everything", tail: 2 }, io), 0);
  t.is(io.out(), "2026-01-01T00:00:00.000Z stderr     line two\n2026-01-01T00:00:01.000Z stderr     line three\n");
});

test("servers logs --json prints one proto JSON message per line", async (t) => {
  const { client, io } = setup();
  await serverLogs(client, { name: "everything", json: true }, io);
  const lines = io.out().trimEnd().split("\n").map((line) => JSON.parse(line) as unknown);
  t.deepEqual(lines[0], { line: { time: "2026-01-01T00:00:00Z", source: "LOG_SOURCE_STDERR", text: "line one" } });
  t.is(lines.length, 3);
});

test("servers logs -f streams until interrupted, then exits 0 and ends the server's stream", async (t) => {
  const { client, io, state } = setup();
  const controller = new AbortController();
  const ended = new Promise<void>((resolve) => (state.followEnded = resolve));
  const run = serverLogs(client, { name: "everything", follow: true, signal: controller.signal }, io);
  while (!io.out().includes("followed")) await new Promise((resolve) => setTimeout(resolve, 10));
  controller.abort();
  t.is(await run, 0);
  await ended;
  t.regex(io.out(), /supervisor followed\n$/);
});

test("servers get and list show the era the server speaks", async (t) => {
  const { state, client, io } = setup();
  const everything = state.servers.get("everything")!;
  everything.protocolEra = ProtocolEra.MODERN;
  everything.protocolVersion = "2026-07-28";
  t.is(await getServer(client, { name: "everything" }, io), 0);
  t.regex(io.out(), /\nera {10}modern\nprotocol {5}2026-07-28\n/);
  const table = createCapturedIo();
  await listServers(client, {}, table);
  t.regex(table.out(), /\neverything +RUNNING +yes +4242 +5m 3s +1 +16 +modern\n/);
});
