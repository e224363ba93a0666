import type { Dispatcher } from "undici";
import { GatewayError } from "../errors.js";
import type { CallSignal } from "../call-signal.js";
import { sameOrigin } from "./remote-url.js";

/**
 * One HTTP exchange with a remote MCP server, shared by the Streamable HTTP and the legacy SSE
 * transports: the configured headers and the credential go to the server's own origin only
 * (a redirect elsewhere drops both), redirects are followed a bounded number of times, and a
 * 401 is handed to the server's auth provider, which may refresh its token once. Nothing the
 * IDE sent ever reaches this layer: the headers are the team file's and the provider's.
 */

/**
 * The seam for signing in to a remote server (implemented by the OAuth client; absent for a
 * server without `oauth:`). The transport asks it for an `Authorization` value before each
 * request and tells it about a 401.
 */
export interface UpstreamAuthProvider {
  /** The `Authorization` header value to send (`Bearer …`), or undefined when there is no token. */
  authorization(): Promise<string | undefined>;
  /**
   * The server answered 401 to a request sent with `authorization()`'s value. Resolve `"retry"`
   * when a new credential may work (the token was refreshed): the request is sent once more.
   * Resolve `"needs_auth"` when no usable token exists: the server goes to NEEDS_AUTH.
   */
  unauthorized(challenge: {
    readonly wwwAuthenticate?: string;
    /** The `Authorization` value the refused request carried: many requests refused with one stale token refresh it once. */
    readonly sentAuthorization?: string;
  }): Promise<"retry" | "needs_auth">;
  /**
   * The server answered 403 with `error="insufficient_scope"` (MCP authorization, "Step-Up Authorization Flow"): the
   * token is good but this request needs more. The provider remembers what the next sign-in must ask for and returns
   * the scope the server named (cleaned for a message), if any. Only a new sign-in can grant more: nothing is retried.
   */
  insufficientScope(challenge: { readonly wwwAuthenticate: string }): Promise<string | undefined>;
}

/**
 * The server wants a credential the gateway does not have (a 401 with no usable token). The
 * supervisor turns it into the NEEDS_AUTH state, whose message says which command signs in.
 */
export class UpstreamNeedsAuthError extends GatewayError {
  constructor(serverName: string, message = `server "${serverName}" needs sign-in: run \`dsctl servers login ${serverName}\``) {
    super("failed_precondition", message);
  }
}

/**
 * The server wants more access than the current token grants (a 403 `insufficient_scope`). On a connection that
 * works, only the request it refused fails — with this message, which names the command that grants the scope —
 * and the server stays RUNNING; refused while connecting, it is a sign-in the server needs (NEEDS_AUTH).
 */
export class UpstreamInsufficientScopeError extends UpstreamNeedsAuthError {
  constructor(serverName: string, scope: string | undefined) {
    super(serverName, `server "${serverName}" needs more access for this request${scope ? ` (scope "${scope}")` : ""}: run \`dsctl servers login ${serverName}\` to grant it`);
  }
}

/** Whether a `WWW-Authenticate` value holds a Bearer challenge with `error="insufficient_scope"` (RFC 6750 §3.1). */
function isInsufficientScopeChallenge(wwwAuthenticate: string | undefined): wwwAuthenticate is string {
  return wwwAuthenticate !== undefined && /\bbearer\b/i.test(wwwAuthenticate) && /\berror\s*=\s*"?insufficient_scope\b/i.test(wwwAuthenticate);
}

