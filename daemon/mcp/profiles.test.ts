import test from "ava";
import { GatewayError } from "../errors.js";
import { compileProfile, createProfileSet, DEFAULT_PROFILE_NAME, IMPLICIT_DEFAULT_PROFILE } from "./profiles.js";

/** Profiles (issue 14.2): what a profile admits, and how a URL's profile name resolves. */

const tool = (server: string, name: string, exposedName = `${server}-${name}`) => ({ server, canonicalName: `${server}-${name}`, exposedName });

test("a profile admits its servers' tools that match include and no exclude", (t) => {
  const profile = compileProfile({ name: "web", servers: ["github", "figma"], include: ["github-*", "figma-get_*"], exclude: ["github-delete_*"], tools: "all" });
  t.true(profile.admitsTool(tool("github", "create_issue")));
  t.false(profile.admitsTool(tool("github", "delete_repo")), "exclude wins");
  t.true(profile.admitsTool(tool("figma", "get_file")));
  t.false(profile.admitsTool(tool("figma", "post_comment")), "include narrows");
  t.false(profile.admitsTool(tool("memory", "read_graph")), "other servers are outside");
  t.true(profile.admitsServer("figma"));
  t.false(profile.admitsServer("memory"));
});

test("include sees only the canonical name; exclude also the exposed one (a rename never widens a profile)", (t) => {
  const profile = compileProfile({ name: "p", include: ["kb-memory-*"], exclude: ["*_1a2b"], tools: "all" });
  // Server "kb" listing "memory-x" was renamed away from kb-memory-x: its canonical name still starts with kb-memory-.
  t.true(profile.admitsTool({ server: "kb", canonicalName: "kb-memory-x", exposedName: "kb-memory-x_9f9f" }));
  t.false(profile.admitsTool({ server: "kb", canonicalName: "kb-memory-y", exposedName: "kb-memory-y_1a2b" }));
  t.false(profile.admitsTool({ server: "kb", canonicalName: "kb-other", exposedName: "kb-memory-other" }));
});

test("the bare path serves every tool unless a profile named default exists", (t) => {
  const none = createProfileSet([{ name: "web", servers: ["github"], tools: "search" }]);
  t.is(none.resolve(undefined), IMPLICIT_DEFAULT_PROFILE);
  t.is(none.resolve(""), IMPLICIT_DEFAULT_PROFILE);
  t.is(none.resolve(DEFAULT_PROFILE_NAME), IMPLICIT_DEFAULT_PROFILE);
  t.deepEqual(none.list().map((p) => p.name), ["default", "web"]);
  t.is(none.resolve("web").mode, "search");

  const own = createProfileSet([{ name: "web", tools: "all" }, { name: "default", servers: ["memory"], tools: "all" }]);
  t.true(own.resolve("").defined);
  t.false(own.resolve("").admitsServer("github"));
  t.deepEqual(own.list().map((p) => p.name), ["default", "web"], "the default one first");
});

test("an unknown profile is not_found, naming the team's profiles and the closest one", (t) => {
  const set = createProfileSet([{ name: "frontend", tools: "all" }, { name: "backend", tools: "all" }]);
  const error = t.throws(() => set.resolve("frontnd"), { instanceOf: GatewayError });
  t.is((error as GatewayError).kind, "not_found");
  t.is(error!.message, 'unknown profile "frontnd" (the team\'s profiles: frontend, backend); did you mean "frontend"?');
  t.regex(t.throws(() => createProfileSet().resolve("x"))!.message, /the team defines no profiles/);
  t.is(set.find("nope"), undefined);
});
