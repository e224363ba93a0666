import type { Client } from "@connectrpc/connect";
import { ServerChangeKind } from "../../gen/deploystack/gateway/v1/team_pb.js";
import {
  ListTeamsResponseSchema,
  SwitchTeamResponseSchema,
  SyncConfigResponseSchema,
  TeamService,
} from "../../gen/deploystack/gateway/v1/team_service_pb.js";
import type { CliIo } from "../io.js";
import { enumName, escapeControls, formatTable, printJson } from "../output.js";

/**
 * `dsctl teams list | switch NAME|ID | sync`: one `TeamService` call each. Teams are named
 * by id or name, never by position in the list.
 */

/** The client these verbs use. */
export type TeamClient = Client<typeof TeamService>;

/** `--json`. */
export interface TeamsJsonFlag {
  readonly json?: boolean;
}

/** `dsctl teams list`: the current team is marked with `*`. */
export async function listTeams(client: TeamClient, args: TeamsJsonFlag, io: CliIo): Promise<number> {
  const response = await client.listTeams({});
  if (args.json) {
    printJson(io, ListTeamsResponseSchema, response);
    return 0;
  }
  if (response.teams.length === 0) {
    io.stdout.write("no teams\n");
    return 0;
  }
  io.stdout.write(
    formatTable(
      ["CURRENT", "ID", "NAME", "ROLE", "DEFAULT"],
      response.teams.map((team) => [team.isCurrent ? "*" : "", team.id, team.name, team.role, team.isDefault ? "yes" : ""]),
    ),
  );
  return 0;
}

/** `dsctl teams switch NAME|ID`. */
export async function switchTeam(client: TeamClient, args: TeamsJsonFlag & { readonly team: string }, io: CliIo): Promise<number> {
  const response = await client.switchTeam({ team: args.team });
  if (args.json) {
    printJson(io, SwitchTeamResponseSchema, response);
    return 0;
  }
  const team = response.team;
  io.stdout.write(`${escapeControls(`switched to team "${team?.name ?? args.team}" (${team?.id ?? ""}, role ${team?.role ?? "?"})`, { singleLine: true })}\n`);
  return 0;
}

/** `dsctl teams sync`: one line per server that changed, and a summary. */
export async function syncTeams(client: TeamClient, args: TeamsJsonFlag, io: CliIo): Promise<number> {
  const response = await client.syncConfig({});
  if (args.json) {
    printJson(io, SyncConfigResponseSchema, response);
    return 0;
  }
  if (response.changes.length === 0) {
    io.stdout.write("synced: the current team has no servers\n");
    return 0;
  }
  io.stdout.write(
    formatTable(
      ["SERVER", "CHANGE", "REASON"],
      response.changes.map((change) => [change.serverName, enumName(ServerChangeKind, change.kind), change.reason]),
    ),
  );
  return 0;
}
