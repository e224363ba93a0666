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
    { allowed: seam.decide("memory-delete_entities").allowed, rule: seam.decide("memory-delete_entities").rule },
    { allowed: false, rule: 'deny rule `memory-delete_*` of team "demo" for role team_user' },
  );
  const allowAll = createAccessPolicy({ allow: ["*"], deny: [], roles: {}, managementTools: false }, "team_user");
  t.true(allowAll.decide("x-y").allowed);
  t.is(allowAll.team, "current");
});
