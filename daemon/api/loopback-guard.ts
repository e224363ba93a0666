import { cors } from "@connectrpc/connect";
import { FETCH_SITE_REFUSAL, isRefusedFetchSite } from "../../shared/fetch-site.js";
import { createLoopbackHostCheck, isAllowedOrigin, normaliseOrigin, normaliseOrigins } from "../../shared/loopback.js";
import type { DualHandler } from "./dual-protocol-server.js";

/**
 * HTTP-level checks in front of the TCP control listener, before any RPC is routed:
 * - `Host` (`:authority` in HTTP/2) must name a loopback host on our port — a page on
 *   `evil.example` that rebinds its DNS to 127.0.0.1 still sends `Host: evil.example`;
 * - a browser `Origin`, when present, must be the listener's own loopback origin or one of
 *   the configured dashboard origins (403 otherwise), and CORS preflights and responses allow
 *   exactly that origin. Both rules are shared/loopback.ts, the same as the MCP port's;
 * - a browser request whose `Sec-Fetch-Site` names another site is refused (shared/fetch-site.ts, the same rule as
 *   the MCP port): browsers leave out `Origin` on some requests but never `Sec-Fetch-Site`.
 * The bearer token is checked per RPC (see bearer-auth.ts); preflights carry no credentials
 * by design, so they are answered here.
 */
export interface LoopbackGuardOptions {
  /** Browser origins allowed to call the API (`controlAllowedOrigins`). */
  readonly allowedOrigins: readonly string[];
  /** The port the listener is bound to (known only after `listen` with port 0). */
  readonly port: () => number;
}

const allowHeaders = [...cors.allowedHeaders, "Authorization"].join(", ");
const allowMethods = cors.allowedMethods.join(", ");
const exposeHeaders = cors.exposedHeaders.join(", ");

/** Wraps `handler` with the Host, Origin and CORS checks. */
export function withLoopbackGuard(handler: DualHandler, options: LoopbackGuardOptions): DualHandler {
  const allowed = normaliseOrigins(options.allowedOrigins);
  const isLoopbackHost = createLoopbackHostCheck();
  return function loopbackGuard(req, res) {
    const headers = req.headers;
    const host = (headers.host ?? headers[":authority"]) as string | undefined;
    const port = options.port();
    if (!isLoopbackHost(host, port)) return refuse(res, "host must be a loopback address");
    const origin = typeof headers.origin === "string" ? headers.origin : undefined;
    const site = headers["sec-fetch-site"];
    if (site !== undefined && isRefusedFetchSite(site, origin, origin !== undefined && allowed.has(normaliseOrigin(origin)))) {
      return refuse(res, FETCH_SITE_REFUSAL);
    }
    if (origin !== undefined) {
      if (!isAllowedOrigin(origin, port, allowed)) return refuse(res, "origin not allowed");
      res.setHeader("Access-Control-Allow-Origin", origin);
      res.setHeader("Vary", "Origin");
      if (req.method === "OPTIONS" && headers["access-control-request-method"] !== undefined) {
        res.setHeader("Access-Control-Allow-Methods", allowMethods);
        res.setHeader("Access-Control-Allow-Headers", allowHeaders);
        res.setHeader("Access-Control-Max-Age", "7200");
        res.statusCode = 204;
        res.end();
        return;
      }
      res.setHeader("Access-Control-Expose-Headers", exposeHeaders);
    }
    handler(req, res);
  };
}

function refuse(res: Parameters<DualHandler>[1], reason: string): void {
  res.statusCode = 403;
  res.setHeader("Content-Type", "text/plain; charset=utf-8");
  res.end(`forbidden: ${reason}\n`);
}
