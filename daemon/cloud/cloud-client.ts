import { silentLogger, type Logger } from "../../shared/logger.js";
import { GatewayError } from "../errors.js";
import type { JsonObject } from "../upstream/types.js";
import type { Vault } from "../vault/vault.js";
import { startCallbackListener } from "./callback-listener.js";
import {
  CLOUD_PATHS,
  DEFAULT_CALLBACK_PORT,
  DEFAULT_CLOUD_URL,
  OAUTH_CLIENT_ID,
  OAUTH_SCOPES,
  cloudTeamSchema,
  configurationsResponseSchema,
  serversFromWire,
  teamFromWire,
  teamsResponseSchema,
  userFromWire,
  userInfoSchema,
  type CloudServer,
  type CloudTeam,
  type CloudUser,
  type MalformedCloudServer,
} from "./cloud-contract.js";
import { RefusedGrantError, getJson, issuePaths, requestTokens, type CloudHttp, type FetchFunction, type TokenEncoding, type TokenSet } from "./cloud-http.js";
import { resolveDeviceId, type MachineIdReader } from "./device-id.js";
import { createOAuthState, createPkcePair } from "./pkce.js";

/**
 * The DeployStack cloud API client: login (OAuth 2.0 authorization code with PKCE and a
 * loopback redirect, RFC 6749 §4.1, RFC 7636, RFC 8252), the session's tokens, and the
 * three read calls the gateway needs (userinfo, teams, configurations).
 *
 * Tokens live only in the vault (`cloud.session`) and in memory. They are refreshed before
 * they expire (on the injected clock) and refresh tokens are single-use, so one refresh
 * runs at a time and the new pair is written to the vault before it is used: a crash
 * between the refresh and the write would otherwise leave only a dead refresh token on
 * disk. A refused refresh ends the session: the tokens are removed, `onSessionExpired`
 * listeners are told once, and every call fails with one clear error until the next login.
 * Downloaded teams and configurations are kept in the vault too (`cloud.teams`,
 * `cloud.configurations`), so the daemon can start with them offline.
 */

/** Vault records of the cloud source; `logout` wipes every record with this prefix. */
export const CLOUD_RECORD_PREFIX = "cloud.";
const SESSION_RECORD = "cloud.session";
const TEAMS_RECORD = "cloud.teams";
const CONFIGURATIONS_RECORD = "cloud.configurations";

/** The message users see whenever the session cannot be refreshed. */
export const SESSION_EXPIRED_MESSAGE = "the DeployStack session has expired — run `dsctl login`";
const NOT_LOGGED_IN_MESSAGE = "not logged in to DeployStack — run `dsctl login`";

/** Inputs of `createCloudClient`. */
export interface CloudClientOptions {
  readonly vault: Vault;
  /** API base URL for new logins; default `https://cloud-api.deploystack.io`. A session keeps the URL it logged in to. */
  readonly baseUrl?: string;
  /** Epoch ms; injectable so tests can move time. Default `Date.now`. */
  readonly now?: () => number;
  readonly fetch?: FetchFunction;
  /** Bound on each HTTP call; default 30 s. */
  readonly requestTimeoutMs?: number;
  /** Refresh when less than this is left (capped at half the token's lifetime); default 5 min. */
  readonly refreshMarginMs?: number;
  /** Token request encoding; default `json` (see cloud-http.ts). */
  readonly tokenEncoding?: TokenEncoding;
  /** The OS machine id reader for the device id (tests inject one). */
  readonly readMachineId?: MachineIdReader;
  readonly logger?: Logger;
}

