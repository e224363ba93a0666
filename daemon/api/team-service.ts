import { create } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import {
  ExplainPolicyResponseSchema,
  GetCurrentTeamResponseSchema,
  ListProfilesResponseSchema,
  ListTeamsResponseSchema,
  SwitchTeamResponseSchema,
  SyncConfigResponseSchema,
  TeamService,
} from "../../gen/deploystack/gateway/v1/team_service_pb.js";
import type { ControlPlane } from "../control-plane/control-plane.js";
import { GatewayError } from "../errors.js";
import type { Registry } from "../mcp/registry.js";
import type { ProfileCatalog, ProfileSummary } from "../mcp/engine.js";
import { ProfileSchema, ProfileToolMode, type Profile } from "../../gen/deploystack/gateway/v1/team_pb.js";
import { policyDecisionToProto, serverChangeToProto, teamToProto } from "./convert.js";

/** What `TeamService` needs: the daemon's control plane, and the MCP registry once the engine exists. */
export interface TeamServiceDeps {
  readonly controlPlane: Pick<ControlPlane, "teams" | "currentTeam" | "switchTeam" | "sync" | "explain">;
  /**
   * Knows the tools and their identities, so that `ExplainPolicy` judges a tool as the engine
   * does (canonical and exposed name) and says when a tool does not exist. Without it (no MCP
   * engine) a name is explained as it is.
   */
  readonly tools?: Pick<Registry, "describeTool" | "suggestTool">;
  /** The engine's profiles; without an engine only the implicit default profile is listed. */
  readonly profiles?: Pick<ProfileCatalog, "listProfiles">;
  /** `http://localhost:<port>` of the MCP frontend, once it listens (the profiles' URLs). */
  readonly mcpBaseUrl?: () => string | undefined;
}

/** A profile for `ListProfiles`, with the URLs that serve it (the default one's are the bare paths). */
export function profileSummaryToProto(summary: ProfileSummary, isDefault: boolean, baseUrl: string | undefined): Profile {
  const { profile } = summary;
  const suffix = isDefault ? "" : `/${profile.name}`;
  return create(ProfileSchema, {
    name: profile.name,
    description: profile.config.description ?? "",
    servers: [...(profile.config.servers ?? [])],
    include: [...(profile.config.include ?? [])],
    exclude: [...(profile.config.exclude ?? [])],
    mode: profile.mode === "search" ? ProfileToolMode.SEARCH : ProfileToolMode.ALL,
    toolCount: summary.toolCount,
    url: baseUrl === undefined ? "" : `${baseUrl}/mcp${suffix}`,
    sseUrl: baseUrl === undefined ? "" : `${baseUrl}/sse${suffix}`,
    isDefault,
    defined: profile.defined,
    sessionCount: summary.sessionCount,
  });
}

/**
 * Registers `TeamService`: a thin adapter over the control plane (daemon/control-plane).
 * Domain errors (an unknown team, a bad team file, an unknown tool) are converted once by the
 * error interceptor (./errors.ts).
 */
export function teamServiceRoutes(deps: TeamServiceDeps): (router: ConnectRouter) => void {
  const { controlPlane, tools, profiles } = deps;
  return (router) => {
    router.service(TeamService, {
      listTeams() {
        const current = controlPlane.currentTeam().id;
        return create(ListTeamsResponseSchema, { teams: controlPlane.teams().map((team) => teamToProto(team, team.id === current)) });
      },
      getCurrentTeam() {
        return create(GetCurrentTeamResponseSchema, { team: teamToProto(controlPlane.currentTeam(), true) });
      },
      async switchTeam(req) {
        return create(SwitchTeamResponseSchema, { team: teamToProto(await controlPlane.switchTeam(req.team), true) });
      },
      async syncConfig() {
        return create(SyncConfigResponseSchema, { changes: (await controlPlane.sync()).map(serverChangeToProto) });
      },
      listProfiles() {
        const baseUrl = deps.mcpBaseUrl?.();
        const summaries = profiles?.listProfiles() ?? [];
        return create(ListProfilesResponseSchema, {
          profiles: summaries.map((summary, index) => profileSummaryToProto(summary, index === 0, baseUrl)),
        });
      },
      explainPolicy(req) {
        const name = req.tool.trim();
        if (!tools || name === "") {
          const decision = controlPlane.explain(req.tool);
          return create(ExplainPolicyResponseSchema, { decision: policyDecisionToProto(decision.tool, decision), canonicalName: decision.tool, exposedName: decision.tool });
        }
        const tool = tools.describeTool(name);
        if (!tool) {
          const hint = tools.suggestTool(name);
          throw new GatewayError(
            "not_found",
            `tool "${name}" does not exist in team "${controlPlane.currentTeam().id}" (no server lists it)${hint === undefined ? "" : `; did you mean "${hint}"?`}`,
          );
        }
        const decision = controlPlane.explain({ exposedName: tool.exposedName, canonicalName: tool.canonicalName, management: tool.management === true });
        return create(ExplainPolicyResponseSchema, {
          decision: policyDecisionToProto(tool.exposedName, decision),
          canonicalName: tool.canonicalName,
          exposedName: tool.exposedName,
          server: tool.server,
          upstreamName: tool.upstreamName,
        });
      },
    });
  };
}
