import type { ServerConfig, StartupMode } from "../config/types.js";
import type { JsonObject, ProtocolEra, UpstreamConnection, UpstreamIdentity } from "../upstream/types.js";
import type { CallSignal } from "../call-signal.js";

/**
 * The supervisor's public shape: what the control API, the MCP session engine and the
 * daemon's composition root may rely on. The implementation lives beside this file.
 */

/**
 * Lifecycle states of a supervised server (mirrors the control API's `ServerState`).
 * `unhealthy`: it stopped answering (a liveness ping went unanswered) and is being killed,
 * to be restarted with back-off like a crashed server.
 * `needs_auth`: a remote server answered 401 and no usable token exists; it waits for
 * `dsctl servers login NAME` (or a restart) instead of being retried.
 * `invalid`: the control plane marked the server invalid (a DeployStack server missing a
 * required setting). Such a server is never handed to the supervisor, so it never starts; it
 * is listed with this state (see `invalidServerSnapshot`) so that it does not vanish silently.
 */
export type ServerState = "stopped" | "starting" | "running" | "backoff" | "failed" | "idle" | "unhealthy" | "needs_auth" | "invalid";

/** What a server offers, discovered after `initialize` and refreshed on `notifications/…/list_changed`. */
export interface ServerCatalog {
  /** Tool definitions exactly as the server listed them (all pages merged). */
  readonly tools: readonly JsonObject[];
  readonly prompts: readonly JsonObject[];
  readonly resources: readonly JsonObject[];
  readonly resourceTemplates: readonly JsonObject[];
}

/**
 * A point-in-time view of one server, safe to hand to any caller: it carries the names
 * of the configured environment variables, never their values.
 */
export interface ServerSnapshot {
  readonly name: string;
  readonly state: ServerState;
  readonly enabled: boolean;
  /** Process id while a process exists. */
  readonly pid?: number;
  /** Restarts after unexpected exits since the server was last enabled or restarted by hand. */
  readonly restarts: number;
  /** Masked; includes the last stderr lines when the process died. */
  readonly lastError?: string;
  /** Epoch ms when the current process was spawned. */
  readonly startedAt?: number;
  /** Epoch ms when the next start is due (BACKOFF). */
  readonly nextStartAt?: number;
  readonly toolCount: number;
  readonly command: string;
  readonly args: readonly string[];
  readonly envNames: readonly string[];
  /** A remote server's URL as people may see it (no userinfo, credential-like query values masked). */
  readonly url?: string;
  /** A remote server reached over plain http:// off loopback (`insecure: true`). */
  readonly insecure?: boolean;
  /** How a remote server is reached (absent for a process: stdio). */
  readonly transport?: "streamable-http" | "sse";
  readonly startup: StartupMode;
  readonly prefix: string;
  /** From the last successful `initialize` (legacy) or `server/discover` (modern); carries the negotiated version. */
  readonly identity?: UpstreamIdentity;
  /**
   * The era the server speaks, once known (detected by the `server/discover` probe on the first
   * start of its configuration, and kept for later starts of the same configuration).
   */
  readonly era?: ProtocolEra;
}

/** Where a log line came from. */
export type LogSource = "stderr" | "supervisor";

/** One log line, already masked. */
export interface LogEntry {
  /** Epoch ms. */
  readonly time: number;
  readonly source: LogSource;
  readonly text: string;
}

/** A server's bounded log: the recent lines and a live feed. */
export interface ServerLog {
  /** The last `lines` entries (all that are kept when omitted or 0). */
  tail(lines?: number): LogEntry[];
  /** Calls `listener` for every new entry until the returned function is called. */
  subscribe(listener: (entry: LogEntry) => void): () => void;
}

/** Events the supervisor emits. */
export interface SupervisorEventMap {
  /** A server's state (or pid, restarts, tool count) changed. */
  state: [snapshot: ServerSnapshot, previous: ServerState];
  /** A server's catalog was discovered or changed. */
  catalog: [serverName: string, catalog: ServerCatalog];
  /** A server's configuration set changed (servers added or removed). */
  servers: [];
}

/** Options for acquiring a live connection. */
export interface AcquireOptions {
  /** How long to wait for a STARTING, BACKOFF or IDLE server to become RUNNING. */
  readonly timeoutMs?: number;
  readonly signal?: CallSignal;
}

/** The process supervisor: one managed process per configured server. */
export interface Supervisor {
  /** Starts every enabled server in parallel (lazy ones once, for discovery); resolves once all were spawned, without waiting for `initialize`. */
  start(): Promise<void>;
  /** Every configured server, sorted by name. */
  list(): ServerSnapshot[];
  /** One server; throws `GatewayError("not_found")`. */
  get(name: string): ServerSnapshot;
  enable(name: string): Promise<ServerSnapshot>;
  disable(name: string): Promise<ServerSnapshot>;
  /** Stops and starts again, clearing FAILED, back-off and the restart count. */
  restart(name: string): Promise<ServerSnapshot>;
  /**
   * A running, initialized connection, starting a lazy or idle server when needed and
   * waiting for a starting one. Throws `GatewayError("unavailable")` naming the server
   * when it is disabled, failed, or not ready in time.
   */
  acquire(name: string, options?: AcquireOptions): Promise<UpstreamConnection>;
  /** The last discovered catalog (kept while a lazy server is IDLE), if any. */
  catalog(name: string): ServerCatalog | undefined;
  /** The server's masked log; throws not_found. */
  log(name: string): ServerLog;
  /** The configuration a server runs with (includes secrets: daemon-internal use only). */
  config(name: string): ServerConfig;
  /** Replaces the set of servers: removed ones stop, new ones start, changed ones restart. */
  replaceServers(configs: readonly ServerConfig[]): Promise<void>;
  /** Stops everything: stdin close, then SIGTERM, then SIGKILL of each process group. */
  shutdown(): Promise<void>;
  on<K extends keyof SupervisorEventMap>(event: K, listener: (...args: SupervisorEventMap[K]) => void): this;
  off<K extends keyof SupervisorEventMap>(event: K, listener: (...args: SupervisorEventMap[K]) => void): this;
}