/** What the requester needs of a connection pool: undici's `Dispatcher.request`, in its promise form. */
export interface RequestDispatcher {
  request(options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData>;
}

/** Redirects followed per request before giving up. */
const MAX_REDIRECTS = 5;

/** What `createRemoteRequester` needs to know about one server. */
export interface RemoteRequesterOptions {
  readonly serverName: string;
  /** The configured URL: its origin is the only one that gets credentials. */
  readonly url: URL;
  /** The team file's `headers:` (already resolved): secrets, sent to the configured origin only. */
  readonly headers: Readonly<Record<string, string>>;
  readonly auth?: UpstreamAuthProvider;
  /** The server's own keep-alive pool. */
  readonly dispatcher: RequestDispatcher;
}

/** One request to send. */
export interface RemoteRequest {
  readonly method: "GET" | "POST" | "DELETE";
  readonly url: URL;
  /** Protocol headers (accept, content type, session, MCP headers); credentials are added here. */
  readonly headers: Record<string, string>;
  readonly body?: string | Buffer;
  readonly signal?: CallSignal;
}

/** A response whose body is still to be read (or dumped) by the caller. */
export interface RemoteResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Dispatcher.ResponseData["body"];
  /** Where the response came from after redirects. */
  readonly url: URL;
}

/** Sends requests to one remote server (see the module comment). */
export interface RemoteRequester {
  /** Rejects with `UpstreamNeedsAuthError` on a 401 that a fresh credential did not cure, else with the network error. */
  send(request: RemoteRequest): Promise<RemoteResponse>;
}

/** Creates the requester of one remote server. */
export function createRemoteRequester(options: RemoteRequesterOptions): RemoteRequester {
  const { dispatcher, auth } = options;
  const configuredOrigin = options.url;

  const exchange = async (request: RemoteRequest, authorization: string | undefined): Promise<RemoteResponse> => {
    let url = request.url;
    let method = request.method;
    let body = request.body;
    for (let hop = 0; ; hop++) {
      const trusted = sameOrigin(url, configuredOrigin);
      const headers: Record<string, string> = { ...request.headers };
      if (trusted) {
        for (const [name, value] of Object.entries(options.headers)) headers[name.toLowerCase()] = value;
        if (authorization !== undefined) headers.authorization = authorization;
      }
      const response = await dispatcher.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        // undici reads a signal only through `aborted`, `reason` and its abort listeners: a CallSignal serves.
        ...(request.signal ? { signal: request.signal } : {}),
        // Tool calls run for minutes and event streams stay open for hours: the connection's own timeouts rule.
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      const location = response.headers.location;
      if (response.statusCode >= 300 && response.statusCode < 400 && typeof location === "string" && hop < MAX_REDIRECTS) {
        await response.body.dump().catch(() => {});
        url = new URL(location, url);
        if (url.protocol !== "https:" && url.protocol !== "http:") throw new GatewayError("unavailable", `server "${options.serverName}" redirected to an unsupported URL`);
        // 301/302/303 turn a POST into a GET (as browsers do); 307/308 keep the method and the body.
        if (response.statusCode !== 307 && response.statusCode !== 308 && method === "POST") {
          method = "GET";
          body = undefined;
        }
        continue;
      }
      return { status: response.statusCode, headers: response.headers, body: response.body, url };
    }
  };

  return {
    async send(request) {
      let authorization = auth ? await auth.authorization() : undefined;
      for (let attempt = 0; ; attempt++) {
        const response = await exchange(request, authorization);
        if (response.status === 403 && auth) {
          const header = response.headers["www-authenticate"];
          const wwwAuthenticate = Array.isArray(header) ? header.join(", ") : header;
          if (isInsufficientScopeChallenge(wwwAuthenticate)) {
            await response.body.dump().catch(() => {});
            throw new UpstreamInsufficientScopeError(options.serverName, await auth.insufficientScope({ wwwAuthenticate }));
          }
        }
        if (response.status !== 401) return response;
        await response.body.dump().catch(() => {});
        const header = response.headers["www-authenticate"];
        const wwwAuthenticate = Array.isArray(header) ? header.join(", ") : header;
        const verdict =
          auth && attempt === 0
            ? await auth.unauthorized({
                ...(wwwAuthenticate !== undefined ? { wwwAuthenticate } : {}),
                ...(authorization !== undefined ? { sentAuthorization: authorization } : {}),
              })
            : "needs_auth";
        if (verdict !== "retry") throw new UpstreamNeedsAuthError(options.serverName);
        authorization = await auth!.authorization();
      }
    },
  };
}

/** The first value of a response header, lower-cased names as undici gives them. */
export function headerValue(headers: RemoteResponse["headers"], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
