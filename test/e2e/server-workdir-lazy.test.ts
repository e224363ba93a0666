import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import test from "ava";
import { ServerState } from "../../gen/deploystack/gateway/v1/server_pb.js";
import { fixtureServer, tempHome, waitForRunning, waitUntil } from "./helpers/daemon-process.js";
import { connectGatewayClient } from "./helpers/mcp-clients.js";
import { startControlPlaneGateway, writeTeamsFile } from "./helpers/control-plane-gateway.js";

/**
 * What a first-time user tripped over (issue 15, part 6), against a real daemon:
 * - a server whose script sits beside the team file and is named relatively (`args:
 *   ["local-server.mjs"]`) starts, because a server runs in the team file's folder unless
 *   `cwd` says otherwise (the daemon itself runs elsewhere);
 * - a `startup: lazy` server whose tools the cache knows is not started for discovery: it is
 *   IDLE after start-up with its tools listed, and the first call starts it.
 */

test("a relative script beside the team file starts: servers run in the team file's folder", async (t) => {
  const home = tempHome(t);
  const teamDir = join(home, "project");
  mkdirSync(teamDir);
  // A script of the user's own, found only relative to the team file's folder.
  writeFileSync(join(teamDir, "local-server.mjs"), `await import(${JSON.stringify(pathToFileURL(fixtureServer("normal-server.mjs")).href)});\n`);
  const configPath = writeTeamsFile(join(teamDir, "teams.json"), [
    { id: "local", servers: [{ name: "local", command: "node", args: ["local-server.mjs", "--name", "local"] }] },
  ]);
  const gateway = await startControlPlaneGateway(t, { configPath, home });
  t.not(process.cwd(), teamDir, "the daemon does not run in the team file's folder itself");
  await waitForRunning(gateway.daemon, ["local"]);
  const client = await connectGatewayClient({ mcpUrl: await gateway.mcpUrl(), sseUrl: "" }, "streamable");
  t.teardown(() => client.close().catch(() => undefined));
  const result = await client.client.callTool({ name: "local-echo", arguments: { text: "beside the file" } });
  t.like(result, { content: [{ type: "text", text: "beside the file" }] });
});

test("a lazy server with a warm tool cache is IDLE after start-up, its tools are listed, and the first call starts it", async (t) => {
  const home = tempHome(t);
  const server = (name: string, startup: "eager" | "lazy"): Record<string, unknown> => ({
    name,
    command: process.execPath,
    args: [fixtureServer("normal-server.mjs"), "--name", name],
    startup,
  });
  const configPath = writeTeamsFile(join(home, "teams.json"), [{ id: "lazy", servers: [server("eager", "eager"), server("sleepy", "lazy")] }]);

  // Cold cache: the lazy server is started once to learn its tools (documented in the README).
  const first = await startControlPlaneGateway(t, { configPath, home });
  await waitForRunning(first.daemon, ["eager", "sleepy"]);
  const cacheFile = join(home, "cache/teams/lazy/tools.json");
  t.true(
    await waitUntil(() => existsSync(cacheFile) && "sleepy" in ((JSON.parse(readFileSync(cacheFile, "utf8")) as { servers?: object }).servers ?? {}), 60_000),
    "the lazy server's tools were cached",
  );
  first.daemon.process.kill("SIGTERM");
  await first.daemon.exited;

  // Warm cache: no discovery start.
  const second = await startControlPlaneGateway(t, { configPath, home });
  await waitForRunning(second.daemon, ["eager"]);
  const sleepy = async () => (await second.daemon.clients.servers.getServer({ name: "sleepy" })).server;
  t.like(await sleepy(), { state: ServerState.IDLE, pid: 0 });
  const client = await connectGatewayClient({ mcpUrl: await second.mcpUrl(), sseUrl: "" }, "streamable");
  t.teardown(() => client.close().catch(() => undefined));
  const tools = (await client.client.listTools()).tools.map((tool) => tool.name);
  t.true(tools.includes("sleepy-echo"), "the cached tools are listed");
  t.like(await sleepy(), { state: ServerState.IDLE, pid: 0 }, "listing did not start it either");
  t.true(second.daemon.stderr().includes("tools known from the cache; starting on first use"));

  const result = await client.client.callTool({ name: "sleepy-echo", arguments: { text: "wake up" } });
  t.like(result, { content: [{ type: "text", text: "wake up" }] });
  const woken = await sleepy();
  second.daemon.track([woken?.pid ?? 0]);
  t.is(woken?.state, ServerState.RUNNING, "the first call started it");
  t.true((woken?.pid ?? 0) > 0);
});
