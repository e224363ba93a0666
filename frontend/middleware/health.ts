import type { Context, Next } from "koa";

/** Options of the health endpoint. */
export interface HealthOptions {
  /** Live session count. */
  readonly sessionCount: () => number;
}

/** `GET /healthz` for probes (the daemon's supervisor, scripts): `{"status":"ok","sessions":N}`. */
export function createHealth(options: HealthOptions) {
  return async function health(ctx: Context, next: Next): Promise<void> {
    if (ctx.path !== "/healthz" || (ctx.method !== "GET" && ctx.method !== "HEAD")) {
      await next();
      return;
    }
    ctx.set("Cache-Control", "no-store");
    ctx.body = { status: "ok", sessions: options.sessionCount() };
  };
}
