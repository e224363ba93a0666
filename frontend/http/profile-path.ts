import { HttpError } from "./http-error.js";

/**
 * Team profiles on the MCP port: `/mcp/<profile>` and `/sse/<profile>` serve a named subset of the team's tools
 * (the daemon confines the session; see daemon/mcp/profiles.ts), the bare paths the default profile.
 */

/** The shape of a profile name in a path, as the team file allows it. */
const PROFILE_SEGMENT = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The profile a request path names under `base`: `""` for the bare path, the segment for `<base>/<segment>`, and
 * undefined when the path is not the endpoint's (another route, a deeper path, or a segment no profile can have).
 */
export function profileOfPath(path: string, base: string): string | undefined {
  if (path === base) return "";
  if (!path.startsWith(`${base}/`)) return undefined;
  const segment = path.slice(base.length + 1);
  return PROFILE_SEGMENT.test(segment) ? segment : undefined;
}

/**
 * Refuses a profile the team does not define with a 404 that lists the ones it does, before a session opens. When
 * the daemon cannot say (not reachable), the session is opened anyway: the daemon refuses an unknown profile itself,
 * and a missing daemon gets its usual 503.
 */
export async function requireKnownProfile(profile: string, profileNames: (() => Promise<readonly string[] | undefined>) | undefined): Promise<void> {
  if (profile === "") return;
  if (!profileNames) throw new HttpError(404, `not found: unknown profile "${profile}"`);
  const names = await profileNames();
  if (names === undefined || names.includes(profile)) return;
  const others = names.filter((name) => name !== "default");
  const listed = others.length === 0 ? "the team defines no profiles" : `the team's profiles: ${others.join(", ")}`;
  throw new HttpError(404, `not found: unknown profile "${profile}" (${listed})`);
}
