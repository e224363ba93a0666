import { formatDuration } from "../config/duration.js";
import { GatewayError } from "../errors.js";
import type { ServerConfig } from "../config/types.js";
import { silentLogger, type Logger } from "../../shared/logger.js";
import { watchCatalog } from "../upstream/catalog.js";
import {
  createUpstreamConnection,
  DEFAULT_UPSTREAM_TIMEOUTS,
  defaultUpstreamHandlers,
  EraMismatchError,
  EraProbeFallbackError,
  UpstreamClosedError,
  type ManagedUpstreamConnection,
  type UpstreamTimeouts,
} from "../upstream/connection.js";
import { createStdioMessageTransport } from "../upstream/stdio-transport.js";
import type { UpstreamAuthProvider } from "../upstream/http-request.js";
import type { MessageTransport } from "../upstream/message-transport.js";
import { displayUrl, urlSecrets } from "../upstream/remote-url.js";
import { openRemoteServer, type RemoteExit, type RemoteRun } from "./remote-server.js";
import { type ProtocolEra, type UpstreamConnection, type UpstreamHandlers, type UpstreamIdentity } from "../upstream/types.js";
import { buildChildEnv, spawnChild, type ChildExit, type ChildHandle, type StopTimeouts } from "./child-process.js";
import { systemClock, type Clock, type TimerHandle } from "./clock.js";
import { createLineSplitter, createLogBuffer, type LogBuffer, type LogLimits } from "./log-buffer.js";
import { createMasker, maskJsonValue, maskUpstreamError, type Masker } from "./masking.js";
import type { ProcessRegistry } from "./process-registry.js";
import { serverUnavailableError } from "./unavailable-error.js";
import { backoffDelay, DEFAULT_RESTART_POLICY, isCrashLoop, recentCrashes, type RestartPolicy } from "./restart-policy.js";
import type {
  AcquireOptions,
  LogSource,
  ServerCatalog,
  ServerLog,
  ServerSnapshot,
  ServerState,
  Supervisor,
  SupervisorEventMap,
} from "./types.js";

/**
 * The process supervisor: one child process per configured MCP server, each with its own
 * lifecycle (STOPPED → STARTING → RUNNING, BACKOFF after a crash, FAILED after a crash loop,
 * IDLE for a lazy server with nothing to do, UNHEALTHY for a hung one that is being killed
 * to be restarted). Operations on one server are serialised, so
 * enable/disable/restart at any moment never race each other or leave two processes; servers
 * are independent, so one that hangs or fails never holds up another.
 */

/** Everything the supervisor depends on; all but `servers` have defaults. */
export interface SupervisorDeps {
  readonly servers: readonly ServerConfig[];
  readonly logger?: Logger;
  /** Drives back-off, the crash window, start-up, idle and request timeouts (not the stop sequence). */
  readonly clock?: Clock;
  /** Uniform in [0, 1); the back-off jitter. */
  readonly random?: () => number;
  /** Where the minimal base environment is taken from; default `process.env`. */
  readonly parentEnv?: NodeJS.ProcessEnv;
  readonly restartPolicy?: Partial<RestartPolicy>;
  /** The stdin close → SIGTERM → SIGKILL timeouts (real time). */
  readonly stopTimeouts?: StopTimeouts;
  /** Default bound of `acquire()`; default 30 s. */
  readonly acquireTimeoutMs?: number;
  /** Bound on discovering one catalog list; default 60 s. */
  readonly listTimeoutMs?: number;
  readonly logLimits?: LogLimits;
  /** Told about every process group spawned and gone (for the watchdog and leftover reaping). */
  readonly processRegistry?: ProcessRegistry;
  /** Handlers installed on every new connection before `initialize` (the MCP engine's). */
  readonly upstreamHandlers?: (serverName: string) => UpstreamHandlers;
  readonly clientInfo?: { readonly name: string; readonly version: string };
  /**
   * Whether a lazy server may skip its discovery start (its tools are known from the tool cache):
   * it then waits IDLE for its first use instead of being spawned once to list its tools.
   */
  readonly knowsCatalog?: (config: ServerConfig) => boolean;
  /**
   * The era a configuration was last seen speaking (the tool cache keeps it across restarts), asked once per
   * configuration before its first start: a known era skips the `server/discover` probe, which costs a legacy
   * server a request it does not know (and some of them their start). A start that finds the era wrong re-probes.
   */
  readonly knownEra?: (config: ServerConfig) => ProtocolEra | undefined;
  /**
   * Request timeouts and liveness settings of every connection (default
   * `DEFAULT_UPSTREAM_TIMEOUTS`); a server's `requestTimeoutMs` overrides both request bounds.
   */
  readonly upstreamTimeouts?: Partial<UpstreamTimeouts>;
  /** Bound on the `server/discover` era probe of a server whose era is not known yet; default 5 s. */
  readonly eraProbeTimeoutMs?: number;
  /**
   * The sign-in seam of a remote server (its OAuth client), asked on every connection attempt;
   * undefined: requests go without `Authorization`, and a 401 puts the server in NEEDS_AUTH.
   */
  readonly authProviderFor?: (config: ServerConfig) => UpstreamAuthProvider | undefined;
  /**
   * Secrets a server's masker hides besides those of its config: the OAuth tokens of a remote
   * server, which become known only after a sign-in or refresh (see `refreshMasker`).
   */
  readonly extraSecretsFor?: (serverName: string) => Iterable<string>;
}

