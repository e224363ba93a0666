import type { Client } from "@connectrpc/connect";
import { ExplainPolicyResponseSchema, TeamService } from "../../gen/deploystack/gateway/v1/team_service_pb.js";
import type { CliIo } from "../io.js";
import { escapeControls, printJson } from "../output.js";

/**
 * `dsctl policy explain TOOL`: which rule of the current team's access policy decides
 * about a tool, through `TeamService.ExplainPolicy` (so dashboards can ask the same).
 * The answer names the tool both ways: the exposed name clients call and the canonical
 * `<prefix>-<tool>` the policy also judges (they differ when another server held the name).
 * Exit code 0 for allowed and denied alike: the question was answered; a tool that does not
 * exist is an error (with a "did you mean" hint from the daemon).
 */

/** `dsctl policy explain TOOL`. */
export async function explainPolicy(
  client: Client<typeof TeamService>,
  args: { readonly tool: string; readonly json?: boolean },
  io: CliIo,
): Promise<number> {
  const response = await client.explainPolicy({ tool: args.tool });
  if (args.json) {
    printJson(io, ExplainPolicyResponseSchema, response);
    return 0;
  }
  const decision = response.decision;
  io.stdout.write(`${escapeControls(`${decision?.tool ?? args.tool}: ${decision?.explanation ?? "no decision"}`)}\n`);
  if (response.server !== "") {
    const upstream = response.upstreamName === "" ? "the gateway's management tool" : `tool "${response.upstreamName}"`;
    io.stdout.write(
      `${escapeControls(`  exposed name ${response.exposedName}, canonical name ${response.canonicalName} (server "${response.server}", ${upstream})`)}\n`,
    );
  }
  return 0;
}
