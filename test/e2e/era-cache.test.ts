import { readFileSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import { ProtocolEra } from "../../gen/deploystack/gateway/v1/server_pb.js";
import { fixtureServer, startDaemon, tempHome, waitForRunning, waitUntil, type DaemonProcess } from "./helpers/daemon-process.js";

/**
 * A server's era survives a daemon restart (issue 11 §3): the first start of a legacy server probes it with
 * `server/discover` (which `legacy-fragile` answers by exiting, so it is started again as legacy), the tool cache
 * keeps the era beside the catalog, and after a restart of the daemon the same configuration is started as legacy
 * at once: the server receives no `server/discover` (it logs any request before `initialize` on stderr) and is
 * started only once.
 */

const PROBE_LINE = "legacy-fragile: server/discover before initialize";

async function logText(daemon: DaemonProcess, name: string): Promise<string> {
  const lines: string[] = [];
  for await (const message of daemon.clients.servers.streamServerLogs({ name })) lines.push(message.line?.text ?? "");
  return lines.join("\n");
}

function cachedEra(home: string): unknown {
  try {
    const file = JSON.parse(readFileSync(join(home, "cache/teams/e2e/tools.json"), "utf8")) as { servers: Record<string, { era?: unknown }> };
    return file.servers.fragile?.era;
  } catch {
    return undefined;
  }
}

test("the era detected on the first start is kept in the tool cache and skips the probe after a daemon restart", async (t) => {
  const home = tempHome(t);
  const servers = [{ name: "fragile", args: [fixtureServer("legacy-fragile.mjs"), "--before-init", "exit"] }];

  const first = await startDaemon(t, { home, servers });
  first.track((await waitForRunning(first, ["fragile"])).values());
  t.true(await waitUntil(async () => (await logText(first, "fragile")).includes(PROBE_LINE), 30_000), "the first start probes (and costs the server its start)");
  t.is((await first.clients.servers.getServer({ name: "fragile" })).server?.protocolEra, ProtocolEra.LEGACY);
  t.true(await waitUntil(() => cachedEra(home) === "legacy", 30_000), "the era is saved with the catalog");
  first.process.kill("SIGTERM");
  await first.exited;

  const second = await startDaemon(t, { home, servers });
  second.track((await waitForRunning(second, ["fragile"])).values());
  const server = (await second.clients.servers.getServer({ name: "fragile" })).server;
  t.is(server?.protocolEra, ProtocolEra.LEGACY);
  t.is(server?.restarts, 0);
  const logs = await logText(second, "fragile");
  t.false(logs.includes("server/discover"), `no probe after the restart:\n${logs}`);
  t.false(logs.includes("probe cost"), "started once, as legacy");
  const { tools } = await second.clients.mcp.listTools({ server: "fragile" });
  t.true(tools.some((tool) => tool.name === "fragile-echo"));
  const called = await (async () => {
    for await (const message of second.clients.mcp.callTool({ name: "fragile-echo", arguments: { text: "hi" } })) {
      if (message.event.case === "result") return message.event.value;
    }
    return undefined;
  })();
  t.truthy(called, "the server serves calls");

  // A changed configuration is a new server: its era is probed again.
  second.process.kill("SIGTERM");
  await second.exited;
  const changed = [{ name: "fragile", args: [fixtureServer("legacy-fragile.mjs"), "--before-init", "exit", "--unused-flag"] }];
  const third = await startDaemon(t, { home, servers: changed });
  third.track((await waitForRunning(third, ["fragile"])).values());
  t.true(await waitUntil(async () => (await logText(third, "fragile")).includes(PROBE_LINE), 30_000), "a changed config is probed");
});
