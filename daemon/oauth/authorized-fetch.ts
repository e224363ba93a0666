import type { ServerOAuth } from "./server-oauth.js";

/**
 * A `fetch` for a remote server's transport that applies the OAuth rules on every request:
 *
 * - any `Authorization` header the caller passed is dropped (no token passthrough: an
 *   IDE's own credentials never reach an upstream) and the server's own token is added —
 *   only for the server's origin;
 * - redirects are followed here, at most `maxRedirects`, and the token is attached again
 *   per hop, so a redirect to another origin goes there without it;
 * - a 401 is reported to the OAuth module, and the request is sent once more when it
 *   obtained a fresh token (one retry, never a loop).
 *
 * A 401 that remains is returned to the transport, which reports NEEDS_AUTH with
 * `oauth.needsAuthError()`.
 */
export function createAuthorizedFetch(oauth: ServerOAuth, options: { readonly fetch?: typeof fetch; readonly maxRedirects?: number } = {}): typeof fetch {
  const baseFetch = options.fetch ?? fetch;
  const maxRedirects = options.maxRedirects ?? 5;
  return async function authorizedFetch(input, init = {}) {
    let url = new URL(input instanceof Request ? input.url : String(input));
    let method = (init.method ?? (input instanceof Request ? input.method : "GET")).toUpperCase();
    let body = init.body;
    const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
    headers.delete("authorization");
    // A body that is a stream cannot be sent twice; such a request gets no retry after a 401.
    const replayable = body === undefined || body === null || typeof body === "string" || body instanceof Uint8Array || body instanceof URLSearchParams;
    let retried = false;
    for (let hop = 0; ; ) {
      const authorization = await oauth.authorization(url);
      if (authorization) headers.set("authorization", authorization);
      else headers.delete("authorization");
      const response = await baseFetch(url, { ...init, method, body, headers, redirect: "manual" });
      const location = response.headers.get("location");
      if (response.status >= 300 && response.status < 400 && response.status !== 304 && location) {
        if (++hop > maxRedirects) return response;
        await response.body?.cancel();
        url = new URL(location, url);
        if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === "POST")) {
          method = "GET";
          body = undefined;
          headers.delete("content-type");
        }
        continue;
      }
      if (response.status === 401 && !retried && replayable && authorization !== undefined) {
        const outcome = await oauth.unauthorized({ wwwAuthenticate: response.headers.get("www-authenticate"), sentAuthorization: authorization });
        if (outcome === "retry") {
          retried = true;
          await response.body?.cancel();
          continue;
        }
      } else if (response.status === 401 && authorization === undefined && url.origin === oauth.origin) {
        // No token was sent: remember the challenge (resource_metadata, scope) for the sign-in.
        await oauth.unauthorized({ wwwAuthenticate: response.headers.get("www-authenticate") });
      }
      return response;
    }
  };
}
