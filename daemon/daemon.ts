import { resolve } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { ensurePrivateDir, resolveHome, statePaths, type StatePaths } from "../shared/paths.js";
import type { Logger } from "../shared/logger.js";
import { gatewayVersion } from "../shared/version.js";
import { startControlServer, type ControlServer } from "./api/control-server.js";
import type { GatewayStatusView } from "./api/gateway-service.js";
import { parseControlListen, type ListenAddress } from "./api/listen-address.js";
import { authServiceRoutes } from "./api/auth-service.js";
import { createMcpWiring } from "./api/mcp-service.js";
import type { McpWiring } from "./mcp-wiring.js";
import { controlRoutes } from "./api/routes.js";
import { teamServiceRoutes } from "./api/team-service.js";
import { prepareSocketPath } from "./api/socket-path.js";
import { embeddedTeamFilePath, loadTeamFile } from "./config/load-team-file.js";
import { teamFileFingerprint, watchTeamFile, type TeamFileWatch } from "./config/watch-team-file.js";
import type { TeamConfig, TeamsFile } from "./config/types.js";
import { ensureControlToken } from "./control-token.js";
import { GatewayError } from "./errors.js";
import { createEventHub, type EventHub } from "./events.js";
import { createFrontendRunner, type FrontendRunner } from "./frontend-runner.js";
import { acquirePidFile, releasePidFile } from "./pid-file.js";
import { startSupervision, type SupervisionHandle } from "./supervision.js";
import { createOAuthWiring } from "./oauth/oauth-wiring.js";
import { openControlPlane } from "./control-plane/open-control-plane.js";
import type { ControlPlane } from "./control-plane/control-plane.js";
import { hopTiming } from "../shared/hop-timing.js";
import { startTracing, stopTracing } from "./tracing/request-tracer.js";
import { resolveTracingSettings } from "./tracing/tracing-settings.js";
import { openObservability, type OpenedObservability } from "./observability/open-observability.js";
import { auditServiceRoutes } from "./api/audit-service.js";

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
  /** `--cloud-url URL`: the DeployStack API for new logins; default `https://cloud-api.deploystack.io`. */
  readonly cloudUrl?: string;
  /** `--oauth-callback-port N`: the login's loopback callback port; default 8976; 0 picks a free one. */
  readonly oauthCallbackPort?: number;
  /** `--sync-interval`: the cloud source's periodic sync; default 5 min; 0 turns it off. */
  readonly syncIntervalMs?: number;
  /** `--server-wait`: how long MCP calls and lists wait for a server that is starting; default 5 s. */
  readonly serverWaitMs?: number;
  /** Environment for the vault key (`DEPLOYSTACK_MASTER_KEY`, `DEPLOYSTACK_KEYCHAIN`); default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Quiet time after a save of the team file before it is reloaded; default 300 ms (watch-team-file.ts). */
  readonly reloadDebounceMs?: number;
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

/** The longest the servers wait for the frontend to listen before they are spawned anyway. */
const FRONTEND_HEAD_START_MS = 2000;

/**
 * With a warm tool cache, how long after the frontend listens the servers wait before they are spawned. IDEs that
 * were waiting for the port connect at once, and the cache answers their tools/list without any server. Twenty
 * Node servers booting on two cores made those first round trips take 0.2–0.5 s; given this head start, they took
 * about 50 ms (bench/README.md). The servers, which take seconds to initialize anyway, start that much later.
 * Without a cache nothing can be answered before the servers run, so they do not wait.
 */
const WARM_CACHE_HEAD_START_MS = 250;

/** Resolves once the frontend listens, is not built (nothing to wait for), or `timeoutMs` has passed. */
function frontendSettled(frontend: FrontendRunner, listeners: Set<() => void>, timeoutMs: number): Promise<void> {
  const settled = (): boolean => frontend.status().running || !frontend.status().built;
  if (settled()) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      listeners.delete(check);
      resolve();
    };
    const check = (): void => {
      if (settled()) done();
    };
    const timer = setTimeout(done, timeoutMs);
    listeners.add(check);
  });
}

/** Loads the team file the daemon will run: `--config FILE` or the embedded default; its warnings go to `logger`. */
export async function loadDaemonConfig(configPath: string | undefined, home: string, logger?: Logger): Promise<TeamsFile> {
  const path = configPath ?? embeddedTeamFilePath();
  const file = await loadTeamFile(path, {
    displayPath: configPath ?? path,
    variables: { ...process.env, DEPLOYSTACK_HOME: home },
  });
  for (const warning of file.warnings ?? []) logger?.warn({ warning }, "team file warning");
  return file;
}

/**
 * Starts a daemon: loads the config, checks that no other daemon runs here, reaps leftovers,
 * starts the watchdog, the supervisor, the control API, the servers and the frontend.
 * Rejects (with everything it started stopped again) when any of that fails.
 */
