import type { Context, Next } from "koa";
import { FETCH_SITE_REFUSAL, isRefusedFetchSite } from "../../shared/fetch-site.js";
import { HttpError } from "../http/http-error.js";
import { createLoopbackHostCheck, isAllowedOrigin, normaliseOrigin, normaliseOrigins } from "../../shared/loopback.js";

/** Options of the Host/Origin guard. */
export interface HostOriginGuardOptions {
  /** The port the frontend actually listens on (known only after `listen` when configured as 0). */
  readonly port: () => number;
  /** Extra browser origins allowed (config `allowedOrigins`). */
  readonly allowedOrigins: readonly string[];
}

/**
 * The DNS-rebinding defence in front of every route (MCP 2025-11-25 "Transports" › "Security Warning": servers
 * MUST validate Origin; docs/security.md: Host must be loopback with our port). A foreign `Host` (`evil.com`,
 * `localhost.evil.com`, our name with another port) or an `Origin` that is neither ours nor listed → 403.
 * The rule is shared/loopback.ts, the same as the daemon's control listener's; it says why other loopback ports
 * are refused. A browser request whose
 * `Sec-Fetch-Site` says another site sent it is refused too (shared/fetch-site.ts): browsers omit `Origin` on some
 * requests, never `Sec-Fetch-Site`, and a page must not hold `GET /sse` slots.
 */
export function createHostOriginGuard(options: HostOriginGuardOptions) {
  const allowed = normaliseOrigins(options.allowedOrigins);
  const isLoopbackHost = createLoopbackHostCheck();
  return async function hostOriginGuard(ctx: Context, next: Next): Promise<void> {
    const port = options.port();
    if (!isLoopbackHost(ctx.req.headers.host, port)) {
      throw new HttpError(403, "forbidden: the host header must name this gateway on loopback");
    }
    const origin = ctx.req.headers.origin;
    if (origin !== undefined && !isAllowedOrigin(origin, port, allowed)) {
      throw new HttpError(403, "forbidden: origin not allowed");
    }
    const site = ctx.req.headers["sec-fetch-site"];
    if (site !== undefined && isRefusedFetchSite(site, origin, origin !== undefined && allowed.has(normaliseOrigin(origin)))) {
      throw new HttpError(403, `forbidden: ${FETCH_SITE_REFUSAL}`);
    }
    await next();
  };
}
