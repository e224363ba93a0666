import test from "ava";
import {
  assignExposedNames,
  findPrefixOverlaps,
  MAX_STALE_HELD_PER_SERVER,
  EXPOSED_NAME_PATTERN,
  itemKey,
  sanitizeExposedName,
  shortHash,
  wantedExposedName,
} from "./exposed-names.js";

test("prefix and name join with a dash; an empty prefix exposes the bare name", (t) => {
  t.is(wantedExposedName("brightdata", "search_engine"), "brightdata-search_engine");
  t.is(wantedExposedName("", "search_engine"), "search_engine");
});

test("invalid characters become underscores and every result matches the pattern", (t) => {
  t.is(sanitizeExposedName("my server.tool/v2"), "my_server_tool_v2");
  t.is(sanitizeExposedName("héllo"), "h_llo");
  t.is(sanitizeExposedName(""), "_");
  for (const raw of ["a", "x".repeat(64), "y".repeat(65), "ü".repeat(200), "a b c", "😀"]) {
    t.regex(sanitizeExposedName(raw), EXPOSED_NAME_PATTERN, raw);
  }
});

test("long names are cut to 64 with a stable hash of the whole original", (t) => {
  const long = `${"p".repeat(40)}-${"t".repeat(40)}`;
  const a = sanitizeExposedName(long);
  t.is(a.length, 64);
  t.is(a, sanitizeExposedName(long));
  t.true(a.endsWith(`_${shortHash(long)}`));
  const other = sanitizeExposedName(`${long}x`);
  t.not(a, other, "two long names sharing a beginning stay apart");
  t.is(sanitizeExposedName("x".repeat(64)), "x".repeat(64), "exactly 64 is kept");
});

test("collisions: the first server in name order keeps the name, the other gets a hash suffix, and it is reported", (t) => {
  const candidates = [
    { server: "zeta", prefix: "", upstreamName: "search" },
    { server: "alpha", prefix: "", upstreamName: "search" },
    { server: "alpha", prefix: "", upstreamName: "fetch" },
  ];
  const result = assignExposedNames(candidates);
  t.deepEqual(result.byExposedName.get("search"), { server: "alpha", upstreamName: "search" });
  const renamed = result.byItem.get(itemKey("zeta", "search"))!;
  t.regex(renamed, /^search_[0-9a-f]{6}$/);
  t.regex(renamed, EXPOSED_NAME_PATTERN);
  t.deepEqual(result.collisions, [
    { wantedName: "search", keptServer: "alpha", renamedServer: "zeta", renamedItem: "search", assignedName: renamed },
  ]);
  const reversed = assignExposedNames([...candidates].reverse());
  t.deepEqual([...reversed.byExposedName].sort(), [...result.byExposedName].sort(), "independent of input order");
});

test("names that only collide after sanitizing are resolved within one server too", (t) => {
  const result = assignExposedNames([
    { server: "s", prefix: "s", upstreamName: "a.b" },
    { server: "s", prefix: "s", upstreamName: "a_b" },
  ]);
  t.is(result.byExposedName.size, 2);
  t.is(result.collisions.length, 1);
  t.is(result.collisions[0]!.wantedName, "s-a_b");
  t.is(result.collisions[0]!.keptServer, "s");
});

test("names with dashes in prefix and tool resolve through the map, never by splitting", (t) => {
  const result = assignExposedNames([
    { server: "a", prefix: "my-server", upstreamName: "get-thing" },
    { server: "b", prefix: "my", upstreamName: "server-get-thing" },
  ]);
  t.deepEqual(result.byExposedName.get("my-server-get-thing"), { server: "a", upstreamName: "get-thing" });
  const other = result.byItem.get(itemKey("b", "server-get-thing"))!;
  t.deepEqual(result.byExposedName.get(other), { server: "b", upstreamName: "server-get-thing" });
});

test("a hash-suffixed name never steals a name another item wants", (t) => {
  const many = Array.from({ length: 50 }, (_, i) => ({ server: `s${String(i).padStart(2, "0")}`, prefix: "", upstreamName: "tool" }));
  const result = assignExposedNames(many);
  t.is(result.byExposedName.size, 50);
  t.is(result.collisions.length, 49);
  for (const name of result.byExposedName.keys()) t.regex(name, EXPOSED_NAME_PATTERN);
});

test("sticky: a held name stays with its item when another server later wants it, whatever the order", (t) => {
  const prefixes = new Map([["alpha", "shared"], ["beta", "shared"]]);
  const first = assignExposedNames([{ server: "beta", prefix: "shared", upstreamName: "search" }], { prefixes });
  t.deepEqual(first.byExposedName.get("shared-search"), { server: "beta", upstreamName: "search" });
  const both = [
    { server: "alpha", prefix: "shared", upstreamName: "search" },
    { server: "beta", prefix: "shared", upstreamName: "search" },
  ];
  const second = assignExposedNames(both, { prefixes, held: first.held });
  t.deepEqual(second.byExposedName.get("shared-search"), { server: "beta", upstreamName: "search" }, "name order alone would pick alpha");
  const renamed = second.byItem.get(itemKey("alpha", "search"))!;
  t.deepEqual(second.collisions, [{ wantedName: "shared-search", keptServer: "beta", renamedServer: "alpha", renamedItem: "search", assignedName: renamed }]);
  // The holder stops listing it for a while: the name is still not free for alpha, and alpha keeps its own.
  const third = assignExposedNames([both[0]!], { prefixes, held: second.held });
  t.is(third.byItem.get(itemKey("alpha", "search")), renamed);
  t.false(third.byExposedName.has("shared-search"));
  const fourth = assignExposedNames(both, { prefixes, held: third.held });
  t.deepEqual(fourth.byExposedName.get("shared-search"), { server: "beta", upstreamName: "search" });
  t.is(fourth.byItem.get(itemKey("alpha", "search")), renamed);
});

