import type { OAuthClientProvider, OAuthDiscoveryState } from "@modelcontextprotocol/sdk/client/auth.js";
import type {
  AuthorizationServerMetadata,
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from "@modelcontextprotocol/sdk/shared/auth.js";
import { silentLogger, type Logger } from "../../shared/logger.js";
import { startCallbackListener } from "../cloud/callback-listener.js";
import { createOAuthState } from "../cloud/pkce.js";
import { GatewayError } from "../errors.js";
import type { JsonObject } from "../upstream/types.js";
import { checkAuthorizationResponseIssuer } from "./issuer-check.js";
import { loadOAuthSdk, type OAuthSdk } from "./oauth-sdk.js";
import { loginCommand, type ServerOAuthConfig } from "./oauth-config.js";
import type { OAuthStore, StoredTokens } from "./oauth-store.js";

/**
 * OAuth 2.1 for one remote MCP server, as the MCP authorization specification asks of a
 * client: protected-resource metadata discovery (RFC 9728, from the 401 challenge's
 * `resource_metadata` or the well-known URLs), authorization-server metadata (RFC 8414 /
 * OpenID discovery, its `issuer` checked against the URL it was found under), PKCE S256,
 * the `resource` parameter (RFC 8707), client registration (a configured client, else a
 * Client ID Metadata Document where the server supports one, else dynamic registration
 * with `application_type: "native"`), `iss` validation of the authorization response
 * (RFC 9207), and refresh before expiry and after a 401.
 *
 * The SDK's client (`auth()` and its helpers) does discovery, registration, the
 * authorization request and the token exchange; this module adds what it leaves to its
 * caller: where credentials live (the vault, bound to the issuer), the loopback callback,
 * the issuer checks, and the rule that a token is only ever attached to a request for
 * the server's own origin.
 *
 * The upstream transport uses two hooks (through `toUpstreamAuth` in oauth-registry.ts):
 * `authorization(url)` for the header of each request and `unauthorized(...)` when a
 * request was answered 401.
 */

/** What the transport should do after a 401. */
export type UnauthorizedOutcome =
  /** A fresh token is in place: send the request once more. */
  | "retry"
  /** No usable token: the server is NEEDS_AUTH until `dsctl servers login`. */
  | "needs_auth"
  /** The authorization server could not be reached to refresh; try again later. */
  | "unavailable";

/** A sign-in waiting for the browser. */
export interface ServerLoginAttempt {
  /** The URL the user opens. */
  readonly authorizationUrl: string;
  /** Settles once the browser came back and the tokens are stored; rejects with a `GatewayError`. */
  readonly done: Promise<{ readonly issuer: string }>;
  /** Stops waiting (closes the loopback listener). */
  cancel(): void;
}

/** The OAuth side of one remote server. */
export interface ServerOAuth {
  /** The server's origin: the only one its credentials are ever sent to. */
  readonly origin: string;
  /**
   * The `Authorization` header value for a request to `requestUrl`, refreshing the token
   * first when it is about to expire; undefined when there is no token or the URL is not on
   * the server's own origin (credentials never leave for another origin).
   */
  authorization(requestUrl: string | URL): Promise<string | undefined>;
  /**
   * Tells the module the server answered 401. `sentAuthorization` is the header that request
   * carried (absent: none), so that many requests failing with the same stale token refresh it
   * only once, and one sent before a sign-in is simply sent again.
   */
  unauthorized(challenge: { readonly wwwAuthenticate?: string | null; readonly sentAuthorization?: string }): Promise<UnauthorizedOutcome>;
  /**
   * Tells the module the server answered 403 `insufficient_scope` (step-up): the next sign-in asks for the scopes the
   * server named together with those already granted and configured, so that none is lost ("Scope Selection
   * Strategy"). Returns the named scope, restricted to scope characters and bounded, for the caller's message.
   */
  insufficientScope(wwwAuthenticate: string): Promise<string | undefined>;
  /** Starts an interactive sign-in (`dsctl servers login`). */
  beginLogin(options?: { readonly timeoutMs?: number; readonly signal?: AbortSignal }): Promise<ServerLoginAttempt>;
  /** Removes the server's tokens from the vault; true when there were any. */
  logout(): Promise<boolean>;
  /** Whether a token is stored (it may still be refused by the server). */
  hasTokens(): Promise<boolean>;
  /** The NEEDS_AUTH error, naming the exact command to run. */
  needsAuthError(): GatewayError;
}

/** Inputs of `createServerOAuth`. */
export interface ServerOAuthDeps {
  readonly serverName: string;
  /** The MCP endpoint URL of the server. */
  readonly serverUrl: string;
  readonly config: ServerOAuthConfig;
  readonly store: OAuthStore;
  /** Fetch for discovery, registration and token requests; default the global fetch. */
  readonly fetch?: typeof fetch;
  /** Clock (epoch ms); default `Date.now`. */
  readonly now?: () => number;
  /** Refresh this long before the access token expires; default 60 s. */
  readonly refreshEarlyMs?: number;
  /** Each token value as it becomes known, so the server's masker can hide it everywhere. */
  readonly onSecret?: (value: string) => void;
  /** Called after a sign-in stored new tokens: the server should be reconnected now. */
  readonly onSignedIn?: () => void;
  /** Limit for each request to the authorization server; default 30 s. */
  readonly requestTimeoutMs?: number;
  readonly logger?: Logger;
}

const defaultLoginTimeoutMs = 5 * 60_000;

/**
 * A `WWW-Authenticate` challenge's parameters, read by the SDK's parser. Whatever a hostile server writes there, it
 * never throws out of the transport: characters a `Headers` object refuses are blanked, and anything else it refuses
 * leaves no parameters.
 */
async function challengeParams(status: number, wwwAuthenticate: string): Promise<ReturnType<OAuthSdk["extractWWWAuthenticateParams"]>> {
  const { extractWWWAuthenticateParams } = await loadOAuthSdk();
  try {
    // What no header value may hold (controls, DEL, beyond Latin-1) separates words like a space would.
    const value = wwwAuthenticate.replace(/[^\t\x20-\x7e\x80-\xff]/g, " ");
    return extractWWWAuthenticateParams(new Response(null, { status, headers: { "www-authenticate": value } }));
  } catch {
    return {};
  }
}

/** The longest scope text a message repeats (a server chooses it). */
const MAX_SCOPE_TEXT = 200;

/**
 * The scope tokens of a `scope` value (RFC 6749 §3.3: space-separated, each of %x21 / %x23-5B / %x5D-7E): anything
 * else a server put there is dropped, so a message or a sign-in request never carries it.
 */
function scopeTokens(scope: string | undefined): string[] {
  if (!scope) return [];
  return scope.split(" ").filter((token) => token !== "" && token.length <= 128 && /^[\x21\x23-\x5B\x5D-\x7E]+$/.test(token)).slice(0, 32);
}

/** Creates the OAuth side of one remote server. */
export function createServerOAuth(deps: ServerOAuthDeps): ServerOAuth {
  const now = deps.now ?? Date.now;
  const logger = deps.logger ?? silentLogger;
  const refreshEarlyMs = deps.refreshEarlyMs ?? 60_000;
  const serverOrigin = new URL(deps.serverUrl).origin;
  const command = loginCommand(deps.serverName);
  const baseFetch = deps.fetch ?? fetch;
  const requestTimeoutMs = deps.requestTimeoutMs ?? 30_000;
  const fetchFn: typeof fetch = (input, init) =>
    baseFetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, AbortSignal.timeout(requestTimeoutMs)]) : AbortSignal.timeout(requestTimeoutMs) });

  let cached: StoredTokens | undefined | null = null; // null: not read yet
  let refreshing: Promise<StoredTokens | undefined> | undefined;
  let lastChallenge: { resourceMetadataUrl?: URL; scope?: string } = {};
  const metadataByIssuer = new Map<string, AuthorizationServerMetadata>();

  const announce = (tokens: StoredTokens | undefined): void => {
    if (!tokens) return;
    deps.onSecret?.(tokens.accessToken);
    if (tokens.refreshToken) deps.onSecret?.(tokens.refreshToken);
  };
  if (deps.config.clientSecret) deps.onSecret?.(deps.config.clientSecret);

  const load = async (): Promise<StoredTokens | undefined> => {
    if (cached === null) {
      let stored: StoredTokens | undefined;
      try {
        stored = await deps.store.readTokens(deps.serverName);
      } catch (error) {
        // A record that fails authentication is reported, never used; the server asks for a sign-in, which replaces it.
        logger.error({ server: deps.serverName, reason: (error as Error).message }, "cannot read the server's OAuth tokens from the vault");
      }
      // Tokens obtained for another URL (the server's configuration changed) are not for this server.
      cached = stored?.serverUrl === deps.serverUrl ? stored : undefined;
      announce(cached);
    }
    return cached;
  };
  const save = async (tokens: StoredTokens): Promise<void> => {
    announce(tokens);
    await deps.store.writeTokens(deps.serverName, tokens);
    cached = tokens;
  };
  const forget = async (): Promise<boolean> => {
    cached = undefined;
    return deps.store.removeTokens(deps.serverName);
  };

  /** The AS metadata for stored tokens, found again after a restart and checked against their issuer. */
  const metadataFor = async (tokens: StoredTokens): Promise<AuthorizationServerMetadata> => {
    const known = metadataByIssuer.get(tokens.issuer);
    if (known) return known;
    const { discoverAuthorizationServerMetadata } = await loadOAuthSdk();
    const metadata = await discoverAuthorizationServerMetadata(tokens.authorizationServerUrl, { fetchFn });
    if (!metadata) throw new GatewayError("unavailable", `authorization server "${tokens.authorizationServerUrl}" publishes no metadata`);
    checkMetadataIssuer(tokens.authorizationServerUrl, metadata);
    if (metadata.issuer !== tokens.issuer) {
      throw new GatewayError("permission_denied", `authorization server "${tokens.authorizationServerUrl}" now calls itself "${metadata.issuer}", not "${tokens.issuer}"`);
    }
    metadataByIssuer.set(tokens.issuer, metadata);
    return metadata;
  };

  /** The client the tokens were issued to: configured, a metadata document URL, or a stored registration. */
  const clientFor = async (tokens: StoredTokens): Promise<OAuthClientInformationMixed | undefined> => {
    const clientId = tokens.clientId;
    if (clientId === undefined) return undefined;
    if (deps.config.clientId === clientId) return configuredClient();
    if (deps.config.clientMetadataUrl === clientId) return { client_id: clientId };
    const stored = await deps.store.readClient(tokens.issuer);
    if (!stored || stored.information.client_id !== clientId) return undefined;
    if (typeof stored.information.client_secret === "string") deps.onSecret?.(stored.information.client_secret);
    return stored.information as unknown as OAuthClientInformationMixed;
  };
  const configuredClient = (): OAuthClientInformationMixed | undefined =>
    deps.config.clientId
      ? { client_id: deps.config.clientId, ...(deps.config.clientSecret ? { client_secret: deps.config.clientSecret } : {}) }
      : undefined;

  /** Uses the refresh token; undefined when there is none or the AS refused it (the tokens are then forgotten). */
  const refresh = (current: StoredTokens): Promise<StoredTokens | undefined> => {
    refreshing ??= (async () => {
      try {
        if (!current.refreshToken) {
          await forget();
          return undefined;
        }
        const client = await clientFor(current);
        if (!client) {
          await forget();
          return undefined;
        }
        const metadata = await metadataFor(current);
        const { refreshAuthorization, OAuthError, ServerError } = await loadOAuthSdk();
        let fresh: OAuthTokens;
        try {
          fresh = await refreshAuthorization(current.authorizationServerUrl, {
            metadata,
            clientInformation: client,
            refreshToken: current.refreshToken,
            resource: current.resource,
            fetchFn,
          });
        } catch (error) {
          if (error instanceof OAuthError && !(error instanceof ServerError)) {
            logger.info({ server: deps.serverName, error: error.errorCode }, "the authorization server refused the refresh token; sign-in needed");
            await forget();
            return undefined;
          }
          throw new GatewayError("unavailable", `cannot refresh the token of server "${deps.serverName}" at "${current.issuer}"`, { cause: error });
        }
        const next: StoredTokens = {
          ...current,
          accessToken: fresh.access_token,
          tokenType: fresh.token_type || "Bearer",
          refreshToken: fresh.refresh_token ?? current.refreshToken,
          expiresAt: fresh.expires_in !== undefined ? now() + fresh.expires_in * 1000 : undefined,
          scope: fresh.scope ?? current.scope,
        };
        await save(next);
        logger.info({ server: deps.serverName, issuer: current.issuer }, "oauth token refreshed");
        return next;
      } finally {
        refreshing = undefined;
      }
    })();
    return refreshing;
  };

  const headerOf = (tokens: StoredTokens): string => `Bearer ${tokens.accessToken}`;

  return {
    origin: serverOrigin,
    async authorization(requestUrl) {
      if (new URL(requestUrl).origin !== serverOrigin) return undefined;
      let tokens = await load();
      if (!tokens) return undefined;
      if (tokens.expiresAt !== undefined && now() >= tokens.expiresAt - refreshEarlyMs) {
        try {
          tokens = await refresh(tokens);
        } catch (error) {
          // The AS is unreachable: the current token may still work; the server will say.
          logger.warn({ server: deps.serverName, err: (error as Error).message }, "oauth refresh before expiry failed");
        }
        if (!tokens) return undefined;
      }
      return headerOf(tokens);
    },

    async unauthorized(challenge) {
      if (challenge.wwwAuthenticate) {
        const params = await challengeParams(401, challenge.wwwAuthenticate);
        lastChallenge = { resourceMetadataUrl: params.resourceMetadataUrl, scope: params.scope };
        // More scope is needed (step-up): only a new sign-in can grant it.
        if (params.error === "insufficient_scope") return "needs_auth";
      }
      const tokens = await load();
      if (!tokens) return "needs_auth";
      // The request went without a token (signed in since), or another request already replaced the one it carried.
      if (challenge.sentAuthorization !== headerOf(tokens)) return "retry";
      try {
        return (await refresh(tokens)) ? "retry" : "needs_auth";
      } catch {
        return "unavailable";
      }
    },

    async insufficientScope(wwwAuthenticate) {
      const params = await challengeParams(403, wwwAuthenticate);
      const required = scopeTokens(params.scope);
      const wanted = new Set([...(deps.config.scopes ?? []).flatMap((scope) => scopeTokens(scope)), ...scopeTokens(cached?.scope), ...required]);
      lastChallenge = {
        ...(params.resourceMetadataUrl ? { resourceMetadataUrl: params.resourceMetadataUrl } : lastChallenge.resourceMetadataUrl ? { resourceMetadataUrl: lastChallenge.resourceMetadataUrl } : {}),
        ...(wanted.size > 0 ? { scope: [...wanted].join(" ") } : {}),
      };
      // The scope text is the server's: it goes into the caller's error (masked there like any server answer), not the log.
      logger.info({ server: deps.serverName }, "server wants more scope than the token grants");
      const named = required.join(" ");
      return named === "" ? undefined : named.length <= MAX_SCOPE_TEXT ? named : `${named.slice(0, MAX_SCOPE_TEXT)}…`;
    },

    async beginLogin(options = {}) {
      const timeoutMs = options.timeoutMs ?? defaultLoginTimeoutMs;
      const { auth, discoverOAuthServerInfo, OAuthError } = await loadOAuthSdk();
      let info;
      try {
        info = await discoverOAuthServerInfo(deps.serverUrl, { resourceMetadataUrl: lastChallenge.resourceMetadataUrl, fetchFn });
      } catch (error) {
        throw new GatewayError("unavailable", `cannot discover how to sign in to server "${deps.serverName}": ${(error as Error).message.slice(0, 200)}`, { cause: error });
      }
      const metadata = info.authorizationServerMetadata;
      if (!metadata) {
        throw new GatewayError("failed_precondition", `server "${deps.serverName}" names authorization server "${info.authorizationServerUrl}", which publishes no metadata`);
      }
      checkMetadataIssuer(info.authorizationServerUrl, metadata);
      if (!metadata.code_challenge_methods_supported?.includes("S256")) {
        // MCP authorization: a client MUST refuse to proceed when PKCE support is not advertised.
        throw new GatewayError("failed_precondition", `authorization server "${metadata.issuer}" does not advertise PKCE S256; refusing to sign in`);
      }
      const issuer = metadata.issuer;
      metadataByIssuer.set(issuer, metadata);

      const state = createOAuthState();
      const listener = await startCallbackListener({
        port: 0,
        expectedState: state,
        timeoutMs,
        signal: options.signal,
        provider: `"${deps.serverName}"`,
        retryCommand: command,
        checkIssuer: (iss) => checkAuthorizationResponseIssuer(issuer, (metadata as { authorization_response_iss_parameter_supported?: boolean }).authorization_response_iss_parameter_supported === true, iss),
      });

      let authorizationUrl: URL | undefined;
      let verifier: string | undefined;
      let chosenClient: OAuthClientInformationMixed | undefined = configuredClient();
      if (!chosenClient) {
        const stored = await deps.store.readClient(issuer);
        const usesMetadataDocument = metadata.client_id_metadata_document_supported === true && deps.config.clientMetadataUrl !== undefined;
        if (stored && !usesMetadataDocument) {
          chosenClient = stored.information as unknown as OAuthClientInformationMixed;
          if (typeof stored.information.client_secret === "string") deps.onSecret?.(stored.information.client_secret);
        }
      }
      if (!chosenClient && metadata.client_id_metadata_document_supported !== true && !metadata.registration_endpoint) {
        listener.close();
        throw new GatewayError(
          "failed_precondition",
          `authorization server "${issuer}" supports neither client metadata documents nor dynamic registration: set oauth.clientId (a client registered there) for server "${deps.serverName}"`,
        );
      }
      let received: OAuthTokens | undefined;
      const scope = lastChallenge.scope ?? (deps.config.scopes?.length ? deps.config.scopes.join(" ") : undefined);
      const clientMetadata = {
        client_name: "DeployStack Gateway",
        redirect_uris: [listener.redirectUri],
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        token_endpoint_auth_method: "none",
        // MCP client registration: a loopback redirect is a native application's.
        application_type: "native",
        software_id: "deploystack-gateway",
        ...(scope ? { scope } : {}),
      } as OAuthClientMetadata;
      const discovery: OAuthDiscoveryState = { ...info, resourceMetadataUrl: lastChallenge.resourceMetadataUrl?.href };
      const provider: OAuthClientProvider = {
        get redirectUrl() {
          return listener.redirectUri;
        },
        clientMetadataUrl: deps.config.clientMetadataUrl,
        get clientMetadata() {
          return clientMetadata;
        },
        state: () => state,
        clientInformation: () => chosenClient,
        saveClientInformation: async (information) => {
          chosenClient = information;
          if ("client_secret" in information && typeof information.client_secret === "string") deps.onSecret?.(information.client_secret);
          const isRegistration = information.client_id !== deps.config.clientId && information.client_id !== deps.config.clientMetadataUrl;
          if (isRegistration) await deps.store.writeClient({ issuer, information: information as unknown as JsonObject });
        },
        tokens: () => undefined,
        saveTokens: (tokens) => {
          received = tokens;
        },
        redirectToAuthorization: (url) => {
          authorizationUrl = url;
        },
        saveCodeVerifier: (codeVerifier) => {
          verifier = codeVerifier;
        },
        codeVerifier: () => {
          if (verifier === undefined) throw new GatewayError("internal", "no PKCE verifier recorded");
          return verifier;
        },
        discoveryState: () => discovery,
        saveDiscoveryState: () => {},
      };
      const sdkOptions = { serverUrl: deps.serverUrl, scope, resourceMetadataUrl: lastChallenge.resourceMetadataUrl, fetchFn };
      try {
        const result = await auth(provider, sdkOptions);
        if (result !== "REDIRECT" || !authorizationUrl) throw new GatewayError("internal", "the authorization request was not prepared");
      } catch (error) {
        listener.close();
        if (error instanceof GatewayError) throw error;
        throw new GatewayError("unavailable", `cannot start the sign-in to server "${deps.serverName}": ${(error as Error).message.slice(0, 200)}`, { cause: error });
      }
      const resource = authorizationUrl.searchParams.get("resource") ?? undefined;

      const done = (async () => {
        const code = await listener.code;
        try {
          await auth(provider, { ...sdkOptions, authorizationCode: code });
        } catch (error) {
          // Only the OAuth error code: the server's own text could echo the code or the client secret back.
          const reason = error instanceof OAuthError ? error.errorCode : "the token request failed";
          throw new GatewayError("permission_denied", `the authorization server "${issuer}" refused the sign-in to server "${deps.serverName}": ${reason.slice(0, 60)}`, {
            cause: error,
          });
        }
        if (!received) throw new GatewayError("internal", "no tokens were received");
        const tokens: StoredTokens = {
          serverUrl: deps.serverUrl,
          issuer,
          authorizationServerUrl: info.authorizationServerUrl,
          ...(resource ? { resource } : {}),
          accessToken: received.access_token,
          tokenType: received.token_type || "Bearer",
          ...(received.refresh_token ? { refreshToken: received.refresh_token } : {}),
          ...(received.expires_in !== undefined ? { expiresAt: now() + received.expires_in * 1000 } : {}),
          ...(received.scope ? { scope: received.scope } : {}),
          clientId: chosenClient!.client_id,
        };
        await save(tokens);
        lastChallenge = {};
        logger.info({ server: deps.serverName, issuer }, "signed in to remote server");
        deps.onSignedIn?.();
        return { issuer };
      })();
      done.catch(() => {});
      return { authorizationUrl: authorizationUrl.href, done, cancel: () => listener.close() };
    },

    async logout() {
      return forget();
    },

    async hasTokens() {
      return (await load()) !== undefined;
    },

    needsAuthError() {
      return new GatewayError("failed_precondition", `server "${deps.serverName}" needs sign-in: run \`${command}\``);
    },
  };
}

/**
 * RFC 8414 §3.3 (and the MCP authorization-server discovery section): the metadata's
 * `issuer` must be the identifier its well-known URL was built from, or a server could
 * pass off another's metadata. The only leniency is the URL parser's own equivalence of an
 * empty path with "/".
 */
function checkMetadataIssuer(authorizationServerUrl: string, metadata: AuthorizationServerMetadata): void {
  const same = metadata.issuer === authorizationServerUrl || sameHref(metadata.issuer, authorizationServerUrl);
  if (!same) {
    throw new GatewayError(
      "permission_denied",
      `the metadata found for authorization server "${authorizationServerUrl}" names issuer "${String(metadata.issuer).slice(0, 120)}"; refused (RFC 8414 §3.3)`,
    );
  }
}

function sameHref(a: string, b: string): boolean {
  try {
    return new URL(a).href === new URL(b).href;
  } catch {
    return false;
  }
}
