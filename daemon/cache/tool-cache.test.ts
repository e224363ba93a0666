import test, { type ExecutionContext } from "ava";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import { statePaths } from "../../shared/paths.js";
import type { Logger } from "../../shared/logger.js";
import type { ServerCatalog } from "../supervisor/types.js";
import type { JsonObject } from "../upstream/types.js";
import { createVault } from "../vault/vault.js";
import { createConfigHasher } from "./config-hash.js";
import { createToolCache, teamDirName } from "./tool-cache.js";

const CANARY = "canary-cache-secret-71ab0c";
const require = createRequire(import.meta.url);

function tempHome(t: ExecutionContext): string {
  const home = mkdtempSync(join(tmpdir(), "dsgw-"));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  return home;
}

function allBytes(dir: string): Buffer {
  const parts: Buffer[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) parts.push(readFileSync(join(entry.parentPath, entry.name)));
  }
  return Buffer.concat(parts);
}

function recordingLogger(): Logger & { readonly warnings: string[] } {
  const warnings: string[] = [];
  const logger: Logger & { warnings: string[] } = {
    warnings,
    debug: () => {},
    info: () => {},
    warn: (a: object | string, b?: string) => void warnings.push(typeof a === "string" ? a : `${b ?? ""} ${JSON.stringify(a)}`),
    error: () => {},
    child: () => logger,
  };
  return logger;
}

const catalogOf = (tools: JsonObject[]): ServerCatalog => ({ tools, prompts: [], resources: [], resourceTemplates: [] });

test("a real server's catalog round-trips, keyed to its config, with no env value on disk", async (t) => {
  const home = tempHome(t);
  const vault = await createVault({ home, env: {} });
  const hash = createConfigHasher(vault.deriveKey("tool-cache"));
  const server = {
    command: process.execPath,
    args: [require.resolve("@modelcontextprotocol/server-memory/dist/index.js")],
    env: { MEMORY_FILE_PATH: join(home, "memory.jsonl"), API_TOKEN: CANARY },
  };

  const client = new Client({ name: "cache-test", version: "1.0.0" });
  const transport = new StdioClientTransport({ command: server.command, args: server.args, env: { ...server.env, PATH: process.env.PATH ?? "" }, stderr: "ignore" });
  t.teardown(() => client.close());
  await client.connect(transport);
  const { tools } = await client.listTools();
  t.true(tools.length > 0);
  const catalog = catalogOf(tools as unknown as JsonObject[]);

  const cache = createToolCache({ cacheDir: statePaths(home).cacheDir, now: () => 1234 });
  await cache.save("demo", "memory", catalog, hash(server));
  t.deepEqual(await cache.lookup("demo", "memory", hash(server)), catalog);
  const loaded = await cache.load("demo");
  t.deepEqual(loaded.get("memory"), { configHash: hash(server), savedAt: 1234, catalog });

  // A rotated secret (same names) changes the fingerprint: a cache miss.
  const rotated = { ...server, env: { ...server.env, API_TOKEN: `${CANARY}-rotated` } };
  t.not(hash(rotated), hash(server));
  t.is(await cache.lookup("demo", "memory", hash(rotated)), undefined);
  t.not(hash({ ...server, args: [...server.args, "--x"] }), hash(server));
  t.is(hash({ ...server, env: { API_TOKEN: CANARY, MEMORY_FILE_PATH: server.env.MEMORY_FILE_PATH } }), hash(server), "env order does not matter");

  const file = join(statePaths(home).cacheDir, "teams", "demo", "tools.json");
  t.is(statSync(file).mode & 0o777, 0o600);
  t.is(statSync(join(statePaths(home).cacheDir, "teams", "demo")).mode & 0o777, 0o700);
  t.false(allBytes(home).includes(Buffer.from(CANARY)), "no env value anywhere under DEPLOYSTACK_HOME");
  t.regex(readFileSync(file, "utf8"), /"configHash":"hmac-sha256:[0-9a-f]{64}"/);
});

test("concurrent saves of one team keep every server; remove, retain and clear", async (t) => {
  const home = tempHome(t);
  const cache = createToolCache({ cacheDir: statePaths(home).cacheDir });
  await Promise.all(
    ["a", "b", "c", "d"].map((server) => cache.save("team-1", server, catalogOf([{ name: `${server}-tool` }]), `h-${server}`)),
  );
  t.deepEqual([...(await cache.load("team-1")).keys()].sort(), ["a", "b", "c", "d"]);
  await cache.remove("team-1", "a");
  await cache.retain("team-1", ["b", "c"]);
  t.deepEqual([...(await cache.load("team-1")).keys()].sort(), ["b", "c"]);
  await cache.save("team-2", "x", catalogOf([]), "h");
  await cache.clear("team-1");
  t.is((await cache.load("team-1")).size, 0);
  t.is((await cache.load("team-2")).size, 1);
  await cache.clear();
  t.false(existsSync(join(statePaths(home).cacheDir, "teams")));
});

