import { join } from "node:path";
import test from "ava";
import { fixtureServer, waitForRunning, waitUntil } from "./helpers/daemon-process.js";
import { connectGatewayClient } from "./helpers/mcp-clients.js";
import { startControlPlaneGateway, writeTeamsFile, type FileTeam } from "./helpers/control-plane-gateway.js";
import { tempHome } from "./helpers/daemon-process.js";

/**
 * One definition of "tools" (issue 15 §6): `dsctl status`, `dsctl servers list`, `dsctl tools list`, the
 * control API behind them and an MCP client's `tools/list` count the same tools, and `dsctl tools list --all`
 * names every hidden one with its reason — a tool denied by the policy, a task-only tool, a disabled server's.
 */

type Json = Record<string, unknown>;

function normal(name: string): Json {
  return { name, command: process.execPath, args: [fixtureServer("normal-server.mjs"), "--name", name] };
}

test("status, servers list, tools list and an MCP client agree on the tools, and tools list --all says why each hidden one is hidden", async (t) => {
  const home = tempHome(t);
  const configPath = writeTeamsFile(join(home, "teams.json"), [
    {
      id: "counts",
      servers: [
        normal("alpha"),
        normal("beta"),
        { name: "tasks", command: process.execPath, args: [fixtureServer("task-only-tools.mjs")] },
      ],
      policy: { allow: ["*"], deny: ["alpha-crash"] },
      profiles: { echoes: { servers: ["alpha", "beta"], include: ["*-echo"] } },
    } as FileTeam,
  ]);
  const gateway = await startControlPlaneGateway(t, { configPath, home });
  const pids = await waitForRunning(gateway.daemon, ["alpha", "beta", "tasks"]);
  gateway.daemon.track(pids.values());
  const { clients } = gateway.daemon;
  const disabled = await gateway.dsctl(["servers", "disable", "beta"]);
  t.is(disabled.code, 0, disabled.stderr);

  const listed = (await clients.mcp.listTools({})).tools;
  const all = (await clients.mcp.listTools({ includeHidden: true })).tools;
  const hidden = all.filter((tool) => tool.hiddenReason !== "");
  t.deepEqual(
    all.filter((tool) => tool.hiddenReason === "").map((tool) => tool.name),
    listed.map((tool) => tool.name),
    "--all starts with exactly the exposed tools",
  );
  const reasons = Object.fromEntries(hidden.map((tool) => [tool.name, tool.hiddenReason]));
  t.regex(reasons["alpha-crash"] ?? "", /^denied by policy \(.*alpha-crash.*\)$/);
  t.is(reasons["tasks-research"], "task-only (tasks not supported)");
  t.is(reasons["beta-echo"], "server disabled");
  t.true(
    hidden.filter((tool) => tool.server === "beta").every((tool) => tool.hiddenReason === "server disabled"),
    "every tool of the disabled server is hidden as such",
  );
  t.false(listed.some((tool) => tool.server === "beta"), "a disabled server exposes nothing");
  t.true(listed.some((tool) => tool.name === "tasks-quick"));

  // The counts of every surface, by the one definition.
  const status = await clients.gateway.getStatus({});
  t.is(status.servers?.tools, listed.length);
  t.is(status.servers?.hiddenTools, hidden.length);
  const servers = (await clients.servers.listServers({})).servers;
  for (const server of servers) {
    t.is(server.toolCount, listed.filter((tool) => tool.server === server.name).length, `${server.name}'s tool_count`);
    t.is(server.hiddenToolCount, hidden.filter((tool) => tool.server === server.name).length, `${server.name}'s hidden_tool_count`);
  }
  t.is(servers.find((server) => server.name === "beta")?.toolCount, 0);
  t.is(servers.find((server) => server.name === "tasks")?.toolCount, 1);
  t.is(servers.find((server) => server.name === "tasks")?.hiddenToolCount, 1);

  const session = await connectGatewayClient({ mcpUrl: await gateway.mcpUrl(), sseUrl: "" }, "streamable");
  t.teardown(() => session.close().catch(() => undefined));
  t.is((await session.client.listTools()).tools.length, listed.length, "an MCP client lists the same number");

  // And the CLI shows them.
  const statusText = await gateway.dsctl(["status"]);
  t.regex(statusText.stdout, new RegExp(`tools +${listed.length} exposed, ${hidden.length} hidden \\(dsctl tools list --all says why\\)`));
  const serversText = await gateway.dsctl(["servers", "list"]);
  t.regex(serversText.stdout, /\btasks +RUNNING .* 1 \(\+1 hidden\)/);
  const toolsText = await gateway.dsctl(["tools", "list"]);
  t.is(toolsText.stdout.trim().split("\n").length - 1, listed.length, "one row per exposed tool under the header");
  const allText = await gateway.dsctl(["tools", "list", "--all"]);
  t.is(allText.code, 0, allText.stderr);
  t.regex(allText.stdout, /tasks-research +tasks +hidden: task-only \(tasks not supported\)/);
  t.regex(allText.stdout, /alpha-crash +alpha +hidden: denied by policy/);
  t.regex(allText.stdout, /beta-echo +beta +hidden: server disabled/);
  t.regex(allText.stdout, new RegExp(`^${listed.length} exposed, ${hidden.length} hidden$`, "m"));

  // A profile narrows the list; --all names the team's tools outside it; an unknown profile is refused with a hint.
  const echoes = await gateway.dsctl(["tools", "list", "--profile", "echoes", "--json"]);
  t.is(echoes.code, 0, echoes.stderr);
  t.deepEqual(
    (JSON.parse(echoes.stdout) as { tools: { name: string }[] }).tools.map((tool) => tool.name),
    ["alpha-echo"],
    "beta is disabled; every other tool is outside the profile",
  );
  const echoesAll = (await clients.mcp.listTools({ profile: "echoes", includeHidden: true })).tools;
  t.is(echoesAll.find((tool) => tool.name === "tasks-quick")?.hiddenReason, 'not in profile "echoes"');
  t.is(echoesAll.find((tool) => tool.name === "beta-echo")?.hiddenReason, "server disabled");
  t.is(echoesAll.length, all.length, "the same tools as the team's --all, each with its reason");
  const unknown = await gateway.dsctl(["tools", "list", "--profile", "echos"]);
  t.not(unknown.code, 0);
  t.regex(unknown.stderr, /unknown profile "echos".*did you mean "echoes"\?/);

  // Enabling the server brings its tools back into every count.
  t.is((await gateway.dsctl(["servers", "enable", "beta"])).code, 0);
  t.true(
    await waitUntil(async () => (await clients.gateway.getStatus({})).servers?.tools === (await clients.mcp.listTools({})).tools.length && (await clients.mcp.listTools({})).tools.some((tool) => tool.server === "beta"), 60_000),
    "the enabled server's tools are exposed and counted",
  );
  const after = (await clients.servers.listServers({})).servers.find((server) => server.name === "beta");
  t.is(after?.hiddenToolCount, 0);
  t.is(after?.toolCount, (await clients.mcp.listTools({ server: "beta" })).tools.length);
});
