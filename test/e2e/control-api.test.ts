import test from "ava";
import { Code, ConnectError } from "@connectrpc/connect";
import { ConfigSource } from "../../gen/deploystack/gateway/v1/gateway_pb.js";
import { LogSource, ServerState, StartupMode } from "../../gen/deploystack/gateway/v1/server_pb.js";
import { isAlive, normalServer, startDaemon, waitForRunning, waitUntil } from "./helpers/daemon-process.js";

// The control API end to end: the real daemon, real fixture servers, the generated Connect
// client over the unix socket.

test("GetStatus reports the daemon, its team and its servers", async (t) => {
  const daemon = await startDaemon(t, { servers: [normalServer("alpha"), normalServer("beta")] });
  await waitForRunning(daemon, ["alpha", "beta"]);
  const status = await daemon.clients.gateway.getStatus({});
  t.is(status.pid, daemon.pid);
  t.regex(status.version, /^\d+\.\d+\.\d+/);
  t.is(status.team?.id, "e2e");
  t.true(status.team?.isCurrent);
  t.is(status.configSource, ConfigSource.FILE);
  t.is(status.controlSocket, daemon.paths.controlSocket);
  t.is(status.home, daemon.home);
  t.is(status.servers?.total, 2);
  t.is(status.servers?.running, 2);
  t.true((status.servers?.tools ?? 0) >= 10);
  t.truthy(status.startTime);
  t.truthy(status.uptime);
  if (status.frontendRunning) {
    t.regex(status.mcpUrl, /^http:\/\/localhost:\d+\/mcp$/);
    t.regex(status.sseUrl, /^http:\/\/localhost:\d+\/sse$/);
  }
});

test("ListServers, GetServer, DisableServer, EnableServer and RestartServer drive real processes", async (t) => {
  const daemon = await startDaemon(t, { servers: [normalServer("alpha"), normalServer("beta", { SOME_SETTING: "x" })] });
  const pids = await waitForRunning(daemon, ["alpha", "beta"]);
  const { servers } = daemon.clients;

  const list = await servers.listServers({});
  t.deepEqual(
    list.servers.map((server) => server.name),
    ["alpha", "beta"],
  );
  const beta = (await servers.getServer({ name: "beta" })).server;
  t.is(beta?.state, ServerState.RUNNING);
  t.is(beta?.command.endsWith("node"), true);
  t.deepEqual(beta?.envNames, ["SOME_SETTING"]);
  t.is(beta?.startup, StartupMode.EAGER);
  t.is(beta?.serverInfoName, "beta");
  t.true((beta?.toolCount ?? 0) >= 5);
  t.truthy(beta?.startTime);

  const notFound = ConnectError.from(await t.throwsAsync(servers.getServer({ name: "gamma" })));
  t.is(notFound.code, Code.NotFound);
  t.regex(notFound.rawMessage, /"gamma"/);

  const disabled = (await servers.disableServer({ name: "alpha" })).server;
  t.is(disabled?.state, ServerState.STOPPED);
  t.false(disabled?.enabled);
  t.is(disabled?.pid, 0);
  const alphaPid = pids.get("alpha") ?? 0;
  t.true(await waitUntil(() => !isAlive(alphaPid)), "the disabled server's process is gone");

  const enabled = (await servers.enableServer({ name: "alpha" })).server;
  t.true(enabled?.enabled);
  const afterEnable = await waitForRunning(daemon, ["alpha"]);
  t.not(afterEnable.get("alpha"), alphaPid);

  const betaPid = pids.get("beta") ?? 0;
  await servers.restartServer({ name: "beta" });
  const afterRestart = await waitForRunning(daemon, ["beta"]);
  t.not(afterRestart.get("beta"), betaPid);
  t.is((await servers.getServer({ name: "beta" })).server?.restarts, 0);
});

test("StreamServerLogs sends the tail, follows new lines, and ends cleanly on cancel", async (t) => {
  const daemon = await startDaemon(t, { servers: [normalServer("alpha")] });
  await waitForRunning(daemon, ["alpha"]);
  const { servers } = daemon.clients;

  const all: string[] = [];
  for await (const message of servers.streamServerLogs({ name: "alpha" })) all.push(message.line?.text ?? "");
  t.true(all.some((line) => /normal server \d+ starting/.test(line)), all.join("\n"));

  const tail: { text: string; source: LogSource }[] = [];
  for await (const message of servers.streamServerLogs({ name: "alpha", tailLines: 1 })) {
    tail.push({ text: message.line?.text ?? "", source: message.line?.source ?? LogSource.UNSPECIFIED });
  }
  t.is(tail.length, 1);
  t.is(tail[0].text, all[all.length - 1]);

  // Follow: a restart writes supervisor lines and the new process's stderr.
  const controller = new AbortController();
  const followed: string[] = [];
  const following = (async () => {
    try {
      for await (const message of servers.streamServerLogs({ name: "alpha", tailLines: 1, follow: true }, { signal: controller.signal })) {
        followed.push(message.line?.text ?? "");
        if (followed.length > 1 && /normal server \d+ starting/.test(message.line?.text ?? "")) controller.abort();
      }
      return "ended";
    } catch (error) {
      return ConnectError.from(error).code === Code.Canceled ? "cancelled" : String(error);
    }
  })();
  await waitUntil(() => followed.length >= 1);
  await servers.restartServer({ name: "alpha" });
  const outcome = await following;
  t.is(outcome, "cancelled");
  t.true(followed.length >= 2);
  // The daemon is still healthy after the cancelled stream.
  t.is((await servers.getServer({ name: "alpha" })).server?.name, "alpha");
});

test("WatchEvents streams the state changes of a restart", async (t) => {
  const daemon = await startDaemon(t, { servers: [normalServer("alpha")] });
  await waitForRunning(daemon, ["alpha"]);
  const controller = new AbortController();
  const states: ServerState[] = [];
  let sawPrevious = false;
  const watching = (async () => {
    try {
      for await (const message of daemon.clients.gateway.watchEvents({}, { signal: controller.signal })) {
        if (message.event?.kind.case !== "serverStateChanged") continue;
        const change = message.event.kind.value;
        if (change.server?.name !== "alpha") continue;
        states.push(change.server.state);
        if (change.previousState !== ServerState.UNSPECIFIED) sawPrevious = true;
        if (states.includes(ServerState.STOPPED) && change.server.state === ServerState.RUNNING) controller.abort();
      }
    } catch (error) {
      if (ConnectError.from(error).code !== Code.Canceled) throw error;
    }
  })();
  // The stream has no "subscribed" message: disable until a change is seen, then enable.
  await waitUntil(async () => {
    await daemon.clients.servers.disableServer({ name: "alpha" });
    await new Promise((r) => setTimeout(r, 300));
    if (states.length > 0) return true;
    await daemon.clients.servers.enableServer({ name: "alpha" });
    await waitForRunning(daemon, ["alpha"]);
    return false;
  });
  await daemon.clients.servers.enableServer({ name: "alpha" });
  await watching;
  t.true(states.includes(ServerState.STOPPED));
  t.true(states.includes(ServerState.STARTING));
  t.is(states[states.length - 1], ServerState.RUNNING);
  t.true(sawPrevious);
});
