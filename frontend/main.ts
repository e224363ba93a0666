import type { AddressInfo } from "node:net";
import { pino } from "pino";
import { FRONTEND_CONFIG_ENV, formatListeningLine } from "../shared/frontend-contract.js";
import { startHopTiming } from "../shared/hop-timing.js";
import type { Logger } from "../shared/logger.js";
import { statePaths } from "../shared/paths.js";
import { createApp } from "./app.js";
import { createFrontendMetrics } from "./frontend-metrics.js";
import { loadOrCreateClientToken } from "./client-token.js";
import { createDaemonClient } from "./daemon-client.js";
import { StatelessPool } from "./modern/stateless-pool.js";
import { createFrontendServer } from "./http/server.js";
import { systemClock } from "./session/clock.js";
import { SessionRegistry } from "./session/session-registry.js";
import { parseFrontendConfig, sessionLimitsOf } from "./settings.js";

/**
 * The frontend process, supervised by the daemon (`node dist/frontend/main.js`, env `DEPLOYSTACK_HOME` and
 * `DEPLOYSTACK_FRONTEND_CONFIG`). Contract: exactly one stdout line, `{"event":"listening","port":N}`, once
 * listening; logs on stderr; SIGTERM/SIGINT → sessions closed and exit 0 within 2 s; a vanished daemon socket never
 * makes it exit (sessions end, new ones get 503 until the daemon is back). Exit 1 only for a bad configuration
 * or a port it cannot bind.
 */
function main(): void {
  const logger = pino({ name: "frontend", level: process.env.DEPLOYSTACK_LOG_LEVEL ?? "info" }, process.stderr) as unknown as Logger;
  const shutdown = new AbortController();
  let settings;
  try {
    settings = parseFrontendConfig(process.env[FRONTEND_CONFIG_ENV]);
  } catch (error) {
    process.stderr.write(`frontend: ${(error as Error).message}\n`);
    process.exit(1);
  }
  startHopTiming(settings.hopTimingDir, "frontend");
  const paths = statePaths();
  const controlSocket = settings.controlSocket || paths.controlSocket;
  const clientToken = settings.clientAuth === "token" ? loadOrCreateClientToken(paths.clientToken) : undefined;
  const daemon = createDaemonClient(controlSocket);
  const sessions = new SessionRegistry({
    daemon,
    clock: systemClock,
    logger,
    maxSessions: settings.maxSessions,
    idleTimeoutMs: settings.sessionIdleTimeoutMs,
    initTimeoutMs: settings.sessionInitTimeoutMs,
    limits: sessionLimitsOf(settings),
  });
  const server = createFrontendServer(settings);
  // Cached once listening: the Host guard asks on every request and `server.address()` is a getsockname(2) call.
  let listeningPort: number | undefined;
  const port = (): number => listeningPort ?? (server.address() as AddressInfo | null)?.port ?? settings.port;
  const metrics = createFrontendMetrics(controlSocket);
  const statelessPool = new StatelessPool({ daemon });
  const app = createApp({
    settings,
    sessions,
    port,
    clientToken,
    logger,
    daemonReachable: daemon.reachable,
    profileNames: daemon.profileNames,
    metrics: metrics.text,
    statelessPool,
  });
  server.on("request", app.callback());
  const shortest = Math.min(settings.sessionIdleTimeoutMs, settings.sessionInitTimeoutMs);
  const sweep = setInterval(() => sessions.sweep(), Math.max(1000, Math.min(60_000, shortest / 4)));
  sweep.unref();
  server.once("error", (error) => {
    logger.error({ err: String(error) }, "cannot listen");
    process.exit(1);
  });
  server.listen({ host: settings.host, port: settings.port }, () => {
    listeningPort = (server.address() as AddressInfo | null)?.port;
    process.stdout.write(formatListeningLine(port()));
    logger.info({ host: settings.host, port: port(), controlSocket }, "frontend listening");
  });

  const stop = (signal: string): void => {
    if (shutdown.signal.aborted) return;
    shutdown.abort();
    logger.info({ signal }, "frontend stopping");
    setTimeout(() => process.exit(0), 1500).unref();
    clearInterval(sweep);
    sessions.closeAll("the gateway frontend is shutting down");
    statelessPool.close();
    server.close(() => {
      metrics.close();
      daemon.close();
      process.exit(0);
    });
    server.closeAllConnections();
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("unhandledRejection", (reason) => logger.error({ err: String(reason) }, "unhandled rejection"));
  process.on("uncaughtException", (error) => logger.error({ err: String(error), stack: error.stack }, "uncaught exception"));
}

main();
