import type { Context, Next } from "koa";
import { METRICS_CONTENT_TYPE } from "../frontend-metrics.js";

/** Options of the metrics endpoint. */
export interface MetricsOptions {
  /** The whole exposition (frontend-metrics.ts); absent: `/metrics` is not served. */
  readonly text?: () => Promise<string>;
}

/**
 * `GET /metrics`: the gateway's Prometheus metrics (docs/observability.md). Mounted behind the Host/Origin guard
 * and client authentication like every route: a web page must not read them, and with `clientAuth: token` a scraper
 * sends the bearer token like any client.
 */
export function createMetrics(options: MetricsOptions) {
  return async function metrics(ctx: Context, next: Next): Promise<void> {
    if (ctx.path !== "/metrics" || !options.text || (ctx.method !== "GET" && ctx.method !== "HEAD")) {
      await next();
      return;
    }
    ctx.set("Cache-Control", "no-store");
    ctx.type = METRICS_CONTENT_TYPE;
    ctx.body = await options.text();
  };
}
