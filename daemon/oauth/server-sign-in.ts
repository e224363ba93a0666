import type { Supervisor } from "../supervisor/types.js";
import type { OAuthRegistry } from "./oauth-registry.js";
import type { ServerLoginAttempt } from "./server-oauth.js";

/**
 * `dsctl servers login|logout NAME` in domain terms: finds the server's OAuth client, runs
 * the sign-in, and reconnects the server afterwards so that it leaves NEEDS_AUTH (or, after a
 * logout, reaches it) at once — no daemon restart, no waiting for a back-off.
 */

/** The sign-in operations `ServerService` exposes. */
export interface ServerSignIn {
  /** Starts a sign-in; `done` settles after the tokens are stored and the server was restarted. */
  begin(name: string, options: { readonly timeoutMs?: number; readonly signal?: AbortSignal }): Promise<ServerLoginAttempt>;
  /** Forgets the tokens and reconnects the server; true when any were stored. */
  logout(name: string): Promise<boolean>;
}

/** Creates the sign-in operations over the supervisor and the OAuth registry. */
export function createServerSignIn(deps: { readonly supervisor: Pick<Supervisor, "config" | "restart" | "get">; readonly registry: OAuthRegistry }): ServerSignIn {
  const { supervisor, registry } = deps;
  const reconnect = async (name: string): Promise<void> => {
    // A disabled server stays disabled; it will use the token when it is enabled.
    if (supervisor.get(name).enabled) await supervisor.restart(name);
  };
  return {
    async begin(name, options) {
      const oauth = registry.forServer(supervisor.config(name));
      const attempt = await oauth.beginLogin(options);
      const done = attempt.done.then(async (outcome) => {
        await reconnect(name);
        return outcome;
      });
      done.catch(() => {});
      return { authorizationUrl: attempt.authorizationUrl, done, cancel: attempt.cancel };
    },
    async logout(name) {
      const removed = await registry.forServer(supervisor.config(name)).logout();
      await reconnect(name);
      return removed;
    },
  };
}