/** The supervisor plus what only the composition root wires. */
export interface ManagedSupervisor extends Supervisor {
  /**
   * Sets the factory of handlers installed on every connection made from now on, and on the
   * live ones; for an engine created after the supervisor.
   */
  setUpstreamHandlers(factory: (serverName: string) => UpstreamHandlers): void;
  /** Rebuilds a server's masker after `extraSecretsFor` learned a new secret of it (a fresh token). */
  refreshMasker(serverName: string): void;
}

/** How long a process whose stdout closed may take to exit by itself before it is stopped (real time). */
const EXIT_GRACE_MS = 1000;

/**
 * How long after an exit the last output may take to arrive (real time: a grandchild may hold the pipes open). Under
 * load the pipes' end can trail the exit by more than half a second; the wait ends as soon as both pipes close.
 */
const OUTPUT_DRAIN_MS = 2000;

/** Lines of a run's stderr kept for the failure reason. */
const REASON_LINES = 10;

interface Run {
  /** The process, or for a remote server its supervised connection (no pid, nothing to signal). */
  readonly child: Pick<ChildHandle, "pid" | "signalGroup"> & { stop(timeouts?: StopTimeouts): Promise<ChildExit> };
  /** What the upstream connection speaks over: the process's pipes or the remote server's HTTP transport. */
  readonly transport: MessageTransport;
  /** A remote server's run (its transport flavour for status), if it is one. */
  readonly remote?: RemoteRun;
  /** The remote server answered 401 with no usable token: NEEDS_AUTH instead of back-off. */
  needsAuth?: boolean;
  /** How the connection opens: `auto` probes the era (the first start of a configuration). */
  readonly era: ProtocolEra | "auto";
  /**
   * True until the connection is open on an `auto` start: an exit in that window (a legacy
   * server that dies on the probe) restarts it once as legacy, not counted as a crash.
   */
  probing: boolean;
  readonly startController: AbortController;
  startTimer?: TimerHandle;
  connection?: ManagedUpstreamConnection;
  lease?: UpstreamConnection;
  /** Being stopped on purpose: its exit is not a crash. */
  intentional: boolean;
  ended: boolean;
  /** Why the supervisor killed it (start-up timeout, failed initialize), if it did. */
  failure?: string;
  readonly stderrTail: string[];
  readonly flushStderr: () => void;
}

interface Waiter {
  resolve(connection: UpstreamConnection): void;
  reject(error: Error): void;
}

interface Entry {
  config: ServerConfig;
  mask: Masker;
  enabled: boolean;
  state: ServerState;
  restarts: number;
  lastError?: string;
  startedAt?: number;
  nextStartAt?: number;
  identity?: UpstreamIdentity;
  /**
   * The era the current configuration speaks, once known: later starts open in it without a
   * probe ("Versioning › Backward Compatibility": the era is a property of the server, cached
   * per process configuration; re-probed when a start in the cached era fails or the config changes).
   */
  knownEra?: ProtocolEra;
  /** Whether `SupervisorDeps.knownEra` was asked for the current configuration (once: after a wrong era, probe). */
  askedCachedEra?: boolean;
  /** The HTTP transport a remote server turned out to speak. */
  knownFlavour?: "streamable-http" | "sse";
  catalog?: ServerCatalog;
  crashTimes: number[];
  readonly log: LogBuffer;
  run?: Run;
  backoffTimer?: TimerHandle;
  idleTimer?: TimerHandle;
  inFlight: number;
  queue: Promise<unknown>;
  readonly waiters: Set<Waiter>;
  removed: boolean;
}

/**
 * Creates the supervisor for `deps.servers`. Nothing runs until `start()`.
 * Never throws out of a timer or a child's event: every failure becomes a state and a log line.
 */