test("a corrupt file or entry is ignored with a warning, and the next save repairs it", async (t) => {
  const home = tempHome(t);
  const logger = recordingLogger();
  const cache = createToolCache({ cacheDir: statePaths(home).cacheDir, logger });
  await cache.save("demo", "memory", catalogOf([{ name: "read_graph" }]), "h1");
  const file = join(statePaths(home).cacheDir, "teams", "demo", "tools.json");

  writeFileSync(file, "{not json");
  t.is((await cache.load("demo")).size, 0);
  t.true(logger.warnings.some((line) => line.includes("not valid JSON")));

  writeFileSync(file, JSON.stringify({ version: 99, servers: {} }));
  t.is((await cache.load("demo")).size, 0);
  writeFileSync(
    file,
    JSON.stringify({ version: 1, team: "demo", servers: { good: { configHash: "h", savedAt: 1, catalog: catalogOf([]) }, bad: { configHash: 5 } } }),
  );
  t.deepEqual([...(await cache.load("demo")).keys()], ["good"]);
  t.true(logger.warnings.some((line) => line.includes("entry malformed")));

  writeFileSync(file, "garbage");
  await cache.save("demo", "memory", catalogOf([{ name: "read_graph" }]), "h2");
  t.is(await cache.lookup("demo", "memory", "h2").then((c) => c?.tools.length), 1);
});

test("team ids that are not safe folder names cannot escape the cache folder", (t) => {
  t.is(teamDirName("demo"), "demo");
  t.is(teamDirName("3f1c-uuid_like.id"), "3f1c-uuid_like.id");
  for (const hostile of ["..", ".", "a/b", "../../etc", "x".repeat(200), ""]) {
    t.regex(teamDirName(hostile), /^id-[0-9a-f]{32}$/);
  }
});

test("held names round-trip beside the catalogs; saves keep them, retain and remove drop a server's", async (t) => {
  const home = tempHome(t);
  const logger = recordingLogger();
  const cache = createToolCache({ cacheDir: statePaths(home).cacheDir, logger });
  t.deepEqual(await cache.loadNames("demo"), { tools: [], prompts: [], resources: [], resourceTemplates: [] }, "no file: nothing held");
  const names = {
    tools: [
      { exposedName: "kb-memory-read_graph", server: "kb-memory", upstreamName: "read_graph" },
      { exposedName: "kb-memory-read_graph_1a2b3c", server: "kb", upstreamName: "memory-read_graph", keptServer: "kb-memory" },
    ],
    prompts: [{ exposedName: "kb-hello", server: "kb", upstreamName: "hello" }],
    resources: [{ exposedName: "docs://readme", server: "docs", upstreamName: "docs://readme" }],
    resourceTemplates: [{ exposedName: "docs://pages/{id}", server: "docs", upstreamName: "docs://pages/{id}" }],
  };
  // Queued behind a catalog save of the same team: neither loses the other, and a load waits for both.
  void cache.save("demo", "kb", catalogOf([{ name: "memory-read_graph" }]), "h");
  void cache.saveNames("demo", names);
  t.deepEqual(await cache.loadNames("demo"), names);
  t.deepEqual([...(await cache.load("demo")).keys()], ["kb"]);
  await cache.save("demo", "docs", catalogOf([]), "h");
  t.deepEqual(await cache.loadNames("demo"), names, "a catalog save keeps the names");

  await cache.retain("demo", ["kb", "docs"]);
  t.deepEqual((await cache.loadNames("demo")).tools.map((held) => held.server), ["kb"]);
  await cache.remove("demo", "docs");
  const left = await cache.loadNames("demo");
  t.deepEqual([left.resources, left.resourceTemplates], [[], []]);

  // A malformed ledger is ignored with a warning; a malformed entry is dropped alone.
  const file = join(statePaths(home).cacheDir, "teams", "demo", "tools.json");
  const onDisk = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  writeFileSync(file, JSON.stringify({ ...onDisk, names: { tools: [["bad name!", "kb", "x"], ["kb-ok", "kb", "ok"], ["kb-x", "", "x"], 5] } }));
  t.deepEqual((await cache.loadNames("demo")).tools, [{ exposedName: "kb-ok", server: "kb", upstreamName: "ok" }]);
  writeFileSync(file, JSON.stringify({ ...onDisk, names: { tools: "nope" } }));
  t.deepEqual((await cache.loadNames("demo")).tools, []);
  t.true(logger.warnings.some((line) => line.includes("name ledger malformed")));
  t.is((await cache.load("demo")).size, 1, "the catalogs still load");
});

test("an entry's era is kept; an era that is not one is dropped without losing the catalog", async (t) => {
  const home = tempHome(t);
  const logger = recordingLogger();
  const cache = createToolCache({ cacheDir: statePaths(home).cacheDir, logger });
  const catalog = catalogOf([{ name: "echo", inputSchema: { type: "object" } }]);
  await cache.save("demo", "alpha", catalog, "hash-a", "modern");
  await cache.save("demo", "beta", catalog, "hash-b");
  const loaded = await cache.load("demo");
  t.is(loaded.get("alpha")?.era, "modern");
  t.false(loaded.get("beta") !== undefined && "era" in loaded.get("beta")!, "no era saved, none read");

  const path = join(statePaths(home).cacheDir, "teams", "demo", "tools.json");
  const file = JSON.parse(readFileSync(path, "utf8")) as { servers: Record<string, Record<string, unknown>> };
  file.servers.alpha!.era = "2026-07-28";
  writeFileSync(path, JSON.stringify(file));
  const reread = (await createToolCache({ cacheDir: statePaths(home).cacheDir, logger }).load("demo")).get("alpha");
  t.deepEqual(reread?.catalog, catalog, "the catalog still seeds");
  t.is(reread?.era, undefined, "the server is probed again");
});
