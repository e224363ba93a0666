import Koa from "koa";
import { type Logger, silentLogger } from "../shared/logger.js";
import { createClientAuth } from "./middleware/client-auth.js";
import { createCors } from "./middleware/cors.js";
import { createErrorRenderer } from "./middleware/error-renderer.js";
import { createHealth } from "./middleware/health.js";
import { createHostOriginGuard } from "./middleware/host-origin-guard.js";
import { createLegacySse } from "./middleware/legacy-sse.js";
import { createMetrics } from "./middleware/metrics.js";
import { createNotFound } from "./middleware/not-found.js";
import { createStreamableHttp } from "./middleware/streamable-http.js";
import type { SessionRegistry } from "./session/session-registry.js";
import { sessionLimitsOf, type FrontendSettings } from "./settings.js";
import type { StatelessPool } from "./modern/stateless-pool.js";

/** What the koa app is built from; everything with a side effect is injected so tests can drive it. */
export interface AppDeps {
  readonly settings: FrontendSettings;
  /** The live sessions (each holding an OpenSession stream through the injected Connect client). */
  readonly sessions: SessionRegistry;
  /** The port actually listened on, for the Host check; defaults to `settings.port`. */
  readonly port?: () => number;
  /** Whether the daemon answers now (see `DaemonClient.reachable`); checked before a legacy SSE stream opens. */
  readonly daemonReachable?: () => Promise<boolean>;
  /** The team's profile names, for `/mcp/<profile>` and `/sse/<profile>` (see `DaemonClient.profileNames`). */
  readonly profileNames?: () => Promise<readonly string[] | undefined>;
  /** The client bearer token when `clientAuth` is `token`. */
  readonly clientToken?: string;
  readonly logger?: Logger;
  /** `GET /metrics`'s exposition (frontend-metrics.ts); absent: not served. */
  readonly metrics?: () => Promise<string>;
  /** The streams modern (2026-07-28) requests cross to the daemon on; absent: `/mcp` serves the legacy era only. */
  readonly statelessPool?: StatelessPool;
}

/**
 * Builds the frontend's koa app. Order matters: errors are rendered first so every refusal below has one shape;
 * the Host/Origin guard and client authentication sit in front of every route, including `/healthz`.
 */
export function createApp(deps: AppDeps): Koa {
  const logger = deps.logger ?? silentLogger;
  if (deps.settings.clientAuth === "token" && !deps.clientToken) {
    throw new Error('clientAuth is "token" but no client token was given');
  }
  const app = new Koa({ proxy: false });
  app.silent = true;
  app.on("error", (error: unknown) => logger.warn({ err: String(error) }, "http error"));
  const port = deps.port ?? (() => deps.settings.port);
  app.use(createErrorRenderer({ logger }));
  app.use(createHostOriginGuard({ port, allowedOrigins: deps.settings.allowedOrigins }));
  app.use(createCors());
  app.use(createClientAuth({ token: deps.settings.clientAuth === "token" ? deps.clientToken : undefined }));
  app.use(createHealth({ sessionCount: () => deps.sessions.size }));
  app.use(createMetrics({ text: deps.metrics }));
  const limits = sessionLimitsOf(deps.settings);
  app.use(
    createStreamableHttp({
      sessions: deps.sessions,
      maxBodyBytes: deps.settings.maxBodyBytes,
      profileNames: deps.profileNames,
      ...(deps.statelessPool
        ? { modern: { pool: deps.statelessPool, keepAliveMs: limits.keepAliveMs, maxBufferedBytes: limits.maxBufferedBytes } }
        : {}),
    }),
  );
  app.use(
    createLegacySse({
      sessions: deps.sessions,
      maxBodyBytes: deps.settings.maxBodyBytes,
      daemonReachable: deps.daemonReachable,
      profileNames: deps.profileNames,
    }),
  );
  app.use(createNotFound());
  return app;
}