test("name spaces: a name inside a longer prefix's space goes to that server, before it even lists it", (t) => {
  const prefixes = new Map([["kb", "kb"], ["kb-memory", "kb-memory"]]);
  const hostile = { server: "kb", prefix: "kb", upstreamName: "memory-read_graph" };
  const real = { server: "kb-memory", prefix: "kb-memory", upstreamName: "read_graph" };
  const early = assignExposedNames([hostile], { prefixes });
  t.regex(early.byItem.get(itemKey("kb", "memory-read_graph"))!, /^kb-memory-read_graph_[0-9a-f]{6}$/);
  t.is(early.collisions[0]!.keptServer, "kb-memory");
  const later = assignExposedNames([hostile, real], { prefixes, held: early.held });
  t.deepEqual(later.byExposedName.get("kb-memory-read_graph"), { server: "kb-memory", upstreamName: "read_graph" });
  const fresh = assignExposedNames([real, hostile], { prefixes });
  t.deepEqual([...fresh.byExposedName].sort(), [...later.byExposedName].sort(), "the same names whichever came first");
  // An empty prefix owns nothing: its tool "kb-x" is renamed beside server kb.
  const bare = assignExposedNames([{ server: "plain", prefix: "", upstreamName: "kb-x" }], { prefixes: new Map([["plain", ""], ["kb", "kb"]]) });
  t.regex(bare.byItem.get(itemKey("plain", "kb-x"))!, /^kb-x_[0-9a-f]{6}$/);
});

test("held names: reserved names go back to the gateway, a prefix change renames, absent servers keep theirs", (t) => {
  const held = [{ exposedName: "a-manage", server: "a", upstreamName: "manage" }, { exposedName: "a-x", server: "a", upstreamName: "x" }];
  const reserved = assignExposedNames([{ server: "a", prefix: "a", upstreamName: "manage" }], { held, reserved: new Map([["a-manage", "a"]]), prefixes: new Map([["a", "a"]]) });
  t.regex(reserved.byItem.get(itemKey("a", "manage"))!, /^a-manage_[0-9a-f]{6}$/);
  const changed = assignExposedNames([{ server: "a", prefix: "new", upstreamName: "x" }], { held, prefixes: new Map([["a", "new"]]) });
  t.is(changed.byItem.get(itemKey("a", "x")), "new-x", "a prefix change renames the server's items");
  t.false(changed.held.some((entry) => entry.exposedName === "a-x"));
  // Server "a" is not configured right now (a team switch under way): its names are kept and still block others.
  const absent = assignExposedNames([{ server: "b", prefix: "a", upstreamName: "x" }], { held, prefixes: new Map([["b", "a"]]) });
  t.regex(absent.byItem.get(itemKey("b", "x"))!, /^a-x_[0-9a-f]{6}$/);
  t.deepEqual(absent.collisions.map((c) => c.keptServer), ["a"]);
  t.true(absent.held.some((entry) => entry.server === "a" && entry.exposedName === "a-x"));
});

test("the ledger is bounded per server: only the churning server's oldest unlisted names go", (t) => {
  const prefixes = new Map([["churn", "c"], ["steady", "s"]]);
  let held = assignExposedNames([{ server: "steady", prefix: "s", upstreamName: "keep" }], { prefixes }).held;
  for (let round = 0; round < MAX_STALE_HELD_PER_SERVER + 20; round++) {
    held = assignExposedNames([{ server: "churn", prefix: "c", upstreamName: `t${round}` }], { prefixes, held }).held;
  }
  const churned = held.filter((entry) => entry.server === "churn");
  t.is(churned.length, MAX_STALE_HELD_PER_SERVER + 1, "the listed one plus the newest stale ones");
  t.false(churned.some((entry) => entry.upstreamName === "t0"));
  t.true(held.some((entry) => entry.server === "steady" && entry.exposedName === "s-keep"), "another server's unlisted name is untouched");
});

test("prefix overlaps: nested, equal and empty prefixes are found, each pair once", (t) => {
  const overlaps = findPrefixOverlaps([
    { name: "kb", prefix: "kb" },
    { name: "kb-memory", prefix: "kb-memory" },
    { name: "kbx", prefix: "kbx" },
    { name: "twin-a", prefix: "twin" },
    { name: "twin-b", prefix: "twin" },
  ]);
  t.deepEqual(
    overlaps.map((o) => `${o.shorter.server}<${o.longer.server}`).sort(),
    ["kb<kb-memory", "twin-a<twin-b"],
  );
  t.is(findPrefixOverlaps([{ name: "bare", prefix: "" }, { name: "x", prefix: "x" }]).length, 1);
});
