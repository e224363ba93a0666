/**
 * The MCP SDK's OAuth client, loaded the first time a server with `oauth:` needs it. It brings zod and the SDK's
 * schemas — several megabytes of the daemon's memory (docs/architecture.md, "Memory: what loads when") — which a gateway without a
 * signed-in remote server never uses; with a static import every daemon paid for them.
 */
import type * as ClientAuth from "@modelcontextprotocol/sdk/client/auth.js";
import type * as AuthErrors from "@modelcontextprotocol/sdk/server/auth/errors.js";

/** What the gateway uses of the SDK's OAuth client. */
export type OAuthSdk = Pick<
  typeof ClientAuth,
  "auth" | "discoverAuthorizationServerMetadata" | "discoverOAuthServerInfo" | "extractWWWAuthenticateParams" | "refreshAuthorization"
> &
  Pick<typeof AuthErrors, "OAuthError" | "ServerError">;

let loading: Promise<OAuthSdk> | undefined;

/** The SDK's OAuth client (loaded once, on the first call). */
export function loadOAuthSdk(): Promise<OAuthSdk> {
  loading ??= Promise.all([import("@modelcontextprotocol/sdk/client/auth.js"), import("@modelcontextprotocol/sdk/server/auth/errors.js")]).then(
    ([client, errors]) => ({
      auth: client.auth,
      discoverAuthorizationServerMetadata: client.discoverAuthorizationServerMetadata,
      discoverOAuthServerInfo: client.discoverOAuthServerInfo,
      extractWWWAuthenticateParams: client.extractWWWAuthenticateParams,
      refreshAuthorization: client.refreshAuthorization,
      OAuthError: errors.OAuthError,
      ServerError: errors.ServerError,
    }),
  );
  return loading;
}
