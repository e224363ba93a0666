import type { Client } from "@connectrpc/connect";
import { ProfileToolMode } from "../../gen/deploystack/gateway/v1/team_pb.js";
import { ListProfilesResponseSchema, type TeamService } from "../../gen/deploystack/gateway/v1/team_service_pb.js";
import type { CliIo } from "../io.js";
import { escapeControls, formatTable, printJson } from "../output.js";

/**
 * `dsctl profiles list`: the current team's profiles (`TeamService.ListProfiles`), each with the URL an IDE
 * points at, so choosing a profile is copying a line.
 */

/** The client this verb uses. */
export type ProfileClient = Client<typeof TeamService>;

/** `dsctl profiles list` flags. */
export interface ProfilesListArgs {
  readonly json?: boolean;
}

const MODE_NAMES: Readonly<Record<number, string>> = { [ProfileToolMode.ALL]: "all", [ProfileToolMode.SEARCH]: "search" };

/** One line per profile; the default one (what the bare URL serves) is marked `*`. */
export async function listProfiles(client: ProfileClient, args: ProfilesListArgs, io: CliIo): Promise<number> {
  const response = await client.listProfiles({});
  if (args.json) {
    printJson(io, ListProfilesResponseSchema, response);
    return 0;
  }
  io.stdout.write(
    formatTable(
      ["DEFAULT", "PROFILE", "MODE", "TOOLS", "SERVERS", "URL"],
      response.profiles.map((profile) => [
        profile.isDefault ? "*" : "",
        profile.name,
        MODE_NAMES[profile.mode] ?? "?",
        String(profile.toolCount),
        profile.servers.length === 0 ? "all" : profile.servers.join(","),
        profile.url === "" ? "(frontend not listening)" : profile.url,
      ]),
    ),
  );
  const described = response.profiles.filter((profile) => profile.description !== "");
  for (const profile of described) io.stdout.write(`${escapeControls(`${profile.name}: ${profile.description}`, { singleLine: true })}\n`);
  if (response.profiles.length === 1 && !response.profiles[0]!.defined) {
    io.stdout.write("the team defines no profiles: add `profiles:` to its team file (README: Profiles and tool search)\n");
  }
  return 0;
}
