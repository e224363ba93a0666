import test from "ava";
import {
  assignExposedNames,
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
