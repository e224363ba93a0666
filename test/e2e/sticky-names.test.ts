import { readFileSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import { fixtureServer, repoRoot, tempHome, waitForRunning, waitUntil } from "./helpers/daemon-process.js";
import { connectGatewayClient } from "./helpers/mcp-clients.js";
import { startControlPlaneGateway, writeTeamsFile } from "./helpers/control-plane-gateway.js";

/**
 * Sticky exposed names against real child processes (issue "untrusted upstreams" §1): a
 * server (`kb`, the name-squatter fixture) that, after start-up, lists tools, a prompt and a
 * resource under names that belong to its neighbour `kb-memory` (the real server-memory) and
 * `docs`. The neighbour keeps its names, calls keep reaching it, the squatter's renamed copy
 * of a denied tool stays denied, collisions are reported by `ListServers`, `dsctl policy
 * explain` shows both names, and the names survive a daemon restart through the tool cache.
 */

const memoryEntry = join(repoRoot, "node_modules/@modelcontextprotocol/server-memory/dist/index.js");

type Json = Record<string, unknown>;

function squatter(name: string, extra: readonly string[], overrides: Json = {}): Json {
  return { name, command: process.execPath, args: [fixtureServer("name-squatter.mjs"), "--name", name, ...extra], ...overrides };
}

test("a server listing another server's names after list_changed cannot take them, nor walk around a deny rule", async (t) => {
  const home = tempHome(t);
  const configPath = writeTeamsFile(join(home, "teams.json"), [
    {
      id: "kbteam",
      servers: [
        squatter("kb", ["--squat-tool", "memory-read_graph", "--squat-tool", "memory-delete_entities", "--squat-prompt", "memory-hello", "--squat-uri", "squatter://docs/own"]),
        { name: "kb-memory", command: process.execPath, args: [memoryEntry], env: { MEMORY_FILE_PATH: join(home, "memory.jsonl") } },
        squatter("docs", []),
      ],
      policy: { allow: ["*"], deny: ["kb-memory-delete_entities"] },
    },
  ]);
  const gateway = await startControlPlaneGateway(t, { configPath, home });
  const pids = await waitForRunning(gateway.daemon, ["kb", "kb-memory", "docs"]);
  gateway.daemon.track(pids.values());
  const session = await connectGatewayClient({ mcpUrl: await gateway.mcpUrl(), sseUrl: "" }, "streamable");
  t.teardown(() => session.close().catch(() => undefined));
  const toolNames = async (): Promise<string[]> => (await session.client.listTools()).tools.map((tool) => tool.name);
  t.true((await toolNames()).includes("kb-memory-read_graph"));
  await session.client.callTool({ name: "kb-memory-create_entities", arguments: { entities: [{ name: "kept", entityType: "test", observations: ["real"] }] } });

  // The hostile turn.
  await session.client.callTool({ name: "kb-squat", arguments: {} });
  t.true(await waitUntil(async () => (await toolNames()).some((name) => /^kb-memory-read_graph_[0-9a-f]{6}$/.test(name)), 60_000), "the squatter's tools appear, renamed");
  const names = await toolNames();
  const renamedRead = names.find((name) => name.startsWith("kb-memory-read_graph_"))!;
  t.false(names.some((name) => name.startsWith("kb-memory-delete_entities")), "neither delete_entities is listed: both are kb-memory-delete_entities by identity");

  // The real tool keeps its name: the call reaches server-memory, not the squatter.
  const graph = await session.client.callTool({ name: "kb-memory-read_graph", arguments: {} });
  const graphText = (graph.content as { text: string }[])[0]!.text;
  t.regex(graphText, /"kept"/);
  t.notRegex(graphText, /squatted/);
  const hijacked = await session.client.callTool({ name: renamedRead, arguments: {} });
  t.deepEqual(hijacked.content, [{ type: "text", text: "squatted by kb" }], "the renamed name leads to the squatter");

  // The squatter's copy of the denied tool is denied under its suffixed name too.
  const cacheFile = join(home, "cache/teams/kbteam/tools.json");
  let held: { tools: string[][]; prompts: string[][]; resources: string[][] } = { tools: [], prompts: [], resources: [] };
  t.true(
    await waitUntil(() => {
      try {
        held = (JSON.parse(readFileSync(cacheFile, "utf8")) as { names: typeof held }).names;
        return held.tools.some(([, server, upstream]) => server === "kb" && upstream === "memory-delete_entities");
      } catch {
        return false;
      }
    }, 60_000),
    "the held names are saved in the tool cache",
  );
  const renamedDelete = held.tools.find(([, server, upstream]) => server === "kb" && upstream === "memory-delete_entities")![0]!;
  t.regex(renamedDelete, /^kb-memory-delete_entities_[0-9a-f]{6}$/);
  t.deepEqual(held.tools.find(([name]) => name === "kb-memory-read_graph")?.slice(1, 3), ["kb-memory", "read_graph"], "the cache holds the real owner");
  const denied = await session.client.callTool({ name: renamedDelete, arguments: { entityNames: ["kept"] } }).catch((error: Error) => error);
  t.true(denied instanceof Error && /not allowed by the team policy/.test(denied.message), String(denied));
  t.regex(((await session.client.callTool({ name: "kb-memory-read_graph", arguments: {} })).content as { text: string }[])[0]!.text, /"kept"/, "nothing was deleted");

  // Prompts and resources: a squatted prompt is renamed out of kb-memory's name space, and docs keeps its URI.
  const prompts = (await session.client.listPrompts()).prompts.map((prompt) => prompt.name);
  t.true(prompts.some((name) => /^kb-memory-hello_[0-9a-f]{6}$/.test(name)));
  const own = await session.client.readResource({ uri: "squatter://docs/own" });
  t.deepEqual(own.contents.map((content) => (content as { text?: string }).text), ["docs"], "docs still serves its URI");

  // Reported: ListServers, and explain with both names.
  const { nameCollisions } = await gateway.daemon.clients.servers.listServers({});
  const reported = nameCollisions.map((c) => `${c.wantedName} kept by ${c.keptServer}, ${c.renamedServer}'s ${c.renamedItem} -> ${c.assignedName}`).sort();
  t.deepEqual(reported, [
    `kb-memory-delete_entities kept by kb-memory, kb's memory-delete_entities -> ${renamedDelete}`,
    `kb-memory-hello kept by kb-memory, kb's memory-hello -> ${prompts.find((name) => name.startsWith("kb-memory-hello_"))}`,
    `kb-memory-read_graph kept by kb-memory, kb's memory-read_graph -> ${renamedRead}`,
    "squatter://docs/own kept by docs, kb's squatter://docs/own -> ",
  ]);
  const log = gateway.daemon.stdout() + gateway.daemon.stderr();
  t.regex(log, /exposed name collision resolved/, "collisions are logged");
  t.regex(log, /team file warning[^\n]*prefix \\?"kb-memory\\?" of server \\?"kb-memory\\?" begins with prefix \\?"kb\\?" of server \\?"kb\\?"/, "the prefix overlap is warned about at load");
  const explained = await gateway.dsctl(["policy", "explain", renamedDelete]);
  t.is(explained.code, 0, explained.stderr);
  t.regex(explained.stdout, /denied by deny rule `kb-memory-delete_entities`/);
  t.regex(explained.stdout, new RegExp(`exposed name ${renamedDelete}, canonical name kb-memory-delete_entities \\(server "kb", tool "memory-delete_entities"\\)`));
  const unknown = await gateway.dsctl(["policy", "explain", "kb-memory-read_grap"]);
  t.not(unknown.code, 0);
  t.regex(unknown.stderr, /does not exist.*did you mean "kb-memory-read_graph"/);
});

test("held names survive a daemon restart: the first holder keeps a name even when name order would pick the other", async (t) => {
  const home = tempHome(t);
  // Same prefix: no name space decides, only who held the name first. beta comes first.
  const team = (alphaEnabled: boolean) => [
    {
      id: "twins",
      servers: [squatter("alpha", [], { prefix: "shared", enabled: alphaEnabled }), squatter("beta", [], { prefix: "shared" })],
    },
  ];
  const configPath = join(home, "teams.json");
  writeTeamsFile(configPath, team(false));
  const first = await startControlPlaneGateway(t, { configPath, home });
  first.daemon.track((await waitForRunning(first.daemon, ["beta"])).values());
  const enabled = await first.dsctl(["servers", "enable", "alpha"]);
  t.is(enabled.code, 0, enabled.stderr);
  first.daemon.track((await waitForRunning(first.daemon, ["alpha", "beta"])).values());
  const cacheFile = join(home, "cache/teams/twins/tools.json");
  const heldBy = (): Record<string, string> => {
    try {
      const names = (JSON.parse(readFileSync(cacheFile, "utf8")) as { names?: { tools: string[][] } }).names;
      return Object.fromEntries((names?.tools ?? []).map(([name, server, upstream]) => [`${server}/${upstream}`, name!]));
    } catch {
      return {};
    }
  };
  t.true(await waitUntil(() => heldBy()["alpha/search"] !== undefined, 60_000), "alpha's names are saved");
  t.is(heldBy()["beta/search"], "shared-search");
  const alphaName = heldBy()["alpha/search"]!;
  t.regex(alphaName, /^shared-search_[0-9a-f]{6}$/);
  first.daemon.process.kill("SIGTERM");
  await first.daemon.exited;

  // Second life: both enabled from the start; on name order alone alpha would get the name.
  writeTeamsFile(configPath, team(true));
  const second = await startControlPlaneGateway(t, { configPath, home });
  second.daemon.track((await waitForRunning(second.daemon, ["alpha", "beta"])).values());
  const session = await connectGatewayClient({ mcpUrl: await second.mcpUrl(), sseUrl: "" }, "streamable");
  t.teardown(() => session.close().catch(() => undefined));
  t.true(
    await waitUntil(async () => (await session.client.listTools()).tools.some((tool) => tool.name === alphaName), 60_000),
    "alpha's tool is listed under the name it held",
  );
  const result = await session.client.callTool({ name: "shared-search", arguments: {} });
  t.deepEqual(result.content, [{ type: "text", text: "search by beta" }], "shared-search still leads to beta");
  const { nameCollisions } = await second.daemon.clients.servers.listServers({});
  t.true(nameCollisions.some((c) => c.wantedName === "shared-search" && c.keptServer === "beta" && c.renamedServer === "alpha" && c.assignedName === alphaName));
});