export async function createDaemon(options: DaemonOptions): Promise<Daemon> {
  const { logger } = options;
  const home = options.home ?? resolveHome();
  const paths = statePaths(home);
  const controller = new AbortController();
  const signal = controller.signal;
  const startedAt = Date.now();

  let controlListen: ListenAddress | undefined;
  if (options.controlListen !== undefined) controlListen = parseControlListen(options.controlListen);
  // Before loading: a save between this and the watch's start is then seen as a change.
  const loadedFingerprint = options.configPath !== undefined ? await teamFileFingerprint(resolve(options.configPath)) : undefined;
  const teamsFile = await loadDaemonConfig(options.configPath, home, logger);
  if (teamsFile.teams.length === 0) throw new GatewayError("invalid_argument", `team file "${teamsFile.path}" defines no team`);
  const settings = teamsFile.gateway;
  const frontendPort = options.port ?? settings.port;
  // Off unless an OTLP endpoint is configured; a malformed one stops the start with the variable or field named.
  const tracing = resolveTracingSettings(options.env ?? process.env, settings.tracing);

  ensurePrivateDir(home);
  ensurePrivateDir(paths.runDir);
  // Before anything touches processes: refuse when another daemon owns this state folder
  // (answering on the socket, or still starting and holding the pid file).
  await prepareSocketPath(paths.controlSocket);
  acquirePidFile(paths.pidFile, paths.controlSocket);

  const events = createEventHub((error) => logger.error({ err: error }, "event listener failed"));
  let supervision: SupervisionHandle | undefined;
  let mcp: McpWiring | undefined;
  let controlPlane: ControlPlane | undefined;
  let control: ControlServer | undefined;
  let frontend: FrontendRunner | undefined;
  let fileWatch: TeamFileWatch | undefined;
  let observed: OpenedObservability | undefined;
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
      fileWatch?.close();
      controlPlane?.close();
      if (frontend) await step("frontend", () => frontend?.stop());
      if (mcp?.close) await step("mcp engine", () => mcp?.close?.());
      await step("tracing", () => stopTracing());
      if (supervision) await step("servers", () => supervision?.shutdown());
      if (control) await step("control api", () => control?.close());
      observed?.close();
      await step("pid file", () => releasePidFile(paths.pidFile));
      logger.info("daemon stopped");
      resolveStopped();
    })();
    return stopping;
  };

  try {
    // The config source decides which servers start: the cloud when logged in, else the file.
    const opened = await openControlPlane({
      home,
      paths,
      env: options.env ?? process.env,
      logger: logger.child({ component: "control-plane" }),
      events,
      initialFile: teamsFile,
      loadFile: () => loadDaemonConfig(options.configPath, home, logger),
      cloudUrl: options.cloudUrl,
      callbackPort: options.oauthCallbackPort,
      syncIntervalMs: options.syncIntervalMs,
    });
    controlPlane = opened;
    const plane = opened;
    const team = plane.currentTeam();
    // Remote servers' OAuth: tokens in the vault, a sign-in seam per connection, tokens masked.
    const oauth = createOAuthWiring({ vault: opened.vault, logger: logger.child({ component: "oauth" }) });
    supervision = await startSupervision({
      oauth,
      paths,
      servers: team.servers,
      logger,
      signal,
      // Read when a lazy server would start for discovery: the control plane seeds before every start.
      knowsCatalog: (config) => plane.cachedServers().has(config.name),
      // Read before a configuration's first start, when the control plane has seeded: the era its cache remembers.
      knownEra: (config) => plane.knownEra(config),
    });
    if (tracing) {
      // Loaded only now, and only when on (nothing of OpenTelemetry is imported otherwise); never fatal.
      await startTracing(tracing, gatewayVersion).then(
        () => logger.info({ endpoint: new URL(tracing.tracesUrl).origin }, "tracing on: spans are exported over OTLP/HTTP"),
        (error: unknown) => logger.error({ err: String(error) }, "tracing could not start; continuing without it"),
      );
    }
    const { supervisor } = supervision;
    const signIn = oauth.attach(supervisor);

    // Metrics, the audit log and dsctl top's figures: fed by the engine's one instrumentation point.
    observed = openObservability({
      paths,
      servers: () => supervisor.list(),
      currentTeam: () => plane.currentTeam(),
      whoAmI: async () => {
        const who = await plane.whoAmI();
        return who.loggedIn ? who.user?.email : undefined;
      },
      events,
    });
    const { observability } = observed;
    mcp = createMcpWiring({
      supervision,
      events,
      logger: logger.child({ component: "mcp" }),
      signal,
      team,
      acquireTimeoutMs: options.serverWaitMs,
      observer: observability,
    });
    const mcpWiring = mcp;
    // Subscribed after the registry (made with the engine above), which refreshes first on the same supervisor
    // events, so the counts published are the registry's new ones: the same as GetStatus, ListServers, ListTools.
    const registry = mcpWiring?.registry;
    supervisor.on("state", (snapshot, previous) =>
      events.publish({
        kind: "server_state",
        time: Date.now(),
        server: snapshot,
        previous,
        ...(registry ? { tools: registry.toolCounts().get(snapshot.name) ?? { exposed: 0, hidden: 0 } } : {}),
      }),
    );
    supervisor.on("catalog", (serverName) =>
      events.publish({
        kind: "catalog",
        time: Date.now(),
        serverName,
        toolCount: registry ? registry.tools().length : supervisor.list().reduce((sum, server) => sum + server.toolCount, 0),
      }),
    );
    const catalog = mcpWiring?.registry;
    if (catalog) observed.setCatalog((server, name) => catalog.describeTool(name)?.server === server);
    // Before any server starts: the policy in force and the cached tool lists.
    await plane.attach({ supervisor, registry: mcpWiring?.registry, profiles: mcpWiring?.profiles });

    const status = (): GatewayStatusView => {
      const frontendStatus = frontend?.status();
      const port = frontendStatus?.port ?? (frontendPort !== 0 ? frontendPort : undefined);
      return {
        version: gatewayVersion,
        pid: process.pid,
        startedAt,
        team: plane.currentTeam(),
        configSource: plane.source(),
        configPath: plane.location(),
        controlSocket: paths.controlSocket,
        controlAddress: control?.tcpAddress,
        mcpUrl: port !== undefined ? `http://localhost:${port}/mcp` : undefined,
        sseUrl: port !== undefined ? `http://localhost:${port}/sse` : undefined,
        frontendRunning: frontendStatus?.running ?? false,
        servers: supervisor.list(),
        toolCounts: mcpWiring?.registry?.toolCounts(),
        sessionCount: mcpWiring?.sessionCount?.() ?? 0,
        home,
        configError: plane.configError(),
      };
    };

    control = await startControlServer({
      socketPath: paths.controlSocket,
      logger: logger.child({ component: "control-api" }),
      shutdownSignal: signal,
      socketFastPaths: mcpWiring?.socketFastPaths,
      tcp: controlListen && {
        ...controlListen,
        token: ensureControlToken(paths.controlToken),
        allowedOrigins: settings.controlAllowedOrigins,
        limits: settings.controlHttp,
      },
      routes: controlRoutes({
        gateway: {
          status,
          events,
          requestShutdown: () => void stop("shutdown requested through the control api"),
          observability: { observability, servers: () => supervisor.list() },
          // dsctl dashboard on a daemon started without --control-listen.
          enableControlListener: (address) => {
            const where = parseControlListen(address ?? "127.0.0.1:0");
            const server = control;
            if (!server) throw new GatewayError("unavailable", "the control api is not up yet");
            return server.listenTcp({
              ...where,
              token: ensureControlToken(paths.controlToken),
              allowedOrigins: settings.controlAllowedOrigins,
              limits: settings.controlHttp,
            });
          },
        },
        servers: {
          supervisor,
          nameCollisions: mcpWiring?.registry ? () => mcpWiring.registry?.collisions() ?? [] : undefined,
          toolCounts: mcpWiring?.registry ? () => mcpWiring.registry?.toolCounts() ?? new Map() : undefined,
          invalidServers: () => plane.invalidServers(),
          signIn,
        },
        mcp: mcpWiring?.routes,
        teams: teamServiceRoutes({
          controlPlane: plane,
          tools: mcpWiring?.registry,
          profiles: mcpWiring?.profiles,
          mcpBaseUrl: () => status().mcpUrl?.replace(/\/mcp$/, ""),
        }),
        auth: authServiceRoutes({ controlPlane: plane }),
        audit: auditServiceRoutes({ audit: observability.audit }),
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
        ...(settings.sessionInitTimeoutMs !== undefined ? { sessionInitTimeoutMs: settings.sessionInitTimeoutMs } : {}),
        ...settings.http,
        hopTimingDir: hopTiming.dir,
      },
      onProcess: (event, pid) => tracked.trackProcessGroup(event, pid),
      onChange: () => {
        for (const listener of frontendListeners) listener();
      },
    });

    // The frontend first, and the servers once it listens: it depends on no server, and with a warm
    // tool cache the registry answers tools/list before any server has been spawned, let alone
    // initialized. Twenty servers booting at once would otherwise take the CPU from its start-up.
    frontend.start();
    await frontendSettled(frontend, frontendListeners, FRONTEND_HEAD_START_MS);
    if (mcpWiring?.registry?.hasSeeds()) await delay(WARM_CACHE_HEAD_START_MS, undefined, { signal }).catch(() => undefined);
    await supervision.startServers();
    plane.startBackground();
    // Hot reload: only the file loaded (the embedded demo is part of the installation, not the user's).
    if (options.configPath !== undefined && settings.watch) {
      fileWatch = await watchTeamFile({
        path: teamsFile.path,
        debounceMs: options.reloadDebounceMs,
        loadedFingerprint,
        logger: logger.child({ component: "team-file-watch" }),
        onChange: async () => {
          await plane.reloadFile();
          if (plane.source() === "file" && !plane.configError() && !plane.loadedFile().gateway.watch) {
            logger.info("gateway.watch is now false: the team file is no longer watched (dsctl teams sync re-reads it)");
            fileWatch?.close();
          }
        },
      });
      logger.info({ path: teamsFile.path }, "watching the team file: saved changes apply without a restart");
    }
    logger.info(
      { source: plane.source(), team: plane.currentTeam().id, servers: plane.currentTeam().servers.length, socket: paths.controlSocket },
      "daemon started",
    );

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
