import { silentLogger, type Logger } from "../../shared/logger.js";
import { GatewayError } from "../errors.js";
import type { PolicyConfig, TeamConfig } from "../config/types.js";
import type { CloudClient } from "./cloud-client.js";
import type { CloudTeam } from "./cloud-contract.js";
import { cloudTeamConfigs, mapCloudServers, type InvalidCloudServer } from "./map-servers.js";

/**
 * The cloud config source in one call, for the daemon's TeamService: teams and
 * configurations from the network (and stored in the vault), or — at start-up, or when
 * the API cannot be reached — the last ones stored, so a laptop on a train still starts
 * its team's servers. A refused session is never papered over with stored data: it
 * surfaces as the session-expired error.
 */

/** The cloud source's teams, ready for the supervisor and policy. */
export interface CloudTeamsSnapshot {
  readonly teams: readonly TeamConfig[];
  readonly defaultTeamId: string | undefined;
  /** Servers not started, with their reasons (same for every team: the list is not team-scoped). */
  readonly invalid: readonly InvalidCloudServer[];
  /** Where the data came from this time. */
  readonly origin: "network" | "vault";
  /** Epoch ms of the configurations download. */
  readonly fetchedAt: number;
}

/** Options of `loadCloudTeams`. */
export interface LoadCloudTeamsOptions {
  /** false: only the vault (instant start-up); true: the network, falling back to the vault when unreachable. */
  readonly online: boolean;
  readonly policyFor?: (team: CloudTeam) => PolicyConfig;
  readonly logger?: Logger;
}

/** Loads the cloud teams; undefined when offline and nothing was stored yet. */
export async function loadCloudTeams(client: CloudClient, options: LoadCloudTeamsOptions): Promise<CloudTeamsSnapshot | undefined> {
  const logger = options.logger ?? silentLogger;
  if (options.online) {
    try {
      const [teams, configurations] = await Promise.all([client.listTeams(), client.fetchConfigurations()]);
      return snapshot(teams, configurations, "network", options.policyFor);
    } catch (error) {
      if (!(error instanceof GatewayError) || error.kind !== "unavailable") throw error;
      logger.warn({ reason: error.message }, "DeployStack API unreachable; using the configurations stored in the vault");
    }
  }
  const [teams, configurations] = await Promise.all([client.storedTeams(), client.storedConfigurations()]);
  if (!teams || !configurations) return undefined;
  return snapshot(teams, configurations, "vault", options.policyFor);
}

function snapshot(
  teams: readonly CloudTeam[],
  configurations: Awaited<ReturnType<CloudClient["fetchConfigurations"]>>,
  origin: CloudTeamsSnapshot["origin"],
  policyFor: LoadCloudTeamsOptions["policyFor"],
): CloudTeamsSnapshot {
  const mapped = mapCloudServers(configurations.servers, configurations.malformed);
  const { teams: configs, defaultTeamId } = cloudTeamConfigs(teams, mapped.servers, policyFor);
  return { teams: configs, defaultTeamId, invalid: mapped.invalid, origin, fetchedAt: configurations.fetchedAt };
}
