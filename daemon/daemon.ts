import type { ConnectRouter } from "@connectrpc/connect";
import { ensurePrivateDir, resolveHome, statePaths, type StatePaths } from "../shared/paths.js";
import type { Logger } from "../shared/logger.js";
import { gatewayVersion } from "../shared/version.js";
import { startControlServer, type ControlServer } from "./api/control-server.js";
import type { GatewayStatusView } from "./api/gateway-service.js";
import { parseControlListen, type ListenAddress } from "./api/listen-address.js";
import { controlRoutes } from "./api/routes.js";
import { prepareSocketPath } from "./api/socket-path.js";
import { embeddedTeamFilePath, loadTeamFile } from "./config/load-team-file.js";
import type { TeamConfig, TeamsFile } from "./config/types.js";
import { ensureControlToken } from "./control-token.js";
import { GatewayError } from "./errors.js";
import { createEventHub, type EventHub } from "./events.js";
import { createFrontendRunner, type FrontendRunner } from "./frontend-runner.js";
import { acquirePidFile, releasePidFile } from "./pid-file.js";
import { startSupervision, type SupervisionHandle } from "./supervision.js";

/**
 * The daemon's composition root: the one place that knows every part and wires them, with
 * one `AbortController` whose abort means "the daemon is stopping" to every stream and loop.
 * Start-up order matters for safety: the live-daemon check comes before anything that could
 * touch another daemon's processes (reaping leftovers), and the control API is up before the
 * servers start so that watchers see every state change.
 */

/** How the daemon is started (from `daemon/main.ts` flags or a test). */
export interface DaemonOptions {
  /** The state folder; default `$DEPLOYSTACK_HOME` or `~/.deploystack`. */
  readonly home?: string;
  /** `--config FILE`; default the embedded `examples/demo-team.yaml`. */
  readonly configPath?: string;
  /** `--port N`: the frontend's port, overriding the team file's `gateway.port`. */
  readonly port?: number;
  /** `--control-listen HOST:PORT`: the loopback TCP control listener. */
  readonly controlListen?: string;
  readonly logger: Logger;
  /** The frontend entry point; default `dist/frontend/main.js` of this installation. */
  readonly frontendEntry?: string;
}

/** A running daemon. */
export interface Daemon {
  readonly paths: StatePaths;
  readonly teamsFile: TeamsFile;
  readonly controlSocket: string;
  /** `host:port` of the TCP control listener, when enabled. */
  readonly controlAddress?: string;
  status(): GatewayStatusView;
  /** Stops everything; idempotent; never rejects. */
  stop(reason: string): Promise<void>;
  /** Resolves once the daemon has fully stopped (after `stop`, or a `Shutdown` RPC). */
  readonly stopped: Promise<void>;
  /** Aborts when stopping begins. */
  readonly signal: AbortSignal;
  /** Calls `listener` whenever the frontend's state changes (for the foreground banner). */
  onFrontendChange(listener: () => void): void;
  /** Whether the frontend's entry point exists (it is built). */
  frontendBuilt(): boolean;
}

/** Optional parts wired in by their owners (the MCP engine). */
export interface DaemonExtensions {
  /** Builds `McpService`'s routes over the supervisor; see daemon/api/mcp-service.ts. */
  readonly mcpRoutes?: (context: McpWiringContext) => McpWiring;
}

/** What the MCP engine gets from the composition root. */
export interface McpWiringContext {
  readonly supervision: SupervisionHandle;
  readonly events: EventHub;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  readonly team: TeamConfig;
}

/** What the MCP engine gives back. */
export interface McpWiring {
  readonly routes: (router: ConnectRouter) => void;
  readonly sessionCount?: () => number;
  readonly close?: () => Promise<void> | void;
}

/** Loads the team file the daemon will run: `--config FILE` or the embedded default. */
export async function loadDaemonConfig(configPath: string | undefined, home: string): Promise<TeamsFile> {
  const path = configPath ?? embeddedTeamFilePath();
  return loadTeamFile(path, {
    displayPath: configPath ?? path,
    variables: { ...process.env, DEPLOYSTACK_HOME: home },
  });
}

/** The team a file's daemon runs: its default team. */
function currentTeamOf(teamsFile: TeamsFile): TeamConfig {
  const team = teamsFile.teams.find((candidate) => candidate.id === teamsFile.defaultTeamId) ?? teamsFile.teams[0];
  if (!team) throw new GatewayError("invalid_argument", `team file "${teamsFile.path}" defines no team`);
  return team;
}

/**
 * Starts a daemon: loads the config, checks that no other daemon runs here, reaps leftovers,
 * starts the watchdog, the supervisor, the control API, the servers and the frontend.
 * Rejects (with everything it started stopped again) when any of that fails.
 */
