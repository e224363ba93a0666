import test from "ava";
import type { PolicyConfig, TeamConfig } from "../config/types.js";
import type { AccessPolicy } from "../mcp/access-policy.js";
import { createAccessPolicy, createTeamAccessPolicy } from "./access-policy.js";
import { compileGlob } from "./glob.js";

const policy: PolicyConfig = {
  allow: ["brightdata-*", "memory-*", "everything-echo"],
  deny: ["brightdata-delete_*"],
  roles: {
    team_user: { allow: ["github-search_?ssues"], deny: ["memory-delete_*"] },
    team_admin: { allow: ["github-*"], deny: [] },
  },
  managementTools: true,
};
const isManagementTool = (name: string): boolean => name.endsWith("-manage");

test("glob: * and ? over the whole name, everything else literal", (t) => {
  t.true(compileGlob("brightdata-*").matches("brightdata-search_engine"));
  t.true(compileGlob("brightdata-*").matches("brightdata-"));
  t.false(compileGlob("brightdata-*").matches("xbrightdata-search"));
  t.false(compileGlob("brightdata").matches("brightdata-search"));
  t.true(compileGlob("a?c").matches("abc"));
  t.false(compileGlob("a?c").matches("ac"));
  t.false(compileGlob("a?c").matches("abbc"));
  t.true(compileGlob("a.b").matches("a.b"));
  t.false(compileGlob("a.b").matches("axb"), "dots are literal");
  t.true(compileGlob("*").matches("anything-at_all"));
  t.false(compileGlob("Memory-*").matches("memory-read"), "case-sensitive");
  t.true(compileGlob("x(1)+[y]").matches("x(1)+[y]"));
});

const matrix: Array<[tool: string, user: boolean, admin: boolean]> = [
  ["brightdata-search_engine", true, true],
  ["brightdata-delete_zone", false, false], // base deny wins for every role
  ["memory-read_graph", true, true],
  ["memory-delete_entities", false, true], // role deny for users only
  ["everything-echo", true, true],
  ["everything-add", false, false], // no allow rule: default deny
  ["github-search_issues", true, true], // user role allow widens the base; admin via github-*
  ["github-create_issue", false, true],
  ["memory-manage", false, true], // management tool: admin only even though memory-* is allowed
  ["postgres-manage", false, true],
];

test("decision matrix for team_user and team_admin", (t) => {
  const user = createAccessPolicy(policy, "team_user", { team: "demo", isManagementTool });
  const admin = createAccessPolicy(policy, "team_admin", { team: "demo", isManagementTool });
  for (const [tool, userAllowed, adminAllowed] of matrix) {
    t.is(user.decide(tool).allowed, userAllowed, `team_user ${tool}`);
    t.is(admin.decide(tool).allowed, adminAllowed, `team_admin ${tool}`);
  }
});

test("explanations name the rule, team and role", (t) => {
  const user = createAccessPolicy(policy, "team_user", { team: "demo", isManagementTool });
  const admin = createAccessPolicy(policy, "team_admin", { team: "demo", isManagementTool });
  t.is(
    user.explain("memory-delete_entities"),
    'denied by deny rule `memory-delete_*` of team "demo" for role team_user',
  );
  t.is(
    user.explain("brightdata-delete_zone"),
    'denied by deny rule `brightdata-delete_*` of team "demo" (applies to every role; current role team_user)',
  );
  t.is(
    admin.explain("memory-delete_entities"),
    'allowed by allow rule `memory-*` of team "demo" (applies to every role; current role team_admin)',
  );
  t.is(user.explain("github-search_issues"), 'allowed by allow rule `github-search_?ssues` of team "demo" for role team_user');
  t.is(user.explain("everything-add"), 'denied: no allow rule of team "demo" matches it for role team_user (default deny)');
  t.is(
    user.explain("memory-manage"),
    'denied: management tools are for team_admin only in team "demo" (role team_user has no allow rule for it)',
  );
  t.is(admin.explain("memory-manage"), 'allowed: management tools are allowed to team_admin in team "demo"');

  const decision = user.decide("brightdata-delete_zone");
  t.like(decision, { allowed: false, source: "base", pattern: "brightdata-delete_*", team: "demo", role: "team_user" });
  t.is(decision.rule, 'deny rule `brightdata-delete_*` of team "demo"');
});