export function createSupervisor(deps: SupervisorDeps): ManagedSupervisor {
  const logger = deps.logger ?? silentLogger;
  const clock = deps.clock ?? systemClock;
  const random = deps.random ?? Math.random;
  const parentEnv = deps.parentEnv ?? process.env;
  const policy: RestartPolicy = { ...DEFAULT_RESTART_POLICY, ...deps.restartPolicy };
  const acquireTimeoutMs = deps.acquireTimeoutMs ?? 30_000;
  const baseTimeouts: UpstreamTimeouts = { ...DEFAULT_UPSTREAM_TIMEOUTS, ...deps.upstreamTimeouts };
  let handlersFor = deps.upstreamHandlers ?? ((): UpstreamHandlers => defaultUpstreamHandlers);
  const entries = new Map<string, Entry>();
  const listeners = new Map<keyof SupervisorEventMap, Set<(...args: never[]) => void>>();
  let started = false;
  let shuttingDown = false;

  const emit = <K extends keyof SupervisorEventMap>(event: K, ...args: SupervisorEventMap[K]): void => {
    for (const listener of [...(listeners.get(event) ?? [])]) {
      try {
        (listener as (...a: SupervisorEventMap[K]) => void)(...args);
      } catch (error) {
        logger.error({ err: String(error), event }, "supervisor event listener failed");
      }
    }
  };

  const newEntry = (config: ServerConfig): Entry => ({
    config,
    mask: maskerFor(config, deps.extraSecretsFor?.(config.name)),
    enabled: config.enabled,
    state: "stopped",
    restarts: 0,
    crashTimes: [],
    log: createLogBuffer(deps.logLimits),
    inFlight: 0,
    queue: Promise.resolve(),
    waiters: new Set(),
    removed: false,
  });

  for (const config of deps.servers) {
    if (entries.has(config.name)) throw new GatewayError("invalid_argument", `server "${config.name}" is configured twice`);
    entries.set(config.name, newEntry(config));
  }

  const find = (name: string): Entry => {
    const entry = entries.get(name);
    if (!entry) throw new GatewayError("not_found", `server "${name}" not found`);
    return entry;
  };

  const snapshot = (entry: Entry): ServerSnapshot => {
    const { config } = entry;
    return {
      name: config.name,
      state: entry.state,
      enabled: entry.enabled,
      ...(entry.run?.child.pid !== undefined ? { pid: entry.run.child.pid } : {}),
      restarts: entry.restarts,
      ...(entry.lastError !== undefined ? { lastError: entry.lastError } : {}),
      ...(entry.startedAt !== undefined ? { startedAt: entry.startedAt } : {}),
      ...(entry.nextStartAt !== undefined ? { nextStartAt: entry.nextStartAt } : {}),
      toolCount: entry.catalog?.tools.length ?? 0,
      command: entry.mask(config.command),
      args: config.args.map(entry.mask),
      envNames: Object.keys(config.env).sort(),
      ...(config.remote
        ? {
            url: displayUrl(config.remote.url),
            insecure: config.remote.insecure && config.remote.url.startsWith("http:"),
            transport: entry.run?.remote?.flavour ?? entry.knownFlavour ?? (config.remote.transport === "sse" ? "sse" : "streamable-http"),
          }
        : {}),
      startup: config.startup,
      prefix: config.prefix,
      ...(entry.identity !== undefined ? { identity: entry.identity } : {}),
      ...(entry.knownEra !== undefined ? { era: entry.knownEra } : {}),
    };
  };

  /** Appends a masked line to the server's log (and the daemon log for supervisor notes). */
  const note = (entry: Entry, text: string, source: LogSource = "supervisor"): void => {
    const masked = source === "supervisor" ? entry.mask(text) : text;
    entry.log.append({ time: clock.now(), source, text: masked });
    if (source === "supervisor") logger.info({ server: entry.config.name }, masked);
  };

  const setState = (entry: Entry, state: ServerState, changes: Partial<Entry> = {}): void => {
    const previous = entry.state;
    Object.assign(entry, changes);
    entry.state = state;
    if (entry.removed) return;
    emit("state", snapshot(entry), previous);
    if (state === "running" && entry.run?.lease) settleWaiters(entry, entry.run.lease);
    else if (state === "failed" || state === "needs_auth") settleWaiters(entry, unavailable(entry));
    else if (state === "stopped" && !entry.enabled) settleWaiters(entry, unavailable(entry));
  };

  const settleWaiters = (entry: Entry, outcome: UpstreamConnection | GatewayError): void => {
    const waiters = [...entry.waiters];
    entry.waiters.clear();
    for (const waiter of waiters) {
      if (outcome instanceof GatewayError) waiter.reject(outcome);
      else waiter.resolve(outcome);
    }
  };

  const unavailable = (entry: Entry): GatewayError =>
    serverUnavailableError({ name: entry.config.name, state: entry.state, enabled: entry.enabled, removed: entry.removed });

  /** Runs `op` after every earlier operation on the same server; its failure is logged, not thrown into the chain. */
  const serial = <T>(entry: Entry, op: () => T | Promise<T>): Promise<T> => {
    const result = entry.queue.then(op);
    entry.queue = result.catch((error: unknown) => {
      logger.error({ server: entry.config.name, err: String(error) }, "supervisor operation failed");
    });
    return result;
  };

  const clearTimers = (entry: Entry): void => {
    if (entry.backoffTimer !== undefined) clock.clearTimeout(entry.backoffTimer);
    if (entry.idleTimer !== undefined) clock.clearTimeout(entry.idleTimer);
    entry.backoffTimer = undefined;
    entry.idleTimer = undefined;
  };

  const armIdle = (entry: Entry): void => {
    if (entry.idleTimer !== undefined) clock.clearTimeout(entry.idleTimer);
    entry.idleTimer = undefined;
    if (entry.config.startup !== "lazy" || entry.state !== "running" || entry.inFlight > 0 || shuttingDown) return;
    const run = entry.run;
    entry.idleTimer = clock.setTimeout(() => {
      entry.idleTimer = undefined;
      void serial(entry, async () => {
        if (entry.run !== run || entry.state !== "running" || entry.inFlight > 0) return;
        note(entry, `idle for ${formatDuration(entry.config.idleTimeoutMs)}, stopping`);
        await stopRun(entry, "idle");
      });
    }, entry.config.idleTimeoutMs);
  };

  /**
   * A server's log notifications (`notifications/message`) are its logs: they are broadcast to every session and
   * shown by dsctl, so they are masked like its stderr before any handler sees them.
   */
  const maskingLogs = (entry: Entry, handlers: UpstreamHandlers): UpstreamHandlers => ({
    onNotification: (method, params) =>
      handlers.onNotification(method, method === "notifications/message" && params ? maskJsonValue(entry.mask, params) : params),
    onRequest: (method, params, signal) => handlers.onRequest(method, params, signal),
  });

  const makeLease = (entry: Entry, connection: ManagedUpstreamConnection): UpstreamConnection => {
    const done = (): void => {
      entry.inFlight--;
      if (entry.run?.connection === connection) armIdle(entry);
    };
    const counted = <T>(pending: Promise<T>): Promise<T> => {
      entry.inFlight++;
      if (entry.idleTimer !== undefined) clock.clearTimeout(entry.idleTimer);
      entry.idleTimer = undefined;
      pending.then(done, done);
      return pending;
    };
    return {
      serverName: connection.serverName,
      get identity() {
        return connection.identity;
      },
      closed: connection.closed,
      request: (method, params, options) => counted(connection.request(method, params, options)),
      forward: (method, params, options) => counted(connection.forward(method, params, options)),
      notify: (method, params) => connection.notify(method, params),
      setHandlers: (handlers) => connection.setHandlers(maskingLogs(entry, handlers)),
    };
  };

  /**
   * Starts a server as the supervisor's start or a config change would: a lazy one whose tools
   * are already known waits IDLE for its first use (no discovery start). Only inside `serial`.
   */
  const launchOrIdle = (entry: Entry): void => {
    if (entry.config.startup === "lazy" && entry.enabled && !entry.run && deps.knowsCatalog?.(entry.config)) {
      if (entry.state !== "idle") note(entry, "tools known from the cache; starting on first use");
      setState(entry, "idle");
      return;
    }
    launch(entry);
  };

  /**
   * Spawns the server's process. Only inside `serial`, only when there is no run. `era`: how to
   * open the connection; by default the known era of this configuration, else a probe.
   * `sameStart`: the legacy retry after a probe that cost the process its start is part of the
   * same start, so observers see one STARTING (the new pid shows from the next state on).
   */
  /** The era the tool cache remembers for the entry's configuration, asked only before its first start. */
  const cachedEra = (entry: Entry): ProtocolEra | undefined => {
    if (entry.askedCachedEra === true || entry.knownEra !== undefined) return undefined;
    entry.askedCachedEra = true;
    const era = deps.knownEra?.(entry.config);
    if (era !== undefined) entry.knownEra = era;
    return era;
  };

  const launch = (entry: Entry, era: ProtocolEra | "auto" = entry.knownEra ?? cachedEra(entry) ?? "auto", sameStart = false): void => {
    if (shuttingDown || entry.removed || entry.run || !entry.enabled) return;
    clearTimers(entry);
    const { config } = entry;
    if (config.remote) {
      launchRemote(entry, era, sameStart);
      return;
    }
    let child: ChildHandle;
    try {
      child = spawnChild({
        command: config.command,
        args: config.args,
        env: buildChildEnv(config.env, parentEnv),
        ...(config.cwd !== undefined ? { cwd: config.cwd } : {}),
      });
    } catch (error) {
      // Malformed arguments (a NUL byte): retrying cannot help.
      const reason = `could not start: ${error instanceof Error ? error.message : String(error)}`;
      note(entry, reason);
      setState(entry, "failed", { lastError: entry.mask(reason), startedAt: undefined, nextStartAt: undefined });
      return;
    }
    const stderrTail: string[] = [];
    const splitter = createLineSplitter(
      (line) => {
        stderrTail.push(line);
        if (stderrTail.length > REASON_LINES) stderrTail.shift();
        note(entry, line, "stderr");
      },
      { mask: entry.mask, holdBack: entry.mask.longestMatch - 1 },
    );
    const stderr = child.process.stderr;
    stderr?.on("data", (chunk: Buffer) => splitter.push(chunk));
    const closed = (stream: NodeJS.ReadableStream | null | undefined): Promise<void> =>
      new Promise<void>((resolve) => {
        if (!stream) resolve();
        else stream.once("close", () => resolve());
      });
    const outputDone = Promise.all([closed(stderr), closed(child.process.stdout)]).then(() => undefined);
    const run: Run = {
      child,
      transport: createStdioMessageTransport({ input: child.process.stdin!, output: child.process.stdout! }),
      era,
      probing: era === "auto",
      startController: new AbortController(),
      intentional: false,
      ended: false,
      stderrTail,
      flushStderr: () => splitter.flush(),
    };
    entry.run = run;
    // The exit can be reported before the last output was read: wait (briefly) for it. The last stderr lines are
    // the reason; the last stdout lines may be answers (a tool that replies, then exits) owed to waiting clients.
    child.exited.then(async (exit) => {
      await boundedWait(outputDone, OUTPUT_DRAIN_MS);
      onExit(entry, run, exit);
    });
    if (child.pid === undefined) {
      setState(entry, "starting", { startedAt: clock.now(), nextStartAt: undefined });
      return;
    }
    deps.processRegistry?.add(child.pid);
    note(entry, `spawned pid ${child.pid}: ${[config.command, ...config.args].join(" ")}`);
    beginStart(entry, run, sameStart);
  };

  /**
   * A remote server's counterpart of spawning: a new transport (and connection pool) to its URL.
   * Nothing is sent until `initialize` starts it; its end is the run's "exit".
   */
  const launchRemote = (entry: Entry, era: ProtocolEra | "auto", sameStart: boolean): void => {
    const remote = entry.config.remote!;
    const auth = deps.authProviderFor?.(entry.config);
    const connection = openRemoteServer({ serverName: entry.config.name, config: remote, ...(auth ? { auth } : {}) });
    const run: Run = {
      child: connection,
      transport: connection.transport,
      remote: connection,
      era,
      probing: era === "auto",
      startController: new AbortController(),
      intentional: false,
      ended: false,
      stderrTail: [],
      flushStderr: () => {},
    };
    entry.run = run;
    connection.exited.then((exit) => {
      if (exit.needsAuth) run.needsAuth = true;
      if (exit.reason !== undefined) run.failure ??= exit.reason;
      onExit(entry, run, exit);
    });
    note(entry, `connecting to ${displayUrl(remote.url)}${remote.insecure && remote.url.startsWith("http:") ? " (insecure: plain http)" : ""}`);
    beginStart(entry, run, sameStart);
  };

  /** STARTING, the start-up timer, and the MCP opening of a run just spawned or connected. Only inside `serial`. */
  const beginStart = (entry: Entry, run: Run, sameStart: boolean): void => {
    const { config } = entry;
    const era = run.era;
    if (sameStart && entry.state === "starting") Object.assign(entry, { startedAt: clock.now(), nextStartAt: undefined });
    else setState(entry, "starting", { startedAt: clock.now(), nextStartAt: undefined });
    run.startTimer = clock.setTimeout(() => {
      run.failure = `did not answer ${era === "modern" ? "server/discover" : "initialize"} within ${formatDuration(config.startupTimeoutMs)}`;
      run.startController.abort();
    }, config.startupTimeoutMs);
    void initialize(entry, run);
  };

  const initialize = async (entry: Entry, run: Run): Promise<void> => {
    const { child } = run;
    const name = entry.config.name;
    let connection: ManagedUpstreamConnection;
    try {
      connection = await createUpstreamConnection({
        serverName: name,
        transport: run.transport,
        handlers: maskingLogs(entry, handlersFor(name)),
        signal: run.startController.signal,
        logger,
        clock,
        timeouts: timeoutsOf(baseTimeouts, entry.config),
        era: run.era,
        ...(deps.eraProbeTimeoutMs !== undefined ? { probeTimeoutMs: deps.eraProbeTimeoutMs } : {}),
        onUnresponsive: (reason) => markUnhealthy(entry, run, reason),
        // A server's error answers reach MCP clients, dsctl and logs: mask its secrets in them once, here.
        maskError: (error) => maskUpstreamError(entry.mask, error),
        ...(deps.clientInfo ? { clientInfo: deps.clientInfo } : {}),
      });
    } catch (error) {
      if (run.startTimer !== undefined) clock.clearTimeout(run.startTimer);
      if (run.intentional || run.ended) return;
      if (error instanceof EraProbeFallbackError) {
        // The probe upset a legacy server: its exit restarts it as legacy (onExit), not as a crash.
        note(entry, error.message);
        void child.stop(deps.stopTimeouts);
        return;
      }
      // The server answered as if it spoke the other era: the next start probes again.
      if (error instanceof EraMismatchError) entry.knownEra = undefined;
      if (error instanceof UpstreamClosedError) {
        // It closed its stdout: it is exiting, and its exit status is the better reason.
        stopIfStillAlive(entry, run, "closed its stdout during initialize");
        return;
      }
      run.failure ??= error instanceof GatewayError ? error.message : "initialize failed";
      note(entry, `${run.failure}; stopping it`);
      void child.stop(deps.stopTimeouts);
      return;
    }
    if (run.startTimer !== undefined) clock.clearTimeout(run.startTimer);
    run.probing = false;
    if (run.intentional || run.ended || entry.run !== run) {
      await connection.close();
      return;
    }
    entry.knownEra = connection.identity.era;
    if (run.remote?.flavour) entry.knownFlavour = run.remote.flavour;
    run.connection = connection;
    run.lease = makeLease(entry, connection);
    connection.closed.addEventListener("abort", () => stopIfStillAlive(entry, run, run.remote ? "its connection closed" : "closed its stdout"));
    const watcher = watchCatalog(connection, {
      ...(deps.listTimeoutMs !== undefined ? { listTimeoutMs: deps.listTimeoutMs } : {}),
      logger,
      onCatalog: (catalog) => {
        if (entry.run !== run || entry.removed) return;
        const before = entry.catalog?.tools.length;
        // Descriptions and schemas go to the tool cache on disk, ListTools and every client: no secret in them.
        entry.catalog = maskJsonValue(entry.mask, catalog);
        emit("catalog", name, entry.catalog);
        if (entry.state === "running" && before !== catalog.tools.length) setState(entry, "running");
      },
    });
    await watcher.ready;
    if (entry.run !== run || run.intentional || run.ended) return;
    const identity = connection.identity;
    note(entry, `running: ${identity.serverInfo.name} ${identity.serverInfo.version} (protocol ${identity.protocolVersion})`);
    setState(entry, "running", { identity: maskJsonValue(entry.mask, identity) });
    armIdle(entry);
  };

  /**
   * The server stopped answering (its connection's liveness ping timed out; waiting callers
   * were already told). It is marked UNHEALTHY and killed; its exit then counts as a crash,
   * so the restart policy brings it back with back-off, or gives up on a server that keeps
   * hanging. A stopped process (SIGSTOP) is continued first so it can take the stop sequence.
   */
  const markUnhealthy = (entry: Entry, run: Run, reason: string): void => {
    if (entry.run !== run || run.intentional || run.ended) return;
    run.failure = `stopped responding: ${reason}`;
    note(entry, `${run.failure}; unhealthy, restarting it`);
    setState(entry, "unhealthy");
    run.child.signalGroup("SIGCONT");
    void run.child.stop(deps.stopTimeouts);
  };

  /**
   * The connection closed while the process may still be alive. Usually it is exiting and
   * its exit status comes within moments; if not, it is stopped (and that is the reason).
   */
  const stopIfStillAlive = (entry: Entry, run: Run, what: string): void => {
    if (run.intentional || run.ended) return;
    const timer = setTimeout(() => {
      if (run.intentional || run.ended) return;
      run.failure ??= what;
      note(entry, `${what}; stopping it`);
      void run.child.stop(deps.stopTimeouts);
    }, EXIT_GRACE_MS);
    timer.unref();
  };

  const onExit = (entry: Entry, run: Run, exit: ChildExit | RemoteExit): void => {
    if (run.ended) return;
    run.ended = true;
    if (run.startTimer !== undefined) clock.clearTimeout(run.startTimer);
    run.flushStderr();
    void run.connection?.close();
    run.startController.abort();
    const pid = run.child.pid;
    const exitText = run.remote ? ((exit as RemoteExit).reason ?? "disconnected") : describeExit(exit);
    note(entry, exitText);
    // Kill what the leader left behind in its group (npx wrappers, forked helpers), then forget the group.
    void run.child.stop(deps.stopTimeouts).then(() => {
      if (pid !== undefined) deps.processRegistry?.remove(pid);
    });
    if (entry.run !== run) return;
    entry.run = undefined;
    if (run.intentional) return;
    if (run.probing && run.failure === undefined && !shuttingDown && !entry.removed && entry.enabled) {
      // It went away during the era probe (or the initialize right after it): restarted once as legacy, no crash counted.
      entry.knownEra = "legacy";
      note(entry, "the server/discover probe cost this process its start; starting it again as a legacy server (not counted as a crash)");
      void serial(entry, () => {
        if (!entry.run && entry.enabled && !shuttingDown && !entry.removed && entry.state === "starting") launch(entry, "legacy", true);
      });
      return;
    }
    const reason = run.failure ?? exitText;
    if (run.needsAuth && !shuttingDown && !entry.removed && entry.enabled) {
      // Retrying cannot help until someone signs in; `dsctl servers login` (or restart/enable) starts it again.
      note(entry, reason);
      setState(entry, "needs_auth", { startedAt: undefined, nextStartAt: undefined, lastError: entry.mask(reason) });
      return;
    }
    const details = run.stderrTail.length > 0 ? `\n${run.stderrTail.join("\n")}` : "";
    const now = clock.now();
    entry.crashTimes = recentCrashes([...entry.crashTimes, now], now, policy);
    const cleared = { startedAt: undefined, nextStartAt: undefined };
    if (shuttingDown || entry.removed || !entry.enabled) {
      setState(entry, "stopped", { ...cleared, lastError: entry.mask(reason + details) });
      return;
    }
    if (isCrashLoop(entry.crashTimes, policy)) {
      const summary = `crash loop: ${entry.crashTimes.length} crashes within ${formatDuration(policy.windowMs)}; last: ${reason}`;
      note(entry, `${summary}; giving up until enabled or restarted`);
      setState(entry, "failed", { ...cleared, lastError: entry.mask(summary + details) });
      return;
    }
    const delay = backoffDelay(entry.crashTimes.length, policy, random);
    note(entry, `backing off ${formatDuration(delay)}`);
    setState(entry, "backoff", {
      ...cleared,
      lastError: entry.mask(reason + details),
      restarts: entry.restarts + 1,
      nextStartAt: now + delay,
    });
    entry.backoffTimer = clock.setTimeout(() => {
      entry.backoffTimer = undefined;
      void serial(entry, () => {
        if (entry.state === "backoff" && !entry.run) launch(entry);
      });
    }, delay);
  };

  /** Stops the current run (if any) and settles in `state`. Only inside `serial`. */
  const stopRun = async (entry: Entry, state: "stopped" | "idle"): Promise<void> => {
    clearTimers(entry);
    const run = entry.run;
    if (run) {
      run.intentional = true;
      run.startController.abort();
      note(entry, run.remote ? "disconnecting" : `stopping pid ${run.child.pid ?? "-"}`);
      const exit = await run.child.stop(deps.stopTimeouts);
      onExit(entry, run, exit);
      entry.run = undefined;
    }
    setState(entry, state, { startedAt: undefined, nextStartAt: undefined });
  };

  const resetFailures = (entry: Entry): void => {
    entry.restarts = 0;
    entry.crashTimes = [];
    entry.lastError = undefined;
  };

  const processChanged = (a: ServerConfig, b: ServerConfig): boolean =>
    JSON.stringify(a.remote ?? null) !== JSON.stringify(b.remote ?? null) ||
    a.command !== b.command ||
    a.cwd !== b.cwd ||
    a.args.length !== b.args.length ||
    a.args.some((arg, index) => arg !== b.args[index]) ||
    JSON.stringify(Object.entries(a.env).sort()) !== JSON.stringify(Object.entries(b.env).sort());

  const waitForRunning = (entry: Entry, options: AcquireOptions): Promise<UpstreamConnection> =>
    new Promise<UpstreamConnection>((resolve, reject) => {
      const signal = options.signal;
      const timeoutMs = options.timeoutMs ?? acquireTimeoutMs;
      const cleanup = (): void => {
        entry.waiters.delete(waiter);
        clock.clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const waiter: Waiter = {
        resolve(connection) {
          cleanup();
          resolve(connection);
        },
        reject(error) {
          cleanup();
          reject(error);
        },
      };
      const onAbort = (): void =>
        waiter.reject(new GatewayError("cancelled", `waiting for server "${entry.config.name}" was cancelled`));
      const timer = clock.setTimeout(
        () =>
          waiter.reject(
            new GatewayError("unavailable", `server "${entry.config.name}" is not ready (${entry.state}) after ${formatDuration(timeoutMs)}`),
          ),
        timeoutMs,
      );
      entry.waiters.add(waiter);
      if (signal?.aborted) onAbort();
      else signal?.addEventListener("abort", onAbort, { once: true });
    });

  const supervisor: ManagedSupervisor = {
    async start() {
      started = true;
      // One spawn per event-loop turn: spawning is synchronous (fork and exec, tens of milliseconds each on a busy
      // machine), and a team of twenty would otherwise hold the loop — and every MCP request waiting on it — for a
      // second. Each server still starts at once; requests get answered in between.
      for (const entry of entries.values()) {
        await serial(entry, () => {
          if (entry.enabled && entry.state === "stopped") launchOrIdle(entry);
        });
        await new Promise((resolve) => setImmediate(resolve));
      }
    },

    list() {
      return [...entries.values()].map(snapshot).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },

    get(name) {
      return snapshot(find(name));
    },

    enable(name) {
      const entry = find(name);
      return serial(entry, () => {
        entry.enabled = true;
        if (!entry.run && (entry.state === "stopped" || entry.state === "failed" || entry.state === "needs_auth")) {
          resetFailures(entry);
          launch(entry);
        }
        return snapshot(entry);
      });
    },

    disable(name) {
      const entry = find(name);
      return serial(entry, async () => {
        entry.enabled = false;
        await stopRun(entry, "stopped");
        return snapshot(entry);
      });
    },

    restart(name) {
      const entry = find(name);
      return serial(entry, async () => {
        if (!entry.enabled) throw new GatewayError("failed_precondition", `server "${name}" is disabled`);
        await stopRun(entry, "stopped");
        resetFailures(entry);
        launch(entry);
        return snapshot(entry);
      });
    },

    async acquire(name, options = {}) {
      const entry = find(name);
      if (!entry.enabled || entry.state === "failed" || entry.state === "needs_auth") throw unavailable(entry);
      if (entry.state === "running" && entry.run?.lease && !entry.run.lease.closed.aborted) {
        armIdle(entry);
        return entry.run.lease;
      }
      const waiting = waitForRunning(entry, options);
      if (entry.state === "idle" || entry.state === "stopped") {
        void serial(entry, () => {
          if (!entry.run && entry.enabled && (entry.state === "idle" || entry.state === "stopped")) {
            note(entry, "starting on demand");
            launch(entry);
          }
        });
      }
      return waiting;
    },

    catalog(name) {
      return find(name).catalog;
    },

    log(name): ServerLog {
      const { log } = find(name);
      return { tail: (lines) => log.tail(lines), subscribe: (listener) => log.subscribe(listener) };
    },

    config(name) {
      return find(name).config;
    },

    async replaceServers(configs) {
      const names = new Set<string>();
      for (const config of configs) {
        if (names.has(config.name)) throw new GatewayError("invalid_argument", `server "${config.name}" is configured twice`);
        names.add(config.name);
      }
      const operations: Promise<unknown>[] = [];
      for (const [name, entry] of entries) {
        if (names.has(name)) continue;
        entries.delete(name);
        operations.push(
          serial(entry, async () => {
            await stopRun(entry, "stopped");
            entry.removed = true;
            settleWaiters(entry, unavailable(entry));
          }),
        );
      }
      for (const config of configs) {
        const entry = entries.get(config.name);
        if (!entry) {
          const created = newEntry(config);
          entries.set(config.name, created);
          if (started) operations.push(serial(created, () => launchOrIdle(created)));
          continue;
        }
        const previous = entry.config;
        const restartNeeded = processChanged(previous, config);
        const enabledChanged = previous.enabled !== config.enabled;
        operations.push(
          serial(entry, async () => {
            entry.config = config;
            entry.mask = maskerFor(config, deps.extraSecretsFor?.(config.name));
            entry.run?.connection?.setTimeouts(timeoutsOf(baseTimeouts, config));
            if (enabledChanged) entry.enabled = config.enabled;
            if (!entry.enabled) {
              if (entry.run || entry.state !== "stopped") await stopRun(entry, "stopped");
              return;
            }
            if (restartNeeded) {
              entry.catalog = undefined;
              entry.identity = undefined;
              entry.knownEra = undefined;
              entry.askedCachedEra = false;
              if (entry.run || entry.state !== "stopped") await stopRun(entry, "stopped");
              resetFailures(entry);
              if (started) launchOrIdle(entry);
            } else if (enabledChanged && started && !entry.run) {
              resetFailures(entry);
              launch(entry);
            } else if (!restartNeeded) {
              setState(entry, entry.state);
            }
          }),
        );
      }
      emit("servers");
      await Promise.all(operations);
    },

    async shutdown() {
      shuttingDown = true;
      await Promise.all(
        [...entries.values()].map((entry) =>
          serial(entry, async () => {
            settleWaiters(entry, new GatewayError("unavailable", `server "${entry.config.name}" stopped: the gateway is shutting down`));
            await stopRun(entry, "stopped");
          }),
        ),
      );
    },

    on(event, listener) {
      let set = listeners.get(event);
      if (!set) listeners.set(event, (set = new Set()));
      set.add(listener as (...args: never[]) => void);
      return supervisor;
    },

    off(event, listener) {
      listeners.get(event)?.delete(listener as (...args: never[]) => void);
      return supervisor;
    },

    refreshMasker(serverName) {
      const entry = entries.get(serverName);
      if (entry) entry.mask = maskerFor(entry.config, deps.extraSecretsFor?.(serverName));
    },

    setUpstreamHandlers(factory) {
      handlersFor = factory;
      for (const entry of entries.values()) entry.run?.connection?.setHandlers(maskingLogs(entry, factory(entry.config.name)));
    },
  };
  return supervisor;
}

/**
 * The masker of a server's secrets: its env values, and for a remote server its header values,
 * its OAuth client secret and the credentials in its URL.
 */
function maskerFor(config: ServerConfig, extra: Iterable<string> = []): Masker {
  const remote = config.remote;
  if (!remote) return createMasker([...Object.values(config.env), ...extra]);
  return createMasker([
    ...extra,
    ...Object.values(config.env),
    ...Object.values(remote.headers),
    ...(remote.oauth?.clientSecret ? [remote.oauth.clientSecret] : []),
    ...urlSecrets(remote.url),
  ]);
}

function boundedWait(promise: Promise<void>, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    void promise.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function describeExit(exit: ChildExit): string {
  if (exit.error) return `could not start: ${exit.error.message}`;
  if (exit.signal) return `killed by ${exit.signal}`;
  return `exited with code ${exit.code}`;
}

/** The timeouts a server's connection runs with: the configured `requestTimeout` bounds every request. */
function timeoutsOf(base: UpstreamTimeouts, config: ServerConfig): UpstreamTimeouts {
  const limit = config.requestTimeoutMs;
  return limit === undefined ? base : { ...base, toolCallMs: limit, requestMs: limit };
}