export async function createDaemon(options: DaemonOptions, extensions: DaemonExtensions = {}): Promise<Daemon> {
  const { logger } = options;
  const home = options.home ?? resolveHome();
  const paths = statePaths(home);
  const controller = new AbortController();
  const signal = controller.signal;
  const startedAt = Date.now();

  let controlListen: ListenAddress | undefined;
  if (options.controlListen !== undefined) controlListen = parseControlListen(options.controlListen);
  const teamsFile = await loadDaemonConfig(options.configPath, home);
  const team = currentTeamOf(teamsFile);
  const settings = teamsFile.gateway;
  const frontendPort = options.port ?? settings.port;

  ensurePrivateDir(home);
  ensurePrivateDir(paths.runDir);
  // Before anything touches processes: refuse when another daemon owns this state folder
  // (answering on the socket, or still starting and holding the pid file).
  await prepareSocketPath(paths.controlSocket);
  acquirePidFile(paths.pidFile, paths.controlSocket);

  const events = createEventHub((error) => logger.error({ err: error }, "event listener failed"));
  let supervision: SupervisionHandle | undefined;
  let mcp: McpWiring | undefined;
  let control: ControlServer | undefined;
  let frontend: FrontendRunner | undefined;
  let stopping: Promise<void> | undefined;
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((resolve) => (resolveStopped = resolve));
  const frontendListeners = new Set<() => void>();

  const step = async (what: string, run: () => Promise<void> | void): Promise<void> => {
    try {
      await run();
    } catch (error) {
      logger.error({ err: error, step: what }, "error while stopping; continuing");
    }
  };
  /**
   * The stop sequence: the frontend first (no new MCP traffic), then the engine and the
   * servers, and the control API last, so that "the socket is gone" means "everything stopped".
   */
  const stop = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ reason }, "daemon stopping");
      controller.abort();
      if (frontend) await step("frontend", () => frontend?.stop());
      if (mcp?.close) await step("mcp engine", () => mcp?.close?.());
      if (supervision) await step("servers", () => supervision?.shutdown());
      if (control) await step("control api", () => control?.close());
      await step("pid file", () => releasePidFile(paths.pidFile));
      logger.info("daemon stopped");
      resolveStopped();
    })();
    return stopping;
  };

  try {
    supervision = await startSupervision({ paths, servers: team.servers, logger, signal });
    const { supervisor } = supervision;
    supervisor.on("state", (snapshot, previous) =>
      events.publish({ kind: "server_state", time: Date.now(), server: snapshot, previous }),
    );
    supervisor.on("catalog", (serverName) =>
      events.publish({
        kind: "catalog",
        time: Date.now(),
        serverName,
        toolCount: supervisor.list().reduce((sum, server) => sum + server.toolCount, 0),
      }),
    );

    mcp = extensions.mcpRoutes?.({ supervision, events, logger: logger.child({ component: "mcp" }), signal, team });
    const mcpWiring = mcp;

    const status = (): GatewayStatusView => {
      const frontendStatus = frontend?.status();
      const port = frontendStatus?.port ?? (frontendPort !== 0 ? frontendPort : undefined);
      return {
        version: gatewayVersion,
        pid: process.pid,
        startedAt,
        team,
        configSource: "file",
        configPath: teamsFile.path,
        controlSocket: paths.controlSocket,
        controlAddress: control?.tcpAddress,
        mcpUrl: port !== undefined ? `http://localhost:${port}/mcp` : undefined,
        sseUrl: port !== undefined ? `http://localhost:${port}/sse` : undefined,
        frontendRunning: frontendStatus?.running ?? false,
        servers: supervisor.list(),
        sessionCount: mcpWiring?.sessionCount?.() ?? 0,
        home,
      };
    };

    control = await startControlServer({
      socketPath: paths.controlSocket,
      logger: logger.child({ component: "control-api" }),
      shutdownSignal: signal,
      tcp: controlListen && {
        ...controlListen,
        token: ensureControlToken(paths.controlToken),
        allowedOrigins: settings.controlAllowedOrigins,
      },
      routes: controlRoutes({
        gateway: { status, events, requestShutdown: () => void stop("shutdown requested through the control api") },
        servers: { supervisor },
        mcp: mcpWiring?.routes,
      }),
    });

    const tracked = supervision;
    frontend = createFrontendRunner({
      home,
      logger,
      entry: options.frontendEntry,
      config: {
        host: "127.0.0.1",
        port: frontendPort,
        controlSocket: paths.controlSocket,
        allowedOrigins: settings.allowedOrigins,
        clientAuth: settings.clientAuth,
        sessionIdleTimeoutMs: settings.sessionIdleTimeoutMs,
        maxSessions: settings.maxSessions,
      },
      onProcess: (event, pid) => tracked.trackProcessGroup(event, pid),
      onChange: () => {
        for (const listener of frontendListeners) listener();
      },
    });

    await supervision.startServers();
    frontend.start();
    logger.info({ team: team.id, servers: team.servers.length, socket: paths.controlSocket }, "daemon started");

    return {
      paths,
      teamsFile,
      controlSocket: paths.controlSocket,
      controlAddress: control.tcpAddress,
      status,
      stop,
      stopped,
      signal,
      onFrontendChange: (listener) => void frontendListeners.add(listener),
      frontendBuilt: () => frontend?.status().built ?? false,
    };
  } catch (error) {
    await stop("start-up failed");
    throw error;
  }
}
