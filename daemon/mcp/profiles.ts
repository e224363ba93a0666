/**
 * Team profiles: named subsets of a team's servers and tools, each served at its own URL
 * (`/mcp/<profile>`, `/sse/<profile>`), so that a project's client sees only the tools it needs.
 *
 * A profile narrows what the team policy already allows (the registry's visible lists are the
 * policy's; a profile only filters them), so it can never widen access. It is a view, not a
 * security boundary: any local client may connect to the bare path. Within a session, though, it
 * is strict: lists, calls, prompts, resources, subscriptions, completions and log messages are
 * confined to the profile's servers and tools, and a tool outside it is "unknown" (see
 * profile-scope.ts).
 *
 * The bare path serves the profile named `default` when the team has one, else every tool.
 */
import type { ProfileConfig, ProfileToolMode } from "../config/types.js";
import { closestMatch } from "../did-you-mean.js";
import { GatewayError } from "../errors.js";
import { compileGlob, type ToolGlob } from "../policy/glob.js";

/** The name of the profile the bare `/mcp` and `/sse` serve. */
export const DEFAULT_PROFILE_NAME = "default";

/** What a profile judges a tool by: its server and both of its names. */
export interface ProfileToolIdentity {
  readonly server: string;
  readonly canonicalName: string;
  readonly exposedName: string;
}

/** A compiled profile. */
export interface Profile {
  readonly name: string;
  readonly mode: ProfileToolMode;
  /** The configuration it was compiled from (an implicit default profile has an empty one). */
  readonly config: ProfileConfig;
  /** False for the implicit default profile (every tool), which the team file does not define. */
  readonly defined: boolean;
  /** Whether the profile serves a server's tools, prompts, resources and log messages. */
  admitsServer(server: string): boolean;
  /**
   * Whether the profile serves a tool: its server is admitted, `include` (absent: everything) matches
   * its canonical name, and no `exclude` glob matches its canonical or exposed name. Like the policy,
   * `include` sees only the canonical name, so a renamed tool is never admitted by its new name.
   */
  admitsTool(tool: ProfileToolIdentity): boolean;
}

/** Every server and tool, listed whole: what the bare path serves when no `default` profile is defined. */
export const IMPLICIT_DEFAULT_PROFILE: Profile = {
  name: DEFAULT_PROFILE_NAME,
  mode: "all",
  config: { name: DEFAULT_PROFILE_NAME, tools: "all" },
  defined: false,
  admitsServer: () => true,
  admitsTool: () => true,
};

function matchesAny(globs: readonly ToolGlob[], ...names: string[]): boolean {
  return globs.some((glob) => names.some((name) => glob.matches(name)));
}

/** Compiles one profile's globs once: lists and calls only run the matchers. */
export function compileProfile(config: ProfileConfig): Profile {
  const servers = config.servers === undefined ? undefined : new Set(config.servers);
  const include = config.include?.map(compileGlob);
  const exclude = (config.exclude ?? []).map(compileGlob);
  const admitsServer = (server: string): boolean => servers === undefined || servers.has(server);
  return {
    name: config.name,
    mode: config.tools,
    config,
    defined: true,
    admitsServer,
    admitsTool: (tool) =>
      admitsServer(tool.server) &&
      (include === undefined || matchesAny(include, tool.canonicalName)) &&
      !matchesAny(exclude, tool.canonicalName, tool.exposedName),
  };
}

/** The profiles of the current team. */
export interface ProfileSet {
  /**
   * The profile a URL names: `undefined` or `""` (the bare path) and `default` give the default
   * profile; throws `not_found` (with a "did you mean") for a name the team does not define.
   */
  resolve(name: string | undefined): Profile;
  /** The profile of that name, or undefined; the bare path's name is `default`. */
  find(name: string | undefined): Profile | undefined;
  /** The default profile (defined or implicit) first, then the others in file order. */
  list(): readonly Profile[];
}

/** Builds the profile set of a team (`profiles:` in its file; none: only the implicit default). */
export function createProfileSet(configs: readonly ProfileConfig[] = []): ProfileSet {
  const byName = new Map(configs.map((config) => [config.name, compileProfile(config)]));
  const fallback = byName.get(DEFAULT_PROFILE_NAME) ?? IMPLICIT_DEFAULT_PROFILE;
  const listed = [fallback, ...[...byName.values()].filter((profile) => profile !== fallback)];
  const find = (name: string | undefined): Profile | undefined =>
    name === undefined || name === "" || name === DEFAULT_PROFILE_NAME ? fallback : byName.get(name);
  return {
    find,
    resolve(name) {
      const profile = find(name);
      if (profile) return profile;
      const known = [...byName.keys()];
      const hint = closestMatch(name!, known);
      const list = known.length === 0 ? "the team defines no profiles" : `the team's profiles: ${known.join(", ")}`;
      throw new GatewayError("not_found", `unknown profile "${name}" (${list})${hint === undefined ? "" : `; did you mean "${hint}"?`}`);
    },
    list: () => listed,
  };
}
