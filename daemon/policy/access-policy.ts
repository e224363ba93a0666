import type { PolicyConfig, TeamConfig } from "../config/types.js";
import type { ToolIdentity } from "../mcp/access-policy.js";
import { compileGlob, type ToolGlob } from "./glob.js";

/**
 * A team's access policy over exposed tool names (`<prefix>-<tool>`), evaluated for the
 * user's role in that team. The rules, in the order they are applied:
 *
 * 1. **Deny wins.** The base `deny` list and the role's `deny` list are both checked; the
 *    first pattern that matches denies the tool, whatever any allow rule says.
 * 2. **Management tools** (one per server when `managementTools: true`) are allowed to
 *    `team_admin` only — unless the role's *own* `allow` list (not the base one) matches
 *    the tool, which is how a team opts a `team_user` in. The base `allow: ["*"]` never
 *    hands users the power to stop servers.
 * 3. **Allow.** The base `allow` list and the role's `allow` list are united: a role's rules
 *    can only widen what the base allows and narrow it with their own denies. So "everyone
 *    but users may delete" is written `deny` in `roles.team_user`, not in the base.
 * 4. **Default deny.** A tool no allow pattern matches is denied (the team file's default
 *    is `allow: ["*"]`).
 *
 * Role rules are looked up by the exact role string; an unknown role gets the base rules
 * only (and no management tools).
 *
 * **Names.** A tool is judged by its identity, not by the collision-resolved string: a deny
 * rule denies it when it matches the tool's canonical name `<prefix>-<tool>` *or* its
 * exposed name, and an allow rule allows it when it matches the canonical name (for a tool
 * that was not renamed the two are the same). A server that lists `memory-delete_entities`
 * beside server `kb-memory` is renamed `kb-memory-delete_entities_<hash>`, yet the rule
 * `deny: ["kb-memory-delete_entities"]` still denies it; and since an allow rule never sees
 * the suffixed name, a rename can only make a tool more denied, never less.
 */

/** The role that may use management tools by default. */
export const ADMIN_ROLE = "team_admin";

/** Which list a deciding rule came from. */
export type PolicyRuleSource = "base" | "role" | "management" | "default";

/**
 * The outcome for one tool. `allowed` and `rule` satisfy the MCP engine's `AccessDecision`
 * (daemon/mcp/access-policy.ts); the rest serves `dsctl policy explain` and dashboards.
 */
export interface PolicyDecision {
  readonly allowed: boolean;
  /** The deciding rule, e.g. `deny rule \`brightdata-delete_*\` of team "demo" for role team_user`. */
  readonly rule: string;
  /** A sentence for people: `denied by deny rule … for role team_user`, `denied: no allow rule …`. */
  readonly explanation: string;
  readonly source: PolicyRuleSource;
  /** The matching glob, when a glob decided. */
  readonly pattern?: string;
  readonly team: string;
  readonly role: string;
  /** Which of the tool's names the deciding glob matched, when it was not the exposed one. */
  readonly matchedName?: string;
}

/**
 * A policy bound to one team and role. A bare string is a tool whose canonical and exposed
 * names are the same (a name the registry does not know, or a caller without the registry).
 */
export interface TeamAccessPolicy {
  readonly team: string;
  readonly role: string;
  decide(tool: string | ToolIdentity): PolicyDecision;
  /** Same as `decide(tool).explanation`. */
  explain(tool: string | ToolIdentity): string;
}

/** Extra inputs of `createAccessPolicy`. */
export interface AccessPolicyOptions {
  /** How the team is named in rules and explanations (its id); default `"current"`. */
  readonly team?: string;
  /**
   * Tells management tools apart from server tools. The MCP engine names them, so it
   * supplies this; without it no tool is treated as a management tool.
   */
  readonly isManagementTool?: (exposedToolName: string) => boolean;
}

interface CompiledRule {
  readonly glob: ToolGlob;
  readonly source: "base" | "role";
}

/** Binds `policy` to `role`; see the module comment for the semantics. */
export function createAccessPolicy(policy: PolicyConfig, role: string, options: AccessPolicyOptions = {}): TeamAccessPolicy {
  const team = options.team ?? "current";
  const isManagementTool = options.isManagementTool ?? (() => false);
  const roleRules = Object.hasOwn(policy.roles, role) ? policy.roles[role] : undefined;
  const compile = (patterns: readonly string[], source: "base" | "role"): CompiledRule[] =>
    patterns.map((pattern) => ({ glob: compileGlob(pattern), source }));
  const denies = [...compile(policy.deny, "base"), ...compile(roleRules?.deny ?? [], "role")];
  const allows = [...compile(policy.allow, "base"), ...compile(roleRules?.allow ?? [], "role")];
  const roleAllows = allows.filter((rule) => rule.source === "role");

  const ruleText = (kind: "allow" | "deny", rule: CompiledRule): string =>
    `${kind} rule \`${rule.glob.pattern}\` of team "${team}"${rule.source === "role" ? ` for role ${role}` : ""}`;
  const decision = (allowed: boolean, rule: string, source: PolicyRuleSource, pattern?: string, matchedName?: string): PolicyDecision => {
    const basis = source === "base" ? ` (applies to every role; current role ${role})` : "";
    const matched = matchedName === undefined ? "" : ` (matched its canonical name "${matchedName}")`;
    return {
      allowed,
      rule,
      explanation: `${allowed ? "allowed" : "denied"}${pattern === undefined ? ":" : " by"} ${rule}${matched}${basis}`,
      source,
      ...(pattern === undefined ? {} : { pattern }),
      team,
      role,
      ...(matchedName === undefined ? {} : { matchedName }),
    };
  };

  const decide = (tool: string | ToolIdentity): PolicyDecision => {
    const exposed = typeof tool === "string" ? tool : tool.exposedName;
    const canonical = typeof tool === "string" ? tool : tool.canonicalName;
    /** The canonical name, when it differs, for the explanation. */
    const viaCanonical = canonical === exposed ? undefined : canonical;
    for (const rule of denies) {
      if (rule.glob.matches(canonical)) return decision(false, ruleText("deny", rule), rule.source, rule.glob.pattern, viaCanonical);
      if (rule.glob.matches(exposed)) return decision(false, ruleText("deny", rule), rule.source, rule.glob.pattern);
    }
    const management = typeof tool === "string" ? isManagementTool(tool) : (tool.management ?? isManagementTool(exposed));
    if (management) {
      if (role === ADMIN_ROLE) {
        return decision(true, `management tools are allowed to ${ADMIN_ROLE} in team "${team}"`, "management");
      }
      const optIn = roleAllows.find((rule) => rule.glob.matches(canonical));
      if (optIn) return decision(true, ruleText("allow", optIn), "role", optIn.glob.pattern);
      return decision(false, `management tools are for ${ADMIN_ROLE} only in team "${team}" (role ${role} has no allow rule for it)`, "management");
    }
    // Allow rules see the canonical name only: a rename must never widen access.
    const allow = allows.find((rule) => rule.glob.matches(canonical));
    if (allow) return decision(true, ruleText("allow", allow), allow.source, allow.glob.pattern, viaCanonical);
    return decision(false, `no allow rule of team "${team}" matches it for role ${role} (default deny)`, "default");
  };

  return { team, role, decide, explain: (tool) => decide(tool).explanation };
}

/** The policy of `team` for the user's role in it (`team.role`). */
export function createTeamAccessPolicy(
  team: TeamConfig,
  options: Omit<AccessPolicyOptions, "team"> = {},
): TeamAccessPolicy {
  return createAccessPolicy(team.policy, team.role, { ...options, team: team.id });
}
