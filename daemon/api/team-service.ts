import { create } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import {
  ExplainPolicyResponseSchema,
  GetCurrentTeamResponseSchema,
  ListTeamsResponseSchema,
  SwitchTeamResponseSchema,
  SyncConfigResponseSchema,
  TeamService,
} from "../../gen/deploystack/gateway/v1/team_service_pb.js";
import type { ControlPlane } from "../control-plane/control-plane.js";
import { policyDecisionToProto, serverChangeToProto, teamToProto } from "./convert.js";

/** What `TeamService` needs: the daemon's control plane. */
export interface TeamServiceDeps {
  readonly controlPlane: Pick<ControlPlane, "teams" | "currentTeam" | "switchTeam" | "sync" | "explain">;
}

/**
 * Registers `TeamService`: a thin adapter over the control plane (daemon/control-plane).
 * Domain errors (an unknown team, a bad team file) are converted once by the error
 * interceptor (./errors.ts).
 */
export function teamServiceRoutes(deps: TeamServiceDeps): (router: ConnectRouter) => void {
  const { controlPlane } = deps;
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
      explainPolicy(req) {
        const decision = controlPlane.explain(req.tool);
        return create(ExplainPolicyResponseSchema, { decision: policyDecisionToProto(decision.tool, decision) });
      },
    });
  };
}
