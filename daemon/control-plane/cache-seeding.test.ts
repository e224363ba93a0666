import test, { type ExecutionContext } from "ava";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { statePaths } from "../../shared/paths.js";
import { createToolCache } from "../cache/tool-cache.js";
import type { ServerConfig, TeamConfig } from "../config/types.js";
import { createRegistry } from "../mcp/registry.js";
import { createMemorySupervisor, type MemoryServerSpec } from "../mcp/testing/memory-supervisor.js";
import { createCacheSeeding } from "./cache-seeding.js";

function tempHome(t: ExecutionContext): string {
  const home = mkdtempSync(join(tmpdir(), "dsgw-"));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  return home;
}

function toolServer(label: string, tools: readonly string[]): McpServer {
  const server = new McpServer({ name: label, version: "1.0.0" });
  for (const tool of tools) server.registerTool(tool, {}, async () => ({ content: [{ type: "text", text: label }] }));
  return server;
}

function serverConfig(name: string, prefix: string): ServerConfig {
  return { name, prefix, command: "node", args: [], env: {}, enabled: true, startup: "eager", idleTimeoutMs: 1, startupTimeoutMs: 1 };
}

const team: TeamConfig = {
  id: "demo",
  name: "Demo",
  slug: "demo",
  role: "team_admin",
  isDefault: true,
  servers: [serverConfig("alpha", "shared"), serverConfig("beta", "shared")],
  policy: { allow: ["*"], deny: [], roles: {}, managementTools: false },
};

async function startedRegistry(t: ExecutionContext, specs: MemoryServerSpec[]) {
  const supervisor = createMemorySupervisor(specs);
  t.teardown(() => supervisor.shutdown());
  await supervisor.start();
  const registry = createRegistry({ supervisor });
  t.teardown(() => registry.close());
  return { supervisor, registry };
}

test("held names are saved under the team and restored by the next daemon's seeding, before any server runs", async (t) => {
  const cacheDir = statePaths(tempHome(t)).cacheDir;
  const specs = (alphaEnabled: boolean): MemoryServerSpec[] => [
    { name: "alpha", prefix: "shared", enabled: alphaEnabled, create: () => toolServer("alpha", ["search"]) },
    { name: "beta", prefix: "shared", create: () => toolServer("beta", ["search"]) },
  ];

  // First life: beta is up first and gets "shared-search"; alpha arrives later and is renamed.
  const first = await startedRegistry(t, specs(false));
  // One cache object for both lives: its load waits for the first life's queued saves, as a
  // restart waits for the old daemon to have exited.
  const cache = createToolCache({ cacheDir });
  const seeding = createCacheSeeding({ cache, configHash: () => "h" });
  await seeding.seed(team, first.registry);
  await first.supervisor.enable("alpha");
  t.is(first.registry.resolveTool("shared-search").server, "beta");
  const renamed = first.registry.tools("alpha")[0]!.exposedName;
  t.regex(renamed, /^shared-search_[0-9a-f]{6}$/);

  // Second life (a restart): both servers run before anything else, so name order alone would give alpha the name.
  const second = await startedRegistry(t, specs(true));
  const reseeding = createCacheSeeding({ cache, configHash: () => "h" });
  await reseeding.seed(team, second.registry);
  t.is(second.registry.resolveTool("shared-search").server, "beta", "the name stays with its holder across the restart");
  t.is(second.registry.tools("alpha")[0]!.exposedName, renamed);
  t.deepEqual(second.registry.collisions().map((c) => [c.wantedName, c.keptServer, c.renamedServer]), [["shared-search", "beta", "alpha"]]);

  // A sync that drops beta from the team: beta's names are given up (this in-memory supervisor
  // keeps beta's process, which is named afresh), while alpha keeps the name it holds.
  const without = { ...team, servers: [serverConfig("alpha", "shared")] };
  const before = second.registry.names().tools.find((held) => held.server === "beta")!;
  await reseeding.seed(without, second.registry);
  t.is(second.registry.tools("alpha")[0]!.exposedName, renamed, "a renamed item keeps its name, sticky both ways");
  t.false(second.registry.names().tools.includes(before), "beta's held entry was dropped");
});

test("eras: saved with a catalog, remembered after the next daemon's seeding, forgotten when the config changes", async (t) => {
  const home = tempHome(t);
  const cacheDir = statePaths(home).cacheDir;
  // A fingerprint of the config's args only: enough to tell a changed config here.
  const configHash = (server: ServerConfig): string => `${server.name}:${server.args.join(" ")}`;
  const catalog = { tools: [{ name: "echo", inputSchema: { type: "object" } }], prompts: [], resources: [], resourceTemplates: [] };
  const target = { replaceSeeds: () => {} };

  const first = createCacheSeeding({ cache: createToolCache({ cacheDir }), configHash });
  await first.seed(team, target);
  const [alpha, beta] = team.servers as [ServerConfig, ServerConfig];
  t.is(first.knownEra(alpha), undefined, "nothing known before a discovery");
  await first.save(team, alpha, catalog, "legacy");
  await first.save(team, beta, catalog);
  t.is(first.knownEra(alpha), "legacy", "known at once in the same daemon");

  // The next daemon: a fresh cache object on the same folder.
  const second = createCacheSeeding({ cache: createToolCache({ cacheDir }), configHash });
  t.is(second.knownEra(alpha), undefined, "only a seed reads the file");
  await second.seed(team, target);
  t.is(second.knownEra(alpha), "legacy");
  t.is(second.knownEra(beta), undefined, "a catalog saved without an era leaves it unknown (probed)");
  t.is(second.knownEra({ ...alpha, args: ["--other"] }), undefined, "a changed configuration is a new server");
});
