import type { Agent } from "undici";
import type { RemoteServerConfig } from "../config/types.js";
import { createHttpMessageTransport } from "../upstream/http-transport.js";
import { createRemoteRequester, UpstreamNeedsAuthError, type RequestDispatcher, type UpstreamAuthProvider } from "../upstream/http-request.js";
import type { JsonRpcMessage, MessageTransport } from "../upstream/message-transport.js";
import type { ChildExit } from "./child-process.js";

/**
 * A remote MCP server as the supervisor sees it: a supervised connection with no process. It
 * has the shape of a child handle (an `exited` promise, `stop()`, no pid), so the one lifecycle
 * of the supervisor — STARTING, RUNNING, BACKOFF after a failure, FAILED after a loop, UNHEALTHY
 * when it stops answering — applies to it unchanged. "Exited" means the transport gave up: the
 * server was unreachable, its stream ended for good, or it wants a sign-in (`needsAuth`).
 * Each run has its own keep-alive connection pool (HTTP/2 where the server offers it), closed
 * with the run.
 */

/** How a remote server's transport ended (the supervisor's `ChildExit`, with the reason). */
export interface RemoteExit extends ChildExit {
  /** Why the transport gave up; undefined when it was closed on purpose. */
  readonly reason?: string;
  /** A 401 that no token could cure: the server goes to NEEDS_AUTH instead of backing off. */
  readonly needsAuth: boolean;
}

/** One connection attempt to a remote server. */
export interface RemoteRun {
  /** Always undefined: there is no process. */
  readonly pid: undefined;
  /** The transport the upstream connection speaks over. */
  readonly transport: MessageTransport;
  /** Resolves once the transport closed, for whatever reason; never rejects. */
  readonly exited: Promise<RemoteExit>;
  /** Nothing to signal. */
  signalGroup(signal: NodeJS.Signals): boolean;
  /** Closes the transport (DELETE of a legacy session) and the pool; resolves with the exit. */
  stop(): Promise<RemoteExit>;
  /** Which HTTP transport the server turned out to speak, once known. */
  readonly flavour: "streamable-http" | "sse" | undefined;
}

/** Options of `openRemoteServer`. */
export interface OpenRemoteServerOptions {
  readonly serverName: string;
  readonly config: RemoteServerConfig;
  /** The server's sign-in seam (the OAuth client), if it has one. */
  readonly auth?: UpstreamAuthProvider;
}

let loadAgent: Promise<typeof Agent> | undefined;

/**
 * A run's keep-alive pool (HTTP/2 where the server offers it), made at its first request. undici is loaded then, the
 * first time any remote server sends: a gateway with only local servers never loads it (several megabytes of the
 * daemon's memory; docs/architecture.md, "Memory: what loads when").
 */
function lazyPool(): { readonly dispatcher: RequestDispatcher; close(): Promise<void> } {
  let pool: Promise<Agent> | undefined;
  let made: Agent | undefined;
  let closed = false;
  const open = (): Promise<Agent> => {
    // Like a closed Agent: a request after the run ended fails (and makes no pool that nothing would close).
    if (closed) return Promise.reject(new Error("the connection pool is closed"));
    loadAgent ??= import("undici").then((undici) => undici.Agent);
    return (pool ??= loadAgent.then(
      (PoolAgent) => (made = new PoolAgent({ allowH2: true, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000, connections: 64 })),
    ));
  };
  return {
    // Once the pool exists, a request goes to it directly, as it did when the pool was made up front.
    dispatcher: { request: (options) => (made !== undefined ? made.request(options) : open().then((agent) => agent.request(options))) },
    close: async () => {
      closed = true;
      if (pool !== undefined) await (await pool).close();
    },
  };
}

/** Prepares a run of a remote server; nothing is sent until the connection starts the transport. */
export function openRemoteServer(options: OpenRemoteServerOptions): RemoteRun {
  const { serverName, config } = options;
  const url = new URL(config.url);
  const pool = lazyPool();
  const requester = createRemoteRequester({ serverName, url, headers: config.headers, dispatcher: pool.dispatcher, ...(options.auth ? { auth: options.auth } : {}) });
  let flavour: "streamable-http" | "sse" | undefined;
  const inner = createHttpMessageTransport({ serverName, url, mode: config.transport, requester, onFlavour: (kind) => (flavour = kind) });
  let settle!: (exit: RemoteExit) => void;
  const exited = new Promise<RemoteExit>((resolve) => (settle = resolve));
  let ended = false;
  let stopping = false;
  const end = (): void => {
    if (ended) return;
    ended = true;
    const failure = stopping ? undefined : (inner.failure ?? new Error("the connection closed"));
    void pool.close().catch(() => {});
    settle({ code: null, signal: null, needsAuth: failure instanceof UpstreamNeedsAuthError, ...(failure ? { reason: failure.message } : {}) });
  };
  // The connection installs its callbacks on `transport`; the run learns of the end first, so the reason is known
  // before any waiting request is told the server stopped.
  const transport: MessageTransport = {
    start: () => inner.start(),
    send: (message: JsonRpcMessage) => inner.send(message),
    close: async () => {
      stopping = true;
      await inner.close();
    },
  };
  inner.onmessage = (message) => transport.onmessage?.(message);
  inner.onerror = (error) => transport.onerror?.(error);
  inner.onclose = () => {
    end();
    transport.onclose?.();
  };
  return {
    pid: undefined,
    transport,
    exited,
    signalGroup: () => false,
    async stop() {
      if (!ended) {
        stopping = true;
        await inner.close().catch(() => {});
        end();
      }
      return exited;
    },
    get flavour() {
      return flavour;
    },
  };
}
