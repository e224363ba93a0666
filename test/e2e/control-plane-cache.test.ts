import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import { ServerState } from "../../gen/deploystack/gateway/v1/server_pb.js";
import { fixtureServer, tempHome, waitForRunning, waitUntil } from "./helpers/daemon-process.js";
import { connectGatewayClient } from "./helpers/mcp-clients.js";
import { startControlPlaneGateway, writeTeamsFile } from "./helpers/control-plane-gateway.js";

/**
 * The start-up tool cache (issue 4, "instant start-up"), end to end: a first daemon discovers
 * two servers and saves their tool lists; a second daemon on the same state folder — with
 * servers that now take 12 s to answer `initialize` — answers `tools/list` over Streamable
 * HTTP with the full list while both servers are still STARTING, and a call to a cached
 * tool waits for its server and succeeds.
 */

const SECRET = "cache-canary-5f1e0c";

test("a second start serves the cached tool list before the servers are ready; a call waits for its server", async (t) => {
  const home = tempHome(t);
  const delayFile = join(home, "init-delay-ms");
  writeFileSync(delayFile, "0");
  const slow = (name: string, tools: number): Record<string, unknown> => ({
    name,
    command: process.execPath,
    args: [fixtureServer("slow-init.mjs"), "--name", name, "--tools", String(tools), "--delay-file", delayFile],
    env: { SLOW_API_TOKEN: SECRET },
  });
  const configPath = writeTeamsFile(join(home, "teams.json"), [{ id: "cached", servers: [slow("slowa", 3), slow("slowb", 2)] }]);
  const expected = ["slowa-echo", "slowa-tool_0", "slowa-tool_1", "slowa-tool_2", "slowb-echo", "slowb-tool_0", "slowb-tool_1"];
  const args = ["--server-wait", "120s"];

  const first = await startControlPlaneGateway(t, { configPath, home, args });
  await waitForRunning(first.daemon, ["slowa", "slowb"]);
  const cacheFile = join(home, "cache/teams/cached/tools.json");
  t.true(
    await waitUntil(() => {
      if (!existsSync(cacheFile)) return false;
      const servers = (JSON.parse(readFileSync(cacheFile, "utf8")) as { servers?: Record<string, unknown> }).servers ?? {};
      return "slowa" in servers && "slowb" in servers;
    }, 60_000),
    "the discovered lists were saved",
  );
  t.false(readFileSync(cacheFile, "utf8").includes(SECRET), "the cache holds a keyed fingerprint, never an env value");
  first.daemon.process.kill("SIGTERM");
  await first.daemon.exited;

  writeFileSync(delayFile, "12000");
  const second = await startControlPlaneGateway(t, { configPath, home, args });
  const client = await connectGatewayClient({ mcpUrl: await second.mcpUrl(), sseUrl: "" }, "streamable");
  t.teardown(() => client.close().catch(() => undefined));
  const listed = (await client.client.listTools()).tools.map((tool) => tool.name).sort();
  const { servers } = await second.daemon.clients.servers.listServers({});
  second.daemon.track(servers.map((server) => server.pid));
  t.deepEqual(listed, expected, "the full list, from the cache");
  // With a warm cache the servers are spawned a moment after the frontend listens: not yet, or still starting.
  t.deepEqual(
    servers.map((server) => [server.name, server.state === ServerState.STOPPED || server.state === ServerState.STARTING]),
    [
      ["slowa", true],
      ["slowb", true],
    ],
    "…answered while no server had finished starting",
  );

  const result = await client.client.callTool({ name: "slowb-echo", arguments: { text: "worth the wait" } }, undefined, { timeout: 120_000 });
  t.deepEqual(result.content, [{ type: "text", text: "worth the wait" }]);
  t.is((await second.daemon.clients.servers.getServer({ name: "slowb" })).server?.state, ServerState.RUNNING);
});
