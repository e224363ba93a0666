import { SERVER_DEFAULTS } from "../config/load-team-file.js";
import { ENV_NAME_PATTERN } from "../config/team-file-schema.js";
import type { PolicyConfig, ServerConfig, TeamConfig } from "../config/types.js";
import type { CloudServer, CloudTeam, MalformedCloudServer } from "./cloud-contract.js";

/**
 * Turns what the cloud sends into the daemon's own config types, so that everything
 * downstream (supervisor, registry, policy) is the same for both config sources.
 *
 * Names: cloud server names are display names ("GitHub Tools"); server names here appear
 * in the CLI and as exposed tool prefixes, so they are lower-cased and every run of
 * characters outside `[a-z0-9_-]` becomes `-` (`github-tools`, at most 64 characters; the
 * prefix at most 32). When two servers end up with the same name, the one with the
 * smallest cloud id keeps it and the others get `-<id prefix>` appended — the same result
 * whatever order the API lists them in.
 */

/** A server that is not started, and why (shown by `dsctl teams sync` and `ListServers`). */
export interface InvalidCloudServer {
  readonly id: string;
  readonly name: string;
  readonly reason: string;
}

/** The result of mapping the configurations list. */
export interface MappedCloudServers {
  readonly servers: ServerConfig[];
  readonly invalid: InvalidCloudServer[];
  /** Cloud id of each mapped server, by server name (for sync diagnostics). */
  readonly cloudIds: Readonly<Record<string, string>>;
}

/** Why a server the cloud marks `invalid` is not started. */
export const INVALID_STATUS_REASON =
  'DeployStack marks it "invalid": a required setting (argument or environment variable) is missing for this user or device — complete it in DeployStack, then run `dsctl teams sync`';

/** Maps the servers of `GET /api/gateway/me/mcp-configurations`. */
export function mapCloudServers(servers: readonly CloudServer[], malformed: readonly MalformedCloudServer[] = []): MappedCloudServers {
  const invalid: InvalidCloudServer[] = malformed.map((entry) => ({
    id: entry.id ?? "(unknown)",
    name: entry.name ?? "(unknown)",
    reason: `the DeployStack API sent a malformed entry (fields: ${entry.fields.join(", ")})`,
  }));
  const runnable: CloudServer[] = [];
  for (const server of servers) {
    const problem = problemOf(server);
    if (problem) invalid.push({ id: server.id, name: server.name, reason: problem });
    else runnable.push(server);
  }

  const names = assignNames(runnable);
  const mapped = runnable.map((server): ServerConfig => {
    const name = names.get(server.id)!;
    return {
      name,
      command: server.command,
      args: [...server.args],
      env: { ...server.env },
      enabled: SERVER_DEFAULTS.enabled,
      startup: SERVER_DEFAULTS.startup,
      idleTimeoutMs: SERVER_DEFAULTS.idleTimeoutMs,
      startupTimeoutMs: SERVER_DEFAULTS.startupTimeoutMs,
      prefix: name.slice(0, 32).replace(/[-_]+$/, ""),
    };
  });
  mapped.sort((a, b) => a.name.localeCompare(b.name));
  return {
    servers: mapped,
    invalid,
    cloudIds: Object.fromEntries(runnable.map((server) => [names.get(server.id)!, server.id])),
  };
}

/** The policy of a cloud team: the cloud has no policy endpoint, so all tools, no management tools. */
export const DEFAULT_CLOUD_POLICY: PolicyConfig = { allow: ["*"], deny: [], roles: {}, managementTools: false };

/**
 * One `TeamConfig` per cloud team. The configurations endpoint is not team-scoped — it
 * returns the servers of all the user's teams — so every team gets the same servers and
 * differs only in the user's role (and so in the policy's effect). `policyFor` lets the
 * daemon supply a policy per team (for example from local settings).
 */
export function cloudTeamConfigs(
  teams: readonly CloudTeam[],
  servers: readonly ServerConfig[],
  policyFor: (team: CloudTeam) => PolicyConfig = () => DEFAULT_CLOUD_POLICY,
): { teams: TeamConfig[]; defaultTeamId: string | undefined } {
  const configs = teams.map(
    (team): TeamConfig => ({
      id: team.id,
      name: team.name,
      slug: team.slug,
      role: team.role,
      isDefault: team.isDefault,
      servers,
      policy: policyFor(team),
    }),
  );
  return { teams: configs, defaultTeamId: (teams.find((team) => team.isDefault) ?? teams[0])?.id };
}

function problemOf(server: CloudServer): string | undefined {
  if (server.status === "invalid") return INVALID_STATUS_REASON;
  if (server.command.trim() === "") return "it has no command";
  const badEnv = Object.keys(server.env).filter((name) => !ENV_NAME_PATTERN.test(name));
  if (badEnv.length > 0) return `environment variable names are not valid: ${badEnv.map((name) => JSON.stringify(name.slice(0, 40))).join(", ")}`;
  return undefined;
}

function baseName(displayName: string): string {
  const slug = displayName
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, "-")
    .replace(/^[-_]+|[-_]+$/g, "")
    .slice(0, 64)
    .replace(/[-_]+$/, "");
  return slug === "" ? "server" : slug;
}

function assignNames(servers: readonly CloudServer[]): Map<string, string> {
  const byBase = new Map<string, CloudServer[]>();
  for (const server of servers) {
    const base = baseName(server.name);
    byBase.set(base, [...(byBase.get(base) ?? []), server]);
  }
  const names = new Map<string, string>();
  const taken = new Set(byBase.keys());
  for (const [base, group] of byBase) {
    const ordered = [...group].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    names.set(ordered[0].id, base);
    for (const server of ordered.slice(1)) {
      const suffix = server.id.toLowerCase().replace(/[^a-z0-9]/g, "").slice(0, 8) || "x";
      let candidate = `${base.slice(0, 64 - suffix.length - 1)}-${suffix}`;
      for (let n = 2; taken.has(candidate); n++) candidate = `${base.slice(0, 50)}-${suffix}-${n}`;
      taken.add(candidate);
      names.set(server.id, candidate);
    }
  }
  return names;
}
