import type { Client } from "@connectrpc/connect";
import { ExplainPolicyResponseSchema, TeamService } from "../../gen/deploystack/gateway/v1/team_service_pb.js";
import type { CliIo } from "../io.js";
import { escapeControls, printJson } from "../output.js";

/**
 * `dsctl policy explain TOOL`: which rule of the current team's access policy decides
 * about a tool, through `TeamService.ExplainPolicy` (so dashboards can ask the same).
 * Exit code 0 either way: the question was answered.
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
  return 0;
}
