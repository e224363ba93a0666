import { writeFileSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import { Client as ClientV2, StreamableHTTPClientTransport as StreamableHttpV2 } from "@modelcontextprotocol/client";
import { fixtureServer, tempHome, waitForRunning } from "./helpers/daemon-process.js";
import { connectGatewayClient } from "./helpers/mcp-clients.js";
import { startControlPlaneGateway, writeTeamsFile } from "./helpers/control-plane-gateway.js";

/**
 * Client-aware tool names end to end (issue "too many tools, names too long" §1): a real daemon
 * with a team whose server names and tool names are long and non-ASCII, and real SDK v1 clients
 * over /mcp that introduce themselves as the mainstream clients do. Every name a client lists
 * fits that client's rule with the entry name the gateway's snippets use (`deploystack`),
 * calling each listed name reaches the right tool, the gateway's own name works for every
 * client, and the names are the same after a daemon restart.
 */

const ENTRY = "deploystack";
const LONG_SERVER = "enterprise-database-management-and-reporting-service-eu-west";
const TOOLS = [
  "echo",
  "récupérer_les_données_de_tous_les_utilisateurs_du_système",
  "synchronize-all-customer-data-across-multiple-systems-now",
  "synchronize-all-customer-data-across-multiple-systems-later",
  "検索",
  "get_console_message",
];

/**
 * Each client's rule as docs/clients.md states it, written out here on purpose (not imported
 * from the daemon): the prefix the client adds for the entry, the total it accepts, and
 * whether the first character must be a letter or `_`.
 */
const CLIENTS: readonly { clientInfo: string; prefix: string; max: number; letterFirst?: true; unchanged?: true }[] = [
  { clientInfo: "claude-code", prefix: `mcp__${ENTRY}__`, max: 64 },
  { clientInfo: "claude-ai", prefix: "", max: 64, unchanged: true },
  { clientInfo: "cursor-vscode", prefix: `${ENTRY}_`, max: 60 },
  { clientInfo: "Visual Studio Code", prefix: `mcp_${ENTRY}_`, max: 64 },
  { clientInfo: "codex-mcp-client", prefix: `mcp__${ENTRY}__`, max: 64 },
  { clientInfo: "gemini-cli-mcp-client", prefix: `${ENTRY}__`, max: 63, letterFirst: true },
  { clientInfo: "windsurf-client", prefix: "", max: 64, unchanged: true },
  { clientInfo: "unknown-thing", prefix: `mcp__${ENTRY}__`, max: 63, letterFirst: true },
];

function namedTools(name: string): Record<string, unknown> {
  return { name, command: process.execPath, args: [fixtureServer("named-tools.mjs"), "--name", name, ...TOOLS.flatMap((tool) => ["--tool", tool])] };
}

test("every client lists names that fit its rule, every listed name and every gateway name calls the right tool, and names survive a restart", async (t) => {
  const home = tempHome(t);
  const configPath = writeTeamsFile(join(home, "teams.json"), [{ id: "names", servers: [namedTools(LONG_SERVER), namedTools("kb")] }]);
  const first = await startControlPlaneGateway(t, { configPath, home });
  first.daemon.track((await waitForRunning(first.daemon, [LONG_SERVER, "kb"])).values());

  // The gateway's own names (dsctl tools list), with the upstream tool each one is.
  const gatewayTools = (await first.daemon.clients.mcp.listTools({})).tools;
  t.is(gatewayTools.length, TOOLS.length * 2);
  const upstreamOf = new Map(gatewayTools.map((tool) => [tool.name, tool.description.replace(/^upstream tool /, "")]));
  t.true(gatewayTools.some((tool) => tool.name.length > 50), "some gateway names are long");

  const mcpUrl = await first.mcpUrl();
  const seen = new Map<string, string[]>();
  for (const client of CLIENTS) {
    const session = await connectGatewayClient({ mcpUrl, sseUrl: "" }, "streamable", { name: client.clientInfo });
    t.teardown(() => session.close().catch(() => undefined));
    const listed = (await session.client.listTools()).tools;
    t.is(listed.length, gatewayTools.length, client.clientInfo);
    const names = listed.map((tool) => tool.name);
    seen.set(client.clientInfo, names);
    t.is(new Set(names).size, names.length, `${client.clientInfo}: unique`);
    for (const tool of listed) {
      const full = `${client.prefix}${tool.name}`;
      t.regex(tool.name, /^[A-Za-z0-9_-]+$/, `${client.clientInfo}: ${tool.name}`);
      t.true(full.length <= client.max, `${client.clientInfo}: ${full} is ${full.length} > ${client.max}`);
      if (client.letterFirst) t.regex(tool.name, /^[A-Za-z_]/);
      // The description is the upstream's: it names the tool the call must reach.
      const upstream = (tool.description ?? "").replace(/^upstream tool /, "");
      const result = await session.client.callTool({ name: tool.name, arguments: {} });
      t.deepEqual(result.content, [{ type: "text", text: upstream }], `${client.clientInfo}: ${tool.name}`);
    }
    if (client.unchanged) t.deepEqual([...names].sort(), gatewayTools.map((tool) => tool.name).sort(), `${client.clientInfo}: the gateway's names already fit`);
    // The gateway's name works for this client too, whatever it was shown.
    for (const [gatewayName, upstream] of upstreamOf) {
      const result = await session.client.callTool({ name: gatewayName, arguments: {} });
      t.deepEqual(result.content, [{ type: "text", text: upstream }], `${client.clientInfo} calls ${gatewayName}`);
    }
    const unknown = await session.client.callTool({ name: "kb-no_such_tool", arguments: {} }).catch((error: Error) => error);
    t.true(unknown instanceof Error && /unknown tool/.test(unknown.message), String(unknown));
  }
  t.notDeepEqual(seen.get("claude-code"), seen.get("claude-ai"), "long names are shaped for Claude Code and left alone for Claude Desktop");

  // Second life on the same home: every client gets the same names.
  first.daemon.process.kill("SIGTERM");
  await first.daemon.exited;
  const second = await startControlPlaneGateway(t, { configPath, home });
  second.daemon.track((await waitForRunning(second.daemon, [LONG_SERVER, "kb"])).values());
  const secondUrl = await second.mcpUrl();
  for (const client of CLIENTS) {
    const session = await connectGatewayClient({ mcpUrl: secondUrl, sseUrl: "" }, "streamable", { name: client.clientInfo });
    t.teardown(() => session.close().catch(() => undefined));
    t.deepEqual((await session.client.listTools()).tools.map((tool) => tool.name), seen.get(client.clientInfo), `${client.clientInfo}: stable across restarts`);
  }
});

test("a server that later lists a tool under another tool's client name cannot take that name in the client's view", async (t) => {
  const home = tempHome(t);
  const squatter = { name: "squat", prefix: "", command: process.execPath, args: [fixtureServer("named-tools.mjs"), "--name", "squat", "--dynamic"] };
  const configPath = writeTeamsFile(join(home, "teams.json"), [{ id: "names", servers: [namedTools(LONG_SERVER), squatter] }]);
  const gateway = await startControlPlaneGateway(t, { configPath, home });
  gateway.daemon.track((await waitForRunning(gateway.daemon, [LONG_SERVER, "squat"])).values());
  const session = await connectGatewayClient({ mcpUrl: await gateway.mcpUrl(), sseUrl: "" }, "streamable", { name: "claude-code" });
  t.teardown(() => session.close().catch(() => undefined));
  const before = (await session.client.listTools()).tools;
  const victim = before.find((tool) => tool.description === `upstream tool ${TOOLS[2]}`)!;
  t.true(victim.name.length < 64 - `mcp__${ENTRY}__`.length + 1 && /_[0-9a-f]{6}$/.test(victim.name), `shortened for Claude Code: ${victim.name}`);

  // The squatter lists a tool whose gateway name is exactly the victim's Claude Code name.
  const changes = session.notifications("notifications/tools/list_changed").length;
  await session.client.callTool({ name: "add_tool", arguments: { name: victim.name } });
  t.true(await session.waitForNotifications("notifications/tools/list_changed", changes + 1));
  const after = (await session.client.listTools()).tools;
  t.is(after.length, before.length + 1);
  const stillVictim = after.find((tool) => tool.name === victim.name);
  t.is(stillVictim?.description, `upstream tool ${TOOLS[2]}`, "the name the client was given still lists the same tool");
  const called = await session.client.callTool({ name: victim.name, arguments: {} });
  t.deepEqual(called.content, [{ type: "text", text: TOOLS[2] }], "and calling it still reaches the long server's tool");
  const squatted = after.find((tool) => tool.description === `upstream tool ${victim.name}`)!;
  t.not(squatted.name, victim.name);
  t.regex(squatted.name, /^[A-Za-z0-9_-]+$/);
  const reached = await session.client.callTool({ name: squatted.name, arguments: {} });
  t.deepEqual(reached.content, [{ type: "text", text: victim.name }], "the squatter's tool is reached under its own client name");
  // Claude Desktop's names are the gateway's: there the squatter has its gateway name, the victim its own.
  const desktop = await connectGatewayClient({ mcpUrl: await gateway.mcpUrl(), sseUrl: "" }, "streamable", { name: "claude-ai" });
  t.teardown(() => desktop.close().catch(() => undefined));
  const desktopNames = (await desktop.client.listTools()).tools.map((tool) => tool.name);
  t.true(desktopNames.includes(victim.name));
  const desktopCall = await desktop.client.callTool({ name: victim.name, arguments: {} });
  t.deepEqual(desktopCall.content, [{ type: "text", text: victim.name }]);
});

test("on a profile's path the budget follows the profile's entry name (deploystack-<profile>), over Streamable HTTP and legacy SSE", async (t) => {
  const home = tempHome(t);
  const configPath = join(home, "team.json");
  writeFileSync(
    configPath,
    JSON.stringify({ teams: [{ id: "names", servers: [namedTools(LONG_SERVER)], profiles: { backoffice: { servers: [LONG_SERVER] } } }] }),
  );
  const gateway = await startControlPlaneGateway(t, { configPath, home });
  gateway.daemon.track((await waitForRunning(gateway.daemon, [LONG_SERVER])).values());
  const base = (await gateway.mcpUrl()).replace(/\/mcp$/, "");
  const prefix = `mcp__${ENTRY}-backoffice__`;
  const lists: string[][] = [];
  for (const kind of ["streamable", "sse"] as const) {
    const session = await connectGatewayClient({ mcpUrl: `${base}/mcp/backoffice`, sseUrl: `${base}/sse/backoffice` }, kind, { name: "claude-code" });
    t.teardown(() => session.close().catch(() => undefined));
    const tools = (await session.client.listTools()).tools;
    t.is(tools.length, TOOLS.length);
    for (const tool of tools) {
      t.true(`${prefix}${tool.name}`.length <= 64, `${kind}: ${prefix}${tool.name}`);
      const result = await session.client.callTool({ name: tool.name, arguments: {} });
      t.deepEqual(result.content, [{ type: "text", text: (tool.description ?? "").replace(/^upstream tool /, "") }]);
    }
    lists.push(tools.map((tool) => tool.name));
  }
  t.deepEqual(lists[0], lists[1], "the same names on both transports");
});

test("the SDK v2 client, modern (2026-07-28, stateless) and legacy, gets the same names per client rule as a session does", async (t) => {
  const home = tempHome(t);
  const configPath = writeTeamsFile(join(home, "teams.json"), [{ id: "names", servers: [namedTools(LONG_SERVER), namedTools("kb")] }]);
  const gateway = await startControlPlaneGateway(t, { configPath, home });
  gateway.daemon.track((await waitForRunning(gateway.daemon, [LONG_SERVER, "kb"])).values());
  const mcpUrl = await gateway.mcpUrl();
  for (const client of CLIENTS) {
    const v1 = await connectGatewayClient({ mcpUrl, sseUrl: "" }, "streamable", { name: client.clientInfo });
    t.teardown(() => v1.close().catch(() => undefined));
    const expected = (await v1.client.listTools()).tools.map((tool) => tool.name);
    for (const era of ["modern", "legacy"] as const) {
      // Pinned: a modern client that fell back to a session would not be tested as modern.
      const v2 = new ClientV2(
        { name: client.clientInfo, version: "1.0.0" },
        era === "modern" ? { versionNegotiation: { mode: { pin: "2026-07-28" } } } : {},
      );
      v2.onerror = () => undefined;
      const transport = new StreamableHttpV2(new URL(mcpUrl));
      await v2.connect(transport);
      t.teardown(() => v2.close());
      t.is(transport.sessionId === undefined, era === "modern", `${client.clientInfo} ${era}: a session only for legacy`);
      const listed = (await v2.listTools()).tools;
      t.deepEqual(listed.map((tool) => tool.name), expected, `${client.clientInfo} ${era}: the names of its rule`);
      for (const tool of listed) {
        t.true(`${client.prefix}${tool.name}`.length <= client.max, `${client.clientInfo} ${era}: ${tool.name}`);
        const upstream = (tool.description ?? "").replace(/^upstream tool /, "");
        const result = await v2.callTool({ name: tool.name, arguments: {} });
        t.deepEqual(result.content, [{ type: "text", text: upstream }], `${client.clientInfo} ${era}: ${tool.name}`);
      }
    }
  }
});