/** Options of one login. */
export interface LoginOptions {
  /** Overrides the client's base URL for this login (`dsctl login --url`). */
  readonly baseUrl?: string;
  /** Loopback callback port; default 8976 (what DeployStack accepts); 0 picks a free one. */
  readonly callbackPort?: number;
  /** How long to wait for the browser; default 5 min. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** A login waiting for the browser. */
export interface LoginAttempt {
  /** Open this in a browser (and always print it). */
  readonly authorizationUrl: string;
  readonly redirectUri: string;
  /** Resolves once the user is signed in and the session is stored. */
  readonly done: Promise<LoginResult>;
  /** Gives up (the `done` promise rejects with `cancelled`). */
  cancel(): void;
}

/** The outcome of a login. */
export interface LoginResult {
  readonly user: CloudUser;
  readonly baseUrl: string;
  readonly scope: string;
  /** True when a different account (or API) was signed in before; its downloaded data was wiped. */
  readonly accountChanged: boolean;
}

/** What is known about the session without asking the network. */
export type SessionStatus =
  | { readonly loggedIn: false; readonly expired: boolean }
  | { readonly loggedIn: true; readonly baseUrl: string; readonly user?: CloudUser; readonly expiresAt: number; readonly scope: string };

/** The downloaded configurations. */
export interface CloudConfigurations {
  readonly servers: readonly CloudServer[];
  readonly malformed: readonly MalformedCloudServer[];
  /** Epoch ms. */
  readonly fetchedAt: number;
  readonly hardwareId: string;
}

/** The client. */
export interface CloudClient {
  beginLogin(options?: LoginOptions): Promise<LoginAttempt>;
  /**
   * Forgets the session and everything downloaded with it (`cloud.*` vault records).
   * Returns the ids of the teams that were stored, so the caller can clear their tool caches.
   */
  logout(): Promise<{ readonly teamIds: string[] }>;
  status(): Promise<SessionStatus>;
  /** `GET /api/oauth2/userinfo`. */
  whoAmI(): Promise<CloudUser>;
  /** `GET /api/teams/me`; stored in the vault. */
  listTeams(): Promise<CloudTeam[]>;
  /** `GET /api/gateway/me/mcp-configurations?hardware_id=…`; stored in the vault. */
  fetchConfigurations(): Promise<CloudConfigurations>;
  /** The last downloaded teams, without the network. */
  storedTeams(): Promise<CloudTeam[] | undefined>;
  /** The last downloaded configurations, without the network. */
  storedConfigurations(): Promise<CloudConfigurations | undefined>;
  /** The stable device id sent as `hardware_id`. */
  deviceId(): Promise<string>;
  /** Called once each time a refused refresh ends the session. Returns an unsubscribe function. */
  onSessionExpired(listener: () => void): () => void;
}

interface StoredSession {
  readonly baseUrl: string;
  readonly tokens: TokenSet;
  readonly user?: CloudUser;
}

/** Creates the client; it reads the vault lazily. */
export function createCloudClient(options: CloudClientOptions): CloudClient {
  const vault = options.vault;
  const logger = options.logger ?? silentLogger;
  const now = options.now ?? Date.now;
  const defaultBaseUrl = normalizeBaseUrl(options.baseUrl ?? DEFAULT_CLOUD_URL);
  const refreshMarginMs = options.refreshMarginMs ?? 5 * 60_000;
  const http: CloudHttp = {
    fetch: options.fetch ?? fetch,
    timeoutMs: options.requestTimeoutMs ?? 30_000,
    now,
    tokenEncoding: options.tokenEncoding ?? "json",
  };
  const expiredListeners = new Set<() => void>();

  /** undefined: not loaded yet; null: no session. */
  let session: StoredSession | null | undefined;
  let expired = false;
  let refreshing: Promise<StoredSession> | undefined;
  let hardwareId: Promise<string> | undefined;

  const loadSession = async (): Promise<StoredSession | null> => {
    if (session === undefined) session = sessionFromRecord(await vault.read(SESSION_RECORD));
    return session;
  };

  const requireSession = async (): Promise<StoredSession> => {
    const current = await loadSession();
    if (!current) throw new GatewayError("failed_precondition", expired ? SESSION_EXPIRED_MESSAGE : NOT_LOGGED_IN_MESSAGE);
    return current;
  };

  const saveSession = async (next: StoredSession): Promise<void> => {
    await vault.write(SESSION_RECORD, sessionToRecord(next));
    session = next;
  };

  const endSession = async (): Promise<void> => {
    session = null;
    expired = true;
    await vault.remove(SESSION_RECORD);
    logger.warn("the DeployStack session has expired (refresh refused); `dsctl login` is needed");
    for (const listener of [...expiredListeners]) {
      try {
        listener();
      } catch (error) {
        logger.error({ err: String(error) }, "session-expired listener failed");
      }
    }
  };

  const refresh = (stale: StoredSession): Promise<StoredSession> => {
    refreshing ??= (async () => {
      try {
        let tokens: TokenSet;
        try {
          tokens = await requestTokens(http, stale.baseUrl, { grant_type: "refresh_token", refresh_token: stale.tokens.refreshToken }, stale.tokens.refreshToken);
        } catch (error) {
          if (error instanceof RefusedGrantError) {
            await endSession();
            throw new GatewayError("failed_precondition", SESSION_EXPIRED_MESSAGE);
          }
          throw error;
        }
        const next: StoredSession = { ...stale, tokens };
        try {
          await saveSession(next);
        } catch (error) {
          // The old refresh token is spent: keep the new pair for this process at least.
          session = next;
          throw new GatewayError("internal", "the refreshed DeployStack session could not be saved to the vault", { cause: error });
        }
        logger.info({ expiresAt: new Date(tokens.expiresAt).toISOString() }, "DeployStack session refreshed");
        return next;
      } finally {
        refreshing = undefined;
      }
    })();
    return refreshing;
  };

  /** A session whose access token is valid for a while yet, refreshing first when needed. */
  const freshSession = async (force = false): Promise<StoredSession> => {
    if (refreshing) return refreshing;
    const current = await requireSession();
    const { issuedAt, expiresAt } = current.tokens;
    const margin = Math.min(refreshMarginMs, Math.max(0, (expiresAt - issuedAt) / 2));
    if (!force && expiresAt - now() > margin) return current;
    return refresh(current);
  };

  /** An authenticated GET; a 401 gets one forced refresh and one retry. */
  const apiGet = async (pathAndQuery: string): Promise<unknown> => {
    let current = await freshSession();
    let response = await getJson(http, current.baseUrl, pathAndQuery, current.tokens.accessToken);
    if (response.status === 401) {
      const used = current.tokens.accessToken;
      // Another call may have refreshed meanwhile; never spend the old refresh token twice.
      const latest = session;
      current = refreshing ? await refreshing : latest && latest.tokens.accessToken !== used ? latest : await refresh(current);
      response = await getJson(http, current.baseUrl, pathAndQuery, current.tokens.accessToken);
      if (response.status === 401) {
        await endSession();
        throw new GatewayError("failed_precondition", SESSION_EXPIRED_MESSAGE);
      }
    }
    const path = pathAndQuery.split("?")[0];
    if (response.status === 403) {
      throw new GatewayError("permission_denied", `the DeployStack API refused GET ${path} (403: ${apiError(response.body)}) — log in again to grant the gateway's scopes`);
    }
    if (response.status < 200 || response.status >= 300) {
      throw new GatewayError(response.status >= 500 ? "unavailable" : "failed_precondition", `the DeployStack API answered ${response.status} to GET ${path} (${apiError(response.body)})`);
    }
    return response.body;
  };

  const fetchUser = async (baseUrl: string, accessToken: string): Promise<CloudUser> => {
    const response = await getJson(http, baseUrl, CLOUD_PATHS.userinfo, accessToken);
    if (response.status !== 200) throw new GatewayError("unavailable", `the DeployStack API answered ${response.status} to GET ${CLOUD_PATHS.userinfo}`);
    return parseUser(response.body);
  };

  const deviceId = (): Promise<string> => {
    hardwareId ??= resolveDeviceId(vault, options.readMachineId).catch((error: unknown) => {
      hardwareId = undefined;
      throw error;
    });
    return hardwareId;
  };

  return {
    async beginLogin(loginOptions = {}) {
      const baseUrl = normalizeBaseUrl(loginOptions.baseUrl ?? defaultBaseUrl);
      const pkce = createPkcePair();
      const state = createOAuthState();
      const timeoutMs = loginOptions.timeoutMs ?? 5 * 60_000;
      const listener = await startCallbackListener({
        port: loginOptions.callbackPort ?? DEFAULT_CALLBACK_PORT,
        expectedState: state,
        timeoutMs,
        signal: loginOptions.signal,
      });
      const authorizationUrl = new URL(baseUrl + CLOUD_PATHS.authorize);
      const query = {
        response_type: "code",
        client_id: OAUTH_CLIENT_ID,
        redirect_uri: listener.redirectUri,
        scope: OAUTH_SCOPES.join(" "),
        state,
        code_challenge: pkce.challenge,
        code_challenge_method: pkce.method,
      };
      for (const [key, value] of Object.entries(query)) authorizationUrl.searchParams.set(key, value);

      const done = (async (): Promise<LoginResult> => {
        const code = await listener.code;
        let tokens: TokenSet;
        try {
          tokens = await requestTokens(http, baseUrl, {
            grant_type: "authorization_code",
            code,
            redirect_uri: listener.redirectUri,
            code_verifier: pkce.verifier,
          });
        } catch (error) {
          if (error instanceof RefusedGrantError) {
            throw new GatewayError("permission_denied", "DeployStack refused the authorization code (invalid_grant) — run `dsctl login` again");
          }
          throw error;
        }
        const user = await fetchUser(baseUrl, tokens.accessToken);
        const previous = await loadSession().catch(() => null);
        const accountChanged = previous !== null && (previous.baseUrl !== baseUrl || previous.user?.sub !== user.sub);
        if (accountChanged) await vault.wipe(CLOUD_RECORD_PREFIX);
        await saveSession({ baseUrl, tokens, user });
        expired = false;
        logger.info({ baseUrl, user: user.email }, "logged in to DeployStack");
        return { user, baseUrl, scope: tokens.scope, accountChanged };
      })();
      done.catch(() => {});
      return { authorizationUrl: authorizationUrl.toString(), redirectUri: listener.redirectUri, done, cancel: () => listener.close() };
    },

    async logout() {
      const teams = await vault.read(TEAMS_RECORD).catch(() => undefined);
      const teamIds = Array.isArray(teams?.teams)
        ? (teams.teams as unknown[]).flatMap((team) => (team && typeof (team as CloudTeam).id === "string" ? [(team as CloudTeam).id] : []))
        : [];
      session = null;
      expired = false;
      await vault.wipe(CLOUD_RECORD_PREFIX);
      return { teamIds };
    },

    async status() {
      const current = await loadSession();
      if (!current) return { loggedIn: false, expired };
      return {
        loggedIn: true,
        baseUrl: current.baseUrl,
        ...(current.user ? { user: current.user } : {}),
        expiresAt: current.tokens.expiresAt,
        scope: current.tokens.scope,
      };
    },

    async whoAmI() {
      const user = parseUser(await apiGet(CLOUD_PATHS.userinfo));
      const current = session;
      if (current && current.user?.sub === user.sub && JSON.stringify(current.user) !== JSON.stringify(user)) await saveSession({ ...current, user });
      return user;
    },

    async listTeams() {
      const body = teamsResponseSchema.safeParse(await apiGet(CLOUD_PATHS.teams));
      if (!body.success) throw unexpected(CLOUD_PATHS.teams, issuePaths(body.error));
      const teams: CloudTeam[] = [];
      for (const entry of body.data.data) {
        const team = cloudTeamSchema.safeParse(entry);
        if (team.success) teams.push(teamFromWire(team.data));
        else logger.warn({ fields: issuePaths(team.error) }, "ignoring a malformed team from the DeployStack API");
      }
      await vault.write(TEAMS_RECORD, { teams: teams as unknown as JsonObject[], fetchedAt: now() });
      return teams;
    },

    async fetchConfigurations() {
      const id = await deviceId();
      const body = configurationsResponseSchema.safeParse(await apiGet(`${CLOUD_PATHS.configurations}?hardware_id=${encodeURIComponent(id)}`));
      if (!body.success) throw unexpected(CLOUD_PATHS.configurations, issuePaths(body.error));
      const { servers, malformed } = serversFromWire(body.data.data.servers);
      const result: CloudConfigurations = { servers, malformed, fetchedAt: now(), hardwareId: id };
      await vault.write(CONFIGURATIONS_RECORD, result as unknown as JsonObject);
      return result;
    },

    async storedTeams() {
      const record = await vault.read(TEAMS_RECORD);
      return record && Array.isArray(record.teams) ? (record.teams as CloudTeam[]) : undefined;
    },

    async storedConfigurations() {
      const record = await vault.read(CONFIGURATIONS_RECORD);
      return record && Array.isArray(record.servers) ? (record as unknown as CloudConfigurations) : undefined;
    },

    deviceId,

    onSessionExpired(listener) {
      expiredListeners.add(listener);
      return () => void expiredListeners.delete(listener);
    },
  };
}

function normalizeBaseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new GatewayError("invalid_argument", `the DeployStack URL "${text}" is not a valid URL`);
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopbackHost(url.hostname))) {
    throw new GatewayError("invalid_argument", `the DeployStack URL "${url.origin}" must use https (plain http only on loopback)`);
  }
  // Keep a path prefix (a self-hosted backend under /deploystack); drop query, fragment and trailing slash.
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function parseUser(body: unknown): CloudUser {
  const parsed = userInfoSchema.safeParse(body);
  if (!parsed.success) throw unexpected(CLOUD_PATHS.userinfo, issuePaths(parsed.error));
  return userFromWire(parsed.data);
}

