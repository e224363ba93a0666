import { GatewayError } from "../errors.js";
import { CLOUD_PATHS, OAUTH_CLIENT_ID, oauthErrorSchema, tokenResponseSchema } from "./cloud-contract.js";

/**
 * The HTTP layer of the cloud client: one function per kind of call, each bounded by a
 * timeout, each turning transport failures into `GatewayError`s whose messages name the
 * endpoint but never carry a token, a code or a body.
 */

/** The `fetch` the client uses; injectable for tests and proxies. */
export type FetchFunction = typeof fetch;

/** Tokens as the gateway keeps them. `expiresAt` is epoch ms on the client's clock. */
export interface TokenSet {
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly tokenType: string;
  readonly scope: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
}

/** How the token endpoint's request body is encoded. */
export type TokenEncoding = "json" | "form";

/** Shared inputs of the HTTP calls. */
export interface CloudHttp {
  readonly fetch: FetchFunction;
  readonly timeoutMs: number;
  readonly now: () => number;
  readonly tokenEncoding: TokenEncoding;
}

/** The refresh token was refused (`invalid_grant`): the session is over. */
export class RefusedGrantError extends Error {
  override readonly name = "RefusedGrantError";
}

/** A response of an API call: status and parsed JSON body (undefined when not JSON). */
export interface ApiResponse {
  readonly status: number;
  readonly body: unknown;
}

/** `GET` an API path (appended to `baseUrl`, which may carry a path prefix) with a bearer token. Never throws for HTTP statuses, only for transport failures. */
export async function getJson(http: CloudHttp, baseUrl: string, pathAndQuery: string, accessToken: string): Promise<ApiResponse> {
  const response = await send(http, baseUrl, pathAndQuery, {
    method: "GET",
    headers: { authorization: `Bearer ${accessToken}`, accept: "application/json" },
  });
  return { status: response.status, body: await readJson(response) };
}

/**
 * `POST /api/oauth2/token`. The body is JSON by default: the DeployStack backend has
 * always accepted `application/json`, and accepts `application/x-www-form-urlencoded`
 * (RFC 6749 §4.1.3) only since later versions — `form` is there for those and for other
 * compatible servers. Field sets are exactly the backend's (its schema forbids others).
 */
export async function requestTokens(
  http: CloudHttp,
  baseUrl: string,
  fields: Readonly<Record<string, string>>,
  previousRefreshToken?: string,
): Promise<TokenSet> {
  const body = { ...fields, client_id: OAUTH_CLIENT_ID };
  const encoded =
    http.tokenEncoding === "json"
      ? { type: "application/json", text: JSON.stringify(body) }
      : { type: "application/x-www-form-urlencoded", text: new URLSearchParams(body).toString() };
  const issuedAt = http.now();
  const response = await send(http, baseUrl, CLOUD_PATHS.token, {
    method: "POST",
    headers: { "content-type": encoded.type, accept: "application/json" },
    body: encoded.text,
  });
  const json = await readJson(response);
  if (!response.ok) {
    const error = oauthErrorSchema.safeParse(json);
    const code = error.success ? error.data.error : `HTTP ${response.status}`;
    if (code === "invalid_grant") throw new RefusedGrantError(code);
    throw new GatewayError(
      response.status >= 500 ? "unavailable" : "failed_precondition",
      `the DeployStack token endpoint refused the request (${code.slice(0, 60)})`,
    );
  }
  const parsed = tokenResponseSchema.safeParse(json);
  if (!parsed.success) {
    throw new GatewayError("unavailable", `the DeployStack token endpoint sent an unexpected answer (fields: ${issuePaths(parsed.error)})`);
  }
  const refreshToken = parsed.data.refresh_token ?? previousRefreshToken;
  if (!refreshToken) {
    throw new GatewayError("unavailable", "the DeployStack token endpoint sent no refresh token (was `offline_access` granted?)");
  }
  return {
    accessToken: parsed.data.access_token,
    refreshToken,
    tokenType: parsed.data.token_type,
    scope: parsed.data.scope ?? "",
    issuedAt,
    expiresAt: issuedAt + parsed.data.expires_in * 1000,
  };
}

async function send(http: CloudHttp, baseUrl: string, pathAndQuery: string, init: RequestInit): Promise<Response> {
  const url = new URL(baseUrl + pathAndQuery);
  const where = `${url.origin}${url.pathname}`;
  try {
    return await http.fetch(url, { ...init, redirect: "error", signal: AbortSignal.timeout(http.timeoutMs) });
  } catch (error) {
    const reason =
      error instanceof Error && error.name === "TimeoutError"
        ? `no answer within ${Math.round(http.timeoutMs / 1000)} s`
        : causeCode(error);
    throw new GatewayError("unavailable", `cannot reach the DeployStack API at ${where} (${reason})`, { cause: error });
  }
}

async function readJson(response: Response): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function causeCode(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  if (cause && typeof cause.code === "string") return cause.code;
  if (cause && typeof cause.message === "string") return cause.message;
  return error instanceof Error ? error.message : "network error";
}

/** Field paths of a zod error, for messages that must not echo values. */
export function issuePaths(error: { issues: ReadonlyArray<{ path: readonly PropertyKey[] }> }): string {
  return [...new Set(error.issues.map((issue) => issue.path.map(String).join(".") || "(body)"))].join(", ");
}
