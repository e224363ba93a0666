import { silentLogger, type Logger } from "../../shared/logger.js";
import type { ServerConfig } from "../config/types.js";
import { GatewayError } from "../errors.js";
import type { UpstreamAuthProvider } from "../upstream/http-request.js";
import type { ServerOAuthConfig } from "./oauth-config.js";
import type { OAuthStore } from "./oauth-store.js";
import { createServerOAuth, type ServerOAuth } from "./server-oauth.js";

/**
 * The daemon's OAuth clients, one per remote server with `oauth:` in its config: the
 * supervisor asks for a server's sign-in seam on every connection attempt
 * (`upstreamAuthFor`), and `ServerService.LoginServer`/`LogoutServer` reach the same
 * instance by name. An instance lives as long as the server's URL and `oauth:` block stay
 * the same, so a refresh in flight and the token cache are shared by every connection.
 */

/** Inputs of `createOAuthRegistry`. */
export interface OAuthRegistryDeps {
  /** The vault's OAuth records; undefined when the vault could not be opened (no sign-in possible). */
  readonly store: OAuthStore | undefined;
  /** A token value of `server` became known: add it to that server's masker. */
  readonly onSecret?: (server: string, value: string) => void;
  /** `server` was signed in: reconnect it (NEEDS_AUTH → STARTING → RUNNING). */
  readonly onSignedIn?: (server: string) => void;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
  readonly logger?: Logger;
}

/** The registry. */
export interface OAuthRegistry {
  /** The sign-in seam of a server for its transport; undefined for a server without `oauth:`. */
  upstreamAuthFor(config: ServerConfig): UpstreamAuthProvider | undefined;
  /** The OAuth client of a server by its config; throws a clear error when it has no `oauth:`. */
  forServer(config: ServerConfig): ServerOAuth;
}

/** Creates the registry. */
export function createOAuthRegistry(deps: OAuthRegistryDeps): OAuthRegistry {
  const logger = deps.logger ?? silentLogger;
  const clients = new Map<string, { readonly key: string; readonly oauth: ServerOAuth }>();

  const forServer = (config: ServerConfig): ServerOAuth => {
    const remote = config.remote;
    if (!remote) throw new GatewayError("failed_precondition", `server "${config.name}" is not a remote server; only remote servers with oauth: sign in`);
    if (!remote.oauth) throw new GatewayError("failed_precondition", `server "${config.name}" has no oauth: block in its configuration; add \`oauth: {}\` to sign in`);
    if (!deps.store) throw new GatewayError("failed_precondition", "signing in needs the vault to keep the tokens, and the vault could not be opened (see the daemon log)");
    const key = JSON.stringify([remote.url, remote.oauth]);
    const known = clients.get(config.name);
    if (known?.key === key) return known.oauth;
    const oauth = createServerOAuth({
      serverName: config.name,
      serverUrl: remote.url,
      config: remote.oauth as ServerOAuthConfig,
      store: deps.store,
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
      ...(deps.now ? { now: deps.now } : {}),
      onSecret: (value) => deps.onSecret?.(config.name, value),
      onSignedIn: () => deps.onSignedIn?.(config.name),
      logger: logger.child({ server: config.name }),
    });
    clients.set(config.name, { key, oauth });
    return oauth;
  };

  return {
    upstreamAuthFor(config) {
      if (!config.remote?.oauth || !deps.store) return undefined;
      return toUpstreamAuth(forServer(config));
    },
    forServer,
  };
}

/**
 * The transport's view of a server's OAuth client. The transport attaches the header only to
 * the server's own origin; an authorization server that cannot be reached to refresh is an
 * outage (back-off and retry), not a reason to ask the user to sign in again.
 */
export function toUpstreamAuth(oauth: ServerOAuth): UpstreamAuthProvider {
  return {
    authorization: () => oauth.authorization(oauth.origin),
    async unauthorized(challenge) {
      const outcome = await oauth.unauthorized({
        ...(challenge.wwwAuthenticate !== undefined ? { wwwAuthenticate: challenge.wwwAuthenticate } : {}),
        ...(challenge.sentAuthorization !== undefined ? { sentAuthorization: challenge.sentAuthorization } : {}),
      });
      if (outcome === "unavailable") throw new GatewayError("unavailable", "the authorization server could not be reached to refresh the token");
      return outcome;
    },
    insufficientScope: (challenge) => oauth.insufficientScope(challenge.wwwAuthenticate),
  };
}