function unexpected(path: string, fields: string): GatewayError {
  return new GatewayError("unavailable", `the DeployStack API sent an unexpected answer to GET ${path} (fields: ${fields})`);
}

function apiError(body: unknown): string {
  if (body && typeof body === "object") {
    const record = body as Record<string, unknown>;
    const text = record.error_description ?? record.error ?? record.message;
    if (typeof text === "string") return text.slice(0, 120);
  }
  return "no details";
}

function sessionToRecord(session: StoredSession): JsonObject {
  return { version: 1, baseUrl: session.baseUrl, tokens: { ...session.tokens }, ...(session.user ? { user: { ...session.user } } : {}) };
}

function sessionFromRecord(record: JsonObject | undefined): StoredSession | null {
  if (!record || record.version !== 1 || typeof record.baseUrl !== "string") return null;
  const tokens = record.tokens as Partial<TokenSet> | undefined;
  if (
    !tokens ||
    typeof tokens.accessToken !== "string" ||
    typeof tokens.refreshToken !== "string" ||
    typeof tokens.expiresAt !== "number" ||
    typeof tokens.issuedAt !== "number"
  ) {
    return null;
  }
  return {
    baseUrl: record.baseUrl,
    tokens: tokens as TokenSet,
    ...(record.user && typeof record.user === "object" ? { user: record.user as CloudUser } : {}),
  };
}
