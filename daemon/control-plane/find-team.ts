import type { TeamConfig } from "../config/types.js";
import { GatewayError } from "../errors.js";

/**
 * Resolves what a user typed after `dsctl teams switch`: a team's id, or its name (or
 * slug). Never a list position — positions change when teams are added, and a script that
 * switched to "2" would silently land in another team.
 */
export function findTeam(teams: readonly TeamConfig[], reference: string): TeamConfig {
  const wanted = reference.trim();
  if (wanted === "") throw new GatewayError("invalid_argument", "a team id or name is required");
  const byId = teams.find((team) => team.id === wanted);
  if (byId) return byId;
  const exact = teams.filter((team) => team.name === wanted || team.slug === wanted);
  const matches = exact.length > 0 ? exact : teams.filter((team) => team.name.toLowerCase() === wanted.toLowerCase());
  if (matches.length === 1) return matches[0];
  if (matches.length > 1) {
    throw new GatewayError(
      "invalid_argument",
      `team name "${wanted}" is ambiguous (ids: ${matches.map((team) => team.id).join(", ")}) — switch by id`,
    );
  }
  throw new GatewayError("not_found", `team "${wanted}" not found (known: ${teams.map((team) => `"${team.name}"`).join(", ") || "none"})`);
}
