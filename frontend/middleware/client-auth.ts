import { createHash, timingSafeEqual } from "node:crypto";
import type { Context, Next } from "koa";
import { HttpError } from "../http/http-error.js";

/** Options of the client-authentication middleware. */
export interface ClientAuthOptions {
  /** The expected bearer token (the content of `client.token`), or undefined when `clientAuth` is `none`. */
  readonly token: string | undefined;
}

/**
 * Optional bearer-token authentication of MCP clients, for machines where other local users can reach loopback
 * ports. Every request must carry `Authorization: Bearer <token>`; the comparison is constant-time over SHA-256
 * digests (so neither content nor length leaks through timing). Failure → 401 with `WWW-Authenticate: Bearer`.
 */
export function createClientAuth(options: ClientAuthOptions) {
  const expected = options.token === undefined ? undefined : digest(options.token);
  return async function clientAuth(ctx: Context, next: Next): Promise<void> {
    if (expected !== undefined) {
      const header = ctx.req.headers.authorization ?? "";
      const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
      if (!match || !timingSafeEqual(digest(match[1]), expected)) {
        throw new HttpError(401, "unauthorized: a valid bearer token is required", {
          headers: { "WWW-Authenticate": 'Bearer realm="deploystack-gateway"' },
        });
      }
    }
    await next();
  };
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}