test("a role's own allow rule opts it into a management tool; deny still wins over it", (t) => {
  const optIn: PolicyConfig = { ...policy, roles: { team_user: { allow: ["memory-manage"], deny: [] } }, deny: ["postgres-*"] };
  const user = createAccessPolicy(optIn, "team_user", { team: "demo", isManagementTool });
  t.true(user.decide("memory-manage").allowed);
  t.false(user.decide("brightdata-manage").allowed, "the base allow brightdata-* does not grant management tools");
  t.false(createAccessPolicy(optIn, "team_admin", { team: "demo", isManagementTool }).decide("postgres-manage").allowed);
});

test("unknown roles get the base rules only; the shape fits the MCP engine's AccessPolicy seam", (t) => {
  const guest = createAccessPolicy(policy, "guest", { team: "demo", isManagementTool });
  t.true(guest.decide("memory-delete_entities").allowed);
  t.false(guest.decide("github-search_issues").allowed);
  t.false(guest.decide("memory-manage").allowed);
  const hostile = createAccessPolicy(policy, "__proto__", { team: "demo" });
  t.true(hostile.decide("memory-read").allowed);

  const team: TeamConfig = {
    id: "demo",
    name: "Demo",
    slug: "demo",
    role: "team_user",
    isDefault: true,
    servers: [],
    policy,
  };
  const seam: AccessPolicy = createTeamAccessPolicy(team, { isManagementTool });
  t.deepEqual(
    {
      allowed: seam.decide({ exposedName: "memory-delete_entities", canonicalName: "memory-delete_entities" }).allowed,
      rule: seam.decide({ exposedName: "memory-delete_entities", canonicalName: "memory-delete_entities" }).rule,
    },
    { allowed: false, rule: 'deny rule `memory-delete_*` of team "demo" for role team_user' },
  );
  const allowAll = createAccessPolicy({ allow: ["*"], deny: [], roles: {}, managementTools: false }, "team_user");
  t.true(allowAll.decide("x-y").allowed);
  t.is(allowAll.team, "current");
});

test("a renamed tool is judged by its canonical name too: a deny on either name denies, deny wins", (t) => {
  const team = createAccessPolicy({ allow: ["*"], deny: ["kb-memory-delete_entities"], roles: {}, managementTools: false }, "team_user", { team: "demo" });
  const hijacker = { exposedName: "kb-memory-delete_entities_1a2b3c", canonicalName: "kb-memory-delete_entities" };
  const decision = team.decide(hijacker);
  t.false(decision.allowed, "the suffixed name does not escape the rule written for the real name");
  t.is(decision.pattern, "kb-memory-delete_entities");
  t.is(decision.matchedName, "kb-memory-delete_entities");
  t.regex(decision.explanation, /matched its canonical name "kb-memory-delete_entities"/);
  // A deny written against the exposed (suffixed) name denies too.
  const byExposed = createAccessPolicy({ allow: ["*"], deny: ["*_1a2b3c"], roles: {}, managementTools: false }, "team_user");
  t.false(byExposed.decide({ exposedName: "kb-read_1a2b3c", canonicalName: "kb-read" }).allowed);
  t.true(byExposed.decide({ exposedName: "kb-read", canonicalName: "kb-read" }).allowed);
});

test("a rename never widens access: allow rules see only the canonical name", (t) => {
  const narrow = createAccessPolicy({ allow: ["kb-memory-read_graph_*"], deny: [], roles: {}, managementTools: false }, "team_user");
  const renamed = { exposedName: "kb-memory-read_graph_1a2b3c", canonicalName: "kb-memory-read_graph" };
  t.false(narrow.decide(renamed).allowed, "an allow matching only the suffixed name does not allow");
  t.false(narrow.decide("kb-memory-read_graph").allowed, "same as without the collision");
  const broad = createAccessPolicy({ allow: ["kb-memory-*"], deny: [], roles: {}, managementTools: false }, "team_user");
  t.true(broad.decide(renamed).allowed);
  t.true(broad.decide("kb-memory-read_graph").allowed);
});

test("management tools: the identity's flag decides, not the name's shape", (t) => {
  const user = createAccessPolicy(policy, "team_user", { team: "demo" });
  t.false(user.decide({ exposedName: "x-manage", canonicalName: "x-manage", management: true }).allowed);
  t.true(createAccessPolicy(policy, "team_admin", { team: "demo" }).decide({ exposedName: "x-manage", canonicalName: "x-manage", management: true }).allowed);
});
