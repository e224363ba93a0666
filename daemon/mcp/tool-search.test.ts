import { readFileSync } from "node:fs";
import test from "ava";
import type { JsonObject } from "../upstream/types.js";
import type { ExposedTool } from "./registry.js";
import { createToolIndex, normalizeTerm } from "./tool-search.js";

/**
 * The search mode's ranking on a fixture catalog: the tool lists of the real reference servers (server-memory,
 * server-everything and the test fixture, as `tools/list` returned them; test/fixtures/catalogs), exposed as
 * `<server>-<tool>`. Each query names the tool a person would expect first.
 */

const catalog = JSON.parse(readFileSync(new URL("../../test/fixtures/catalogs/reference-servers.json", import.meta.url), "utf8")) as Record<string, JsonObject[]>;

const tools: ExposedTool[] = Object.entries(catalog).flatMap(([server, definitions]) =>
  definitions.map((definition) => {
    const exposedName = `${server}-${String(definition.name)}`;
    return { exposedName, canonicalName: exposedName, server, upstreamName: String(definition.name), definition: { ...definition, name: exposedName } };
  }),
);
const index = createToolIndex(tools);
const top = (query: string, limit = 5): string[] => index.search(query, limit).map((match) => match.tool.exposedName);

const expectations: readonly [query: string, first: string][] = [
  ["delete entity", "memory-delete_entities"],
  ["delete entities", "memory-delete_entities"],
  ["add observation to an entity", "memory-add_observations"],
  ["remove a relation", "memory-delete_relations"],
  ["fetch the graph", "memory-read_graph"],
  ["create relation", "memory-create_relations"],
  ["read the knowledge graph", "memory-read_graph"],
  ["sum of two numbers", "everything-get-sum"],
  ["value of an environment variable", "fixture-env_get"],
  ["compress a file with gzip", "everything-gzip-file-as-resource"],
  ["long running operation with progress", "everything-trigger-long-running-operation"],
  ["wait milliseconds", "fixture-slow"],
  ["entityNames", "memory-delete_entities"],
];

for (const [query, first] of expectations) {
  test(`"${query}" ranks ${first} first`, (t) => {
    const ranked = top(query);
    t.is(ranked[0], first, ranked.join(", "));
  });
}

test("a query about echoing finds both echo tools before anything else", (t) => {
  t.deepEqual(top("echo", 2).sort(), ["everything-echo", "fixture-echo"]);
});

test("typos and prefixes still match; unrelated words find nothing", (t) => {
  t.is(top("obsrvations")[0], "memory-add_observations");
  t.true(top("delet enti").includes("memory-delete_entities"));
  t.deepEqual(top("zebra quantum"), []);
  t.deepEqual(top("   "), []);
});

test("the limit bounds the answer and the index knows its size", (t) => {
  t.is(top("the", 3).length <= 3, true);
  t.is(index.search("delete", 2).length, 2);
  t.is(index.size, tools.length);
});

test("plural folding meets names and queries in either form", (t) => {
  t.is(normalizeTerm("Entities"), "entity");
  t.is(normalizeTerm("relations"), "relation");
  t.is(normalizeTerm("boxes"), "box");
  t.is(normalizeTerm("status"), "status");
  t.is(normalizeTerm("class"), "class");
});

test("a hostile server's definitions neither break the index nor bury the real tools", (t) => {
  const hostile = (name: string, definition: JsonObject): ExposedTool => ({
    exposedName: `evil-${name}`,
    canonicalName: `evil-${name}`,
    server: "evil",
    upstreamName: name,
    definition: { ...definition, name: `evil-${name}` },
  });
  const index = createToolIndex([
    ...tools,
    hostile("odd_schema", { description: 42, inputSchema: "object", annotations: null } as unknown as JsonObject),
    hostile("null_props", { inputSchema: { type: "object", properties: null } } as unknown as JsonObject),
    hostile("odd_props", { inputSchema: { type: "object", properties: { a: null, b: 7, c: { description: ["x"] } } } } as unknown as JsonObject),
    // Keyword stuffing: one field repeating the query a million characters long.
    hostile("stuffed", { description: "delete entity ".repeat(80_000), inputSchema: { type: "object" } }),
  ]);
  const ranked = index.search("delete entity", 5).map((match) => match.tool.exposedName);
  t.is(ranked[0], "memory-delete_entities", ranked.join(", "));
  t.true(index.search("odd schema", 3).some((match) => match.tool.exposedName === "evil-odd_schema"));
});
