/**
 * The one seam through which access to exposed tools is decided. The team policy
 * (daemon/policy: allow/deny globs, roles) plugs in here; without one every tool is allowed.
 *
 * A decision is about a tool's identity, not only the string a client sees: a tool renamed
 * because another server wanted the same name (exposed-names.ts) must not slip past a rule
 * written for its real name. So the policy gets both names (issue "untrusted upstreams" §1).
 */

/** The outcome of a policy decision, with the rule that made it (for `dsctl policy explain` and logs). */
export interface AccessDecision {
  readonly allowed: boolean;
  readonly rule: string;
}

/** What a decision is about: one tool, by both of its names. */
export interface ToolIdentity {
  /** The name clients see and call (collision-resolved). */
  readonly exposedName: string;
  /** `<prefix>-<upstream name>`, sanitized (`wantedExposedName`): the name the tool would have without collisions. */
  readonly canonicalName: string;
  /** The gateway's own management tool of a server (management-tools.ts). */
  readonly management?: boolean;
}

/** Decides whether the current user may see and call a tool. */
export interface AccessPolicy {
  decide(tool: ToolIdentity): AccessDecision;
}

/** The default policy: everything is allowed. */
export const allowAllPolicy: AccessPolicy = {
  decide: () => ({ allowed: true, rule: "allow-all (no team policy)" }),
};
