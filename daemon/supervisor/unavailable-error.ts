import { GatewayError } from "../errors.js";
import type { ServerState } from "./types.js";

/**
 * The error a caller gets for a server it cannot use. It is sent to MCP clients, so it names
 * the server, its state and where to look, and never carries the server's own words (its
 * stderr, its last error): those may hold secrets in a form no masker recognises, and an MCP
 * client is not where an operator reads them. `dsctl servers logs NAME` is.
 */
export function serverUnavailableError(server: {
  readonly name: string;
  readonly state: ServerState;
  readonly enabled: boolean;
  readonly removed?: boolean;
}): GatewayError {
  const quoted = `server "${server.name}"`;
  if (server.removed) return new GatewayError("unavailable", `${quoted} was removed`);
  if (!server.enabled) return new GatewayError("unavailable", `${quoted} is disabled`);
  if (server.state === "needs_auth") {
    return new GatewayError("unavailable", `${quoted} needs sign-in: run \`dsctl servers login ${server.name}\``);
  }
  if (server.state === "failed") {
    return new GatewayError("unavailable", `${quoted} is failed; see \`dsctl servers logs ${server.name}\` for why`);
  }
  return new GatewayError("unavailable", `${quoted} is ${server.state}`);
}

/**
 * A server's failure reason as an MCP client may see it (the management tool's status): the supervisor's own
 * summary — the first line of `lastError`, such as "exited with code 1" — without the stderr lines after it, and
 * where to read those.
 */
export function failureSummaryForClients(name: string, lastError: string): string {
  return `${lastError.split("\n", 1)[0]!.trim()} (its output: \`dsctl servers logs ${name}\`)`;
}
