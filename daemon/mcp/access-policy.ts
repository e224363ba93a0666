/**
 * The one seam through which access to exposed tools is decided. The control-plane work
 * plugs the team policy (allow/deny globs, roles) in here; until then every tool is allowed.
 */

/** The outcome of a policy decision, with the rule that made it (for `dsctl policy explain` and logs). */
export interface AccessDecision {
  readonly allowed: boolean;
  readonly rule: string;
}

/** Decides whether the current user may see and call an exposed tool. */
export interface AccessPolicy {
  decide(exposedToolName: string): AccessDecision;
}

/** The default policy: everything is allowed. */
export const allowAllPolicy: AccessPolicy = {
  decide: () => ({ allowed: true, rule: "allow-all (no team policy)" }),
};
