/**
 * Servers the control plane lists but will not run (DeployStack marks them `invalid`: a
 * required argument or environment variable is missing for this user or device), shown
 * beside the supervised ones so that `dsctl servers list` says what is wrong instead of the
 * server silently missing. They are never handed to the supervisor, so nothing can start
 * them; the control API refuses to enable, disable, restart or tail them with the reason.
 */
import { GatewayError } from "../errors.js";
import type { ServerSnapshot } from "../supervisor/types.js";
import type { InvalidServer } from "./server-diff.js";

/** How an invalid server looks in `ListServers`: state `invalid`, the reason as its last error, nothing running. */
export function invalidServerSnapshot(server: InvalidServer): ServerSnapshot {
  return {
    name: server.name,
    state: "invalid",
    enabled: false,
    restarts: 0,
    lastError: server.reason,
    toolCount: 0,
    command: "",
    args: [],
    envNames: [],
    startup: "eager",
    prefix: "",
  };
}

/**
 * The supervised servers followed by the invalid ones (each name once: a supervised server
 * wins over an invalid entry that happens to share its name).
 */
export function withInvalidServers(supervised: readonly ServerSnapshot[], invalid: readonly InvalidServer[]): ServerSnapshot[] {
  const names = new Set(supervised.map((server) => server.name));
  const listed = [...supervised];
  for (const server of invalid) {
    if (names.has(server.name)) continue;
    names.add(server.name);
    listed.push(invalidServerSnapshot(server));
  }
  return listed;
}

/** The error for an action on an invalid server: it cannot run until its settings are completed. */
export function invalidServerError(server: InvalidServer): GatewayError {
  return new GatewayError("failed_precondition", `server "${server.name}" is invalid and is not started: ${server.reason}`);
}
