import { formatDuration } from "../config/duration.js";
import { GatewayError } from "../errors.js";
import { systemClock, type Clock } from "../supervisor/clock.js";
import { hopTiming } from "../../shared/hop-timing.js";
import { InflightTable } from "../../shared/inflight-table.js";
import { silentLogger, type Logger } from "../../shared/logger.js";
import { gatewayVersion } from "../../shared/version.js";
import { LATEST_PROTOCOL_VERSION, MODERN_PROTOCOL_VERSIONS, isSupportedProtocolVersion } from "../../shared/mcp-protocol-versions.js";
import type { JsonRpcMessage, MessageTransport } from "./message-transport.js";
import {
  UpstreamRpcError,
  type JsonObject,
  type ProtocolEra,
  type UpstreamConnection,
  type UpstreamHandlers,
  type UpstreamIdentity,
  type UpstreamRequestOptions,
  type UpstreamResult,
} from "./types.js";
import { createDeadlineSweep } from "./deadline-sweep.js";
import { RawJson } from "./raw-json.js";
import { classifyProbeAnswer, stampModernRequest, UNSUPPORTED_PROTOCOL_VERSION_CODE, upstreamIdentity, withoutSubscriptionTag, type ModernStamp } from "./modern-era.js";
import { createModernListens, type ListenFilter, type ModernListens } from "./modern-listens.js";
import type { CallSignal } from "../call-signal.js";

/**
 * A lean JSON-RPC 2.0 peer for one MCP server, acting as the MCP client of that server.
 * It owns the upstream request ids (a counter), answers `ping` itself, turns an aborted
 * request into `notifications/cancelled`, and hands results back untouched — no schema
 * validation on the hot path: the engine forwards results as the server produced them.
 * The server is untrusted, so nothing waits on it forever: every request has a timeout,
 * and a server that goes quiet while requests wait is pinged and, if it does not answer,
 * declared unresponsive (MCP 2025-11-25 "Base Protocol › Lifecycle › Timeouts").
 *
 * One connection type serves both eras of MCP, with the same request, pending and timeout
 * machinery: a legacy server gets `initialize` and one session; a modern one (2026-07-28) gets
 * no handshake — every request carries the gateway's version, capabilities and identity in
 * `_meta` (modern-era.ts), `logging/setLevel` becomes a per-request level, `resources/subscribe`
 * becomes a `subscriptions/listen` (modern-listens.ts), and the liveness check uses
 * `server/discover` because modern servers have no `ping`. With `era: "auto"` the era is
 * detected first, as the stdio binding says ("Transports › stdio › Backward Compatibility").
 */

/**
 * How long the gateway waits on a server. One set per connection; the supervisor derives it
 * from the team file's `requestTimeout` and its own liveness settings.
 */
export interface UpstreamTimeouts {
  /**
   * Bound on a `tools/call` (tools legitimately run for minutes). Each progress notification
   * for the call restarts it, as the specification allows ("Lifecycle › Timeouts").
   */
  readonly toolCallMs: number;
  /** Bound on any other request (lists, reads, prompts, completions, pings sent for the engine). */
  readonly requestMs: number;
  /** With requests waiting and nothing received for this long, a `ping` is sent. */
  readonly quietMs: number;
  /** How long the server has to answer that ping before it is declared unresponsive. */
  readonly pingMs: number;
}

/** The defaults: 5 min for a tool call, 60 s for anything else, a ping after 30 s of silence, 30 s to answer it. */
export const DEFAULT_UPSTREAM_TIMEOUTS: UpstreamTimeouts = {
  toolCallMs: 5 * 60_000,
  requestMs: 60_000,
  quietMs: 30_000,
  pingMs: 30_000,
};

/**
 * Capabilities the gateway declares to every server: sampling, elicitation and roots are
 * routed to a client session, so servers expose the tools that need them.
 */
export const GATEWAY_CLIENT_CAPABILITIES: JsonObject = {
  sampling: {},
  elicitation: {},
  roots: { listChanged: true },
};

/**
 * The capabilities declared to a modern server in every request's `_meta`: the same routes as
 * for a legacy one, minus `roots.listChanged` (the modern revision has no
 * `notifications/roots/list_changed`: a server asks for roots again when it needs them).
 */
export const GATEWAY_MODERN_CLIENT_CAPABILITIES: JsonObject = {
  sampling: {},
  elicitation: {},
  roots: {},
};

/** Default bound on the `server/discover` era probe before the server counts as legacy. */
export const DEFAULT_ERA_PROBE_TIMEOUT_MS = 5_000;

/** Observes every notification from the server, whatever handlers the engine installed. */
export type NotificationObserver = (method: string, params: JsonObject | undefined) => void;

/** An upstream connection plus what only its owner (the supervisor) may do with it. */
export interface ManagedUpstreamConnection extends UpstreamConnection {
  /**
   * Adds an observer of server notifications that `setHandlers` does not replace (used for
   * catalog refreshes on `…/list_changed`). Returns the function that removes it.
   */
  observeNotifications(observer: NotificationObserver): () => void;
  /** Closes the transport; pending requests reject with `unavailable`. Idempotent. */
  close(): Promise<void>;
  /** Applies new timeouts to requests sent from now on (a changed team file needs no restart for them). */
  setTimeouts(timeouts: UpstreamTimeouts): void;
}

/** Options of `createUpstreamConnection`. */
export interface UpstreamConnectionOptions {
  /** The configured server name, for messages. */
  readonly serverName: string;
  readonly transport: MessageTransport;
  /** Initial handlers for server-initiated traffic; default: notifications dropped, requests refused. */
  readonly handlers?: UpstreamHandlers;
  /** `clientInfo` sent in `initialize` (legacy) or in every request's `_meta` (modern). */
  readonly clientInfo?: { readonly name: string; readonly version: string };
  /**
   * How to open the connection. `legacy` (the default): `initialize` at once. `modern`: the era
   * is known (cached from an earlier start), so `server/discover` is sent for the identity and
   * a refusal is a start-up failure. `auto`: probe with `server/discover` and fall back to
   * `initialize` on anything that is not modern evidence; if the process closes during the
   * probe, or `initialize` fails after an inconclusive probe, the start rejects with
   * `EraProbeFallbackError` so that the owner restarts the process once in legacy mode.
   */
  readonly era?: ProtocolEra | "auto";
  /** Bound on the era probe (`era: "auto"`); default `DEFAULT_ERA_PROBE_TIMEOUT_MS`. */
  readonly probeTimeoutMs?: number;
  /** Aborting it during `initialize` closes the connection and rejects (start-up timeout, stop). */
  readonly signal?: CallSignal;
  readonly logger?: Logger;
  /** Request timeouts and the liveness check; default `DEFAULT_UPSTREAM_TIMEOUTS`. */
  readonly timeouts?: UpstreamTimeouts;
  /** Drives the timeouts; tests pass a manual clock instead of waiting minutes. */
  readonly clock?: Clock;
  /**
   * Called once, with the reason ("no answer to a ping within 30s"), when the server did not
   * answer a liveness ping in time. By then every waiting request was rejected with
   * `unavailable` and the connection is closed; the owner restarts the server (the process
   * is presumably hung).
   */
  readonly onUnresponsive?: (reason: string) => void;
  /**
   * Applied to every JSON-RPC error the server answers before any caller sees it: its
   * `message` and `data` may echo the server's credentials (the supervisor passes its
   * secret masker). Results are never touched.
   */
  readonly maskError?: (error: UpstreamRpcError) => UpstreamRpcError;
}

/** A JSON-RPC error object. */
interface WireError {
  code: number;
  message: string;
  data?: unknown;
}

interface PendingRequest {
  /** Its JSON-RPC id. */
  readonly id: number;
  /** The caller takes `RawJson` (`UpstreamConnection.forward`). */
  readonly passThrough: boolean;
  readonly method: string;
  /** Its timeout; 0 for none (`initialize`, which the owner's start-up timeout bounds). */
  readonly limitMs: number;
  /** Clock time at which it times out (moved on by progress); 0 for none. */
  deadline: number;
  /** The `_meta.progressToken` it was sent with, whose progress restarts its timeout. */
  readonly progressToken: string | number | undefined;
  resolve(result: UpstreamResult): void;
  reject(error: Error): void;
}

/**
 * The connection closed under a request: the server process went away (or is being stopped).
 * A distinct class so the supervisor can tell "it died" from "it answered wrongly".
 */
export class UpstreamClosedError extends GatewayError {
  constructor(serverName: string) {
    super("unavailable", `server "${serverName}" stopped`);
  }
}

/**
 * The server did not answer a liveness ping in time: it is hung (stopped, deadlocked, stuck
 * in a loop). Waiting callers get this instead of waiting for their own timeouts.
 */
export class UpstreamUnresponsiveError extends GatewayError {
  constructor(serverName: string, pingMs: number, restarting: boolean, probe = "a ping") {
    super(
      "unavailable",
      `server "${serverName}" stopped responding (no answer to ${probe} within ${formatDuration(pingMs)})${restarting ? "; it is being restarted" : ""}`,
    );
  }
}

/**
 * The era probe upset the process: it closed during the `server/discover` probe, or it did not
 * complete `initialize` after a probe that found no modern server. Servers built on some SDKs
 * exit (or wedge) on any request before `initialize`; the probe must not cost such a server its
 * start, so the owner restarts it once with `era: "legacy"` and does not count a crash.
 */
export class EraProbeFallbackError extends GatewayError {
  constructor(serverName: string, cause: unknown) {
    super("unavailable", `server "${serverName}" did not survive the server/discover probe; starting it again as a legacy server`, { cause });
  }
}

/**
 * A start in a given era was answered as if the server spoke the other one: `initialize` was
 * refused with `-32022` (a modern-only server naming its versions), or `server/discover` was
 * not answered by a modern server. An owner that chose the
 * era from a cache forgets it and probes on the next start ("Versioning › Backward
 * Compatibility": re-probe if the cached assumption later fails).
 */
export class EraMismatchError extends GatewayError {}

/** Extra knobs of one request, used inside this module only. */
interface SendExtras {
  /**
   * A `subscriptions/listen`: open for as long as the subscription lasts, so it has no timeout
   * and never counts as waiting (it must not make the server look quiet).
   */
  readonly longLived?: boolean;
  /** Told the request's JSON-RPC id before it is written. */
  readonly onId?: (id: number) => void;
  /** Stamp the modern `_meta` whatever the connection's era (the era probe). */
  readonly stamp?: ModernStamp;
}

/** The default handlers: the supervisor's stance before an engine takes over. */
export const defaultUpstreamHandlers: UpstreamHandlers = {
  onNotification() {},
  async onRequest(method) {
    // We declare `roots`; until a session supplies some, there are none (MCP "Client Features › Roots").
    if (method === "roots/list") return { roots: [] };
    throw new UpstreamRpcError(-32601, `method not found: ${method}`);
  },
};

/**
 * Connects to an MCP server over `transport`: sends `initialize` with our capabilities,
 * checks the answered protocol version, sends `notifications/initialized`, and resolves
 * with the live connection (MCP 2025-11-25, "Lifecycle › Initialization").
 * Rejects with `GatewayError("unavailable")` when the server closes, answers with an error
 * or an unknown version, or `signal` aborts; the transport is closed in every failure case.
 */
export async function createUpstreamConnection(options: UpstreamConnectionOptions): Promise<ManagedUpstreamConnection> {
  const { serverName, transport } = options;
  const logger = options.logger ?? silentLogger;
  const quoted = `server "${serverName}"`;
  let handlers: UpstreamHandlers = options.handlers ?? defaultUpstreamHandlers;
  const observers = new Set<NotificationObserver>();
  const pending = new InflightTable<number, PendingRequest>();
  const incoming = new Map<string | number, AbortController>();
  const closedController = new AbortController();
  const clock = options.clock ?? systemClock;
  let timeouts = options.timeouts ?? DEFAULT_UPSTREAM_TIMEOUTS;
  let nextId = 1;
  let identity: UpstreamIdentity | undefined;
  /** The era the connection speaks once open (`legacy` while a probe is undecided). */
  let era: ProtocolEra = "legacy";
  const clientInfo = options.clientInfo ?? { name: "deploystack-gateway", version: gatewayVersion };
  /** What every request to a modern server carries; `logLevel` follows `logging/setLevel`. */
  let modernStamp: ModernStamp = {
    protocolVersion: MODERN_PROTOCOL_VERSIONS[0]!,
    clientCapabilities: GATEWAY_MODERN_CLIENT_CAPABILITIES,
    clientInfo,
  };
  let listens: ModernListens | undefined;
  /** Ids of the pending `subscriptions/listen` requests (see `waitingCount`). */
  const longLivedIds = new Set<number>();
  /** Messages received so far: the liveness check compares it instead of stamping each message with the time. */
  let received = 0;
  /** `received` when the quiet period being timed began, and when that period ends. */
  let receivedAtQuietStart = 0;
  let quietCheckAt = Infinity;
  /** The id of our outstanding liveness ping. */
  let pingId: number | undefined;
  const sweeper = createDeadlineSweep(clock, sweep);

  const stoppedError = (): GatewayError => new UpstreamClosedError(serverName);

  const sendQuietly = (message: JsonRpcMessage): void => {
    if (closedController.signal.aborted) return;
    transport.send(message).catch((error: unknown) => {
      logger.debug({ server: serverName, err: String(error) }, "upstream send failed");
    });
  };

  const onClose = (): void => {
    if (closedController.signal.aborted) return;
    closedController.abort(stoppedError());
    sweeper.stop();
    const error = stoppedError();
    const waiting = pending.values();
    pending.clear();
    for (const request of waiting) request.reject(error);
    for (const controller of incoming.values()) controller.abort();
    incoming.clear();
  };

  const handleResponse = (message: JsonRpcMessage): void => {
    const id = message.id;
    if (typeof id !== "number") return;
    const request = pending.get(id);
    if (!request) return; // cancelled, timed out or unknown: a late response is dropped (MCP "Cancellation").
    pending.delete(id);
    if (id === pingId) pingAnswered(); // any answer, even an error, shows it is alive
    const error = message.error as WireError | undefined;
    if (error !== undefined) {
      const rpcError = new UpstreamRpcError(Number(error?.code ?? -32603), String(error?.message ?? "error"), error?.data);
      request.reject(options.maskError ? options.maskError(rpcError) : rpcError);
    } else {
      const result = message.result;
      if (result instanceof RawJson) request.resolve(request.passThrough ? result : result.parse());
      else request.resolve(result !== null && typeof result === "object" ? (result as JsonObject) : {});
    }
  };

  const handleRequest = (id: string | number, method: string, params: JsonObject | undefined): void => {
    if (method === "ping") {
      sendQuietly({ jsonrpc: "2.0", id, result: {} });
      return;
    }
    const controller = new AbortController();
    incoming.set(id, controller);
    let answer: Promise<JsonObject>;
    try {
      answer = handlers.onRequest(method, params, controller.signal);
    } catch (error) {
      answer = Promise.reject(error);
    }
    answer.then(
      (result) => {
        if (incoming.get(id) !== controller || controller.signal.aborted) return;
        incoming.delete(id);
        sendQuietly({ jsonrpc: "2.0", id, result });
      },
      (error: unknown) => {
        if (incoming.get(id) !== controller || controller.signal.aborted) return;
        incoming.delete(id);
        sendQuietly({ jsonrpc: "2.0", id, error: toWireError(error) });
      },
    );
  };

  const handleNotification = (method: string, params: JsonObject | undefined): void => {
    if (method === "notifications/subscriptions/acknowledged") {
      listens?.acknowledged(params);
      return;
    }
    if (era === "modern") params = withoutSubscriptionTag(params);
    if (method === "notifications/progress") {
      restartTimeoutOnProgress(params?.progressToken);
    } else if (method === "notifications/cancelled") {
      const requestId = params?.requestId;
      const controller = typeof requestId === "string" || typeof requestId === "number" ? incoming.get(requestId) : undefined;
      if (controller) {
        incoming.delete(requestId as string | number);
        controller.abort();
      }
      return;
    }
    for (const observer of observers) {
      try {
        observer(method, params);
      } catch (error) {
        logger.warn({ server: serverName, err: String(error) }, "notification observer failed");
      }
    }
    try {
      handlers.onNotification(method, params);
    } catch (error) {
      logger.warn({ server: serverName, err: String(error) }, "notification handler failed");
    }
  };

  transport.onmessage = (message: JsonRpcMessage): void => {
    received++;
    const method = message.method;
    const params = isObject(message.params) ? message.params : undefined;
    if (typeof method === "string") {
      const id = message.id;
      if (typeof id === "string" || typeof id === "number") handleRequest(id, method, params);
      else handleNotification(method, params);
    } else if ("id" in message) {
      handleResponse(message);
    }
  };
  transport.onerror = (error: Error): void => {
    logger.warn({ server: serverName, err: error.message }, "upstream transport problem");
  };
  transport.onclose = onClose;

  const request = (method: string, params: JsonObject | undefined, requestOptions?: UpstreamRequestOptions): Promise<JsonObject> =>
    send(method, params, requestOptions, false) as Promise<JsonObject>;

  /**
   * A request to a modern server that the legacy face of the connection turns into something
   * else (see the module comment), or undefined for one that is sent as it is.
   */
  function translateModern(method: string, params: JsonObject | undefined, signal: CallSignal | undefined): Promise<UpstreamResult> | undefined {
    switch (method) {
      case "logging/setLevel": {
        // No `logging/setLevel` in the modern revision: the level travels in each request's `_meta`.
        const level = params?.level;
        if (typeof level === "string") modernStamp = { ...modernStamp, logLevel: level };
        return Promise.resolve({});
      }
      case "resources/subscribe":
      case "resources/unsubscribe": {
        const uri = params?.uri;
        if (typeof uri !== "string") return Promise.reject(new UpstreamRpcError(-32602, 'invalid params: "uri" must be a string'));
        return method === "resources/subscribe" ? listens!.subscribe(uri, signal) : listens!.unsubscribe(uri);
      }
      case "ping":
        // Modern servers have no `ping`; `server/discover` is the cheapest request every one of them answers.
        return send("server/discover", undefined, signal ? { signal } : undefined, false).then(() => ({}));
      default:
        return undefined;
    }
  }

  /** Sends one request; only with `passThrough` may it resolve with `RawJson`. `limitMs` 0: no timeout. */
  function send(
    method: string,
    params: JsonObject | undefined,
    requestOptions: UpstreamRequestOptions | undefined,
    passThrough: boolean,
    limitMs = method === "tools/call" ? timeouts.toolCallMs : timeouts.requestMs,
    extras?: SendExtras,
  ): Promise<UpstreamResult> {
    if (closedController.signal.aborted) return Promise.reject(stoppedError());
    const signal = requestOptions?.signal;
    if (signal?.aborted) return Promise.reject(cancelledError(quoted, method));
    if (era === "modern" && extras === undefined) {
      const translated = translateModern(method, params, signal);
      if (translated) return translated;
    }
    const callerCapabilities = requestOptions?.clientCapabilities;
    const stamp =
      extras?.stamp ??
      (era !== "modern" ? undefined : callerCapabilities ? { ...modernStamp, clientCapabilities: callerCapabilities } : modernStamp);
    if (stamp) params = stampModernRequest(params, stamp);
    const longLived = extras?.longLived === true;
    if (longLived) limitMs = 0;
    const id = nextId++;
    extras?.onId?.(id);
    const sentAt = hopTiming.enabled ? hopTiming.now() : 0;
    const meta = params?._meta;
    const token = meta !== null && typeof meta === "object" ? (meta as JsonObject).progressToken : undefined;
    const progressToken = typeof token === "string" || typeof token === "number" ? token : undefined;
    return new Promise<UpstreamResult>((resolve, reject) => {
      let onAbort: (() => void) | undefined;
      const settle: PendingRequest = {
        id,
        passThrough,
        method,
        limitMs,
        deadline: 0,
        progressToken,
        resolve(result) {
          if (sentAt !== 0) hopTiming.record("daemon.upstream", sentAt);
          if (onAbort) signal!.removeEventListener("abort", onAbort);
          resolve(result);
        },
        reject(error) {
          if (onAbort) signal!.removeEventListener("abort", onAbort);
          reject(error);
        },
      };
      if (limitMs > 0) {
        const now = clock.now();
        settle.deadline = now + limitMs;
        startQuietPeriodIfIdle(now);
        sweeper.due(Math.min(settle.deadline, quietCheckAt));
      }
      pending.set(id, settle);
      if (longLived) longLivedIds.add(id);
      if (signal) {
        onAbort = (): void => {
          if (!pending.delete(id)) return;
          const reason = typeof signal.reason === "string" ? signal.reason : "request cancelled";
          sendQuietly({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: id, reason } });
          settle.reject(cancelledError(quoted, method));
        };
        signal.addEventListener("abort", onAbort, { once: true });
      }
      const message: JsonRpcMessage =
        params === undefined ? { jsonrpc: "2.0", id, method } : { jsonrpc: "2.0", id, method, params };
      transport.send(message).catch(() => {
        if (pending.delete(id)) settle.reject(stoppedError());
      });
    });
  }

  /**
   * Progress for one of our requests restarts its timeout ("Lifecycle › Timeouts"). Found by a
   * scan of the pending requests rather than a token index, so that a call costs no index
   * upkeep: progress is rarer than calls, and few requests wait at once.
   */
  function restartTimeoutOnProgress(token: unknown): void {
    if (typeof token !== "string" && typeof token !== "number") return;
    for (const request of pending.values()) {
      if (request.progressToken === token) {
        if (request.deadline !== 0) request.deadline = clock.now() + request.limitMs;
        return;
      }
    }
  }

  /**
   * Starts timing a quiet period when a request starts waiting and nothing was pending (a
   * pending ping is already a check): a connection idle for an hour is not "quiet" the
   * moment a call arrives.
   */
  function startQuietPeriodIfIdle(now: number): void {
    if (waitingCount() > 0) return;
    receivedAtQuietStart = received;
    quietCheckAt = now + timeouts.quietMs;
  }

  /**
   * Requests waiting for an answer: pending ones, less open subscriptions (a ping counts). O(1)
   * for a legacy server (no subscriptions); otherwise a look at the few subscription ids, which
   * also forgets the ones no longer pending.
   */
  function waitingCount(): number {
    if (longLivedIds.size === 0) return pending.size;
    let open = 0;
    for (const id of longLivedIds) {
      if (pending.has(id)) open++;
      else longLivedIds.delete(id);
    }
    return pending.size - open;
  }

  /** Sends the liveness ping (at most one outstanding); returns its deadline. */
  function sendPing(now: number): number {
    const id = nextId++;
    pingId = id;
    const deadline = now + timeouts.pingMs;
    const settle: PendingRequest = {
      id,
      passThrough: false,
      method: "ping",
      limitMs: timeouts.pingMs,
      deadline,
      progressToken: undefined,
      resolve() {},
      reject() {},
    };
    pending.set(id, settle);
    quietCheckAt = Infinity;
    // A modern server has no `ping` ("Key Changes" 5): `server/discover`, which every one answers, is the probe.
    const probe = era === "modern" ? "server/discover" : "ping";
    logger.debug({ server: serverName, probe }, "checking on the server");
    sendQuietly(
      era === "modern"
        ? { jsonrpc: "2.0", id, method: probe, params: stampModernRequest(undefined, modernStamp) }
        : { jsonrpc: "2.0", id, method: probe },
    );
    return deadline;
  }

  /** Our ping was answered: with requests still waiting, the next quiet period starts now. */
  function pingAnswered(): void {
    pingId = undefined;
    if (waitingCount() === 0) {
      quietCheckAt = Infinity;
      return;
    }
    receivedAtQuietStart = received;
    quietCheckAt = clock.now() + timeouts.quietMs;
    sweeper.due(quietCheckAt);
  }

  /**
   * The one timer's work: rejects the requests whose time is up (and cancels them upstream),
   * pings a server that has been quiet while requests wait or that just let one time out, and
   * declares it unresponsive when our ping itself timed out. Returns when to sweep next.
   */
  function sweep(now: number): number {
    if (closedController.signal.aborted) return Infinity;
    let next = Infinity;
    let expired = false;
    let unresponsive = false;
    for (const request of pending.values()) {
      const id = request.id;
      if (request.deadline === 0) continue;
      if (request.deadline > now) {
        if (request.deadline < next) next = request.deadline;
        continue;
      }
      pending.delete(id);
      if (id === pingId) {
        unresponsive = true;
        continue;
      }
      expired = true;
      const limit = formatDuration(request.limitMs);
      const reason = `no answer within ${limit}`;
      sendQuietly({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: id, reason } });
      logger.info({ server: serverName, method: request.method, timeoutMs: request.limitMs }, "upstream request timed out");
      request.reject(
        new GatewayError(
          "deadline_exceeded",
          `${request.method} on ${quoted} timed out: no answer within ${limit}${request.progressToken !== undefined && request.method === "tools/call" ? " (without progress)" : ""}`,
        ),
      );
    }
    if (unresponsive) {
      declareUnresponsive();
      return Infinity;
    }
    const waiting = waitingCount() > (pingId === undefined ? 0 : 1);
    // A request that timed out is reason enough to check on the server; so is silence while requests wait.
    if (pingId === undefined && (expired || (waiting && now >= quietCheckAt))) {
      if (expired || received === receivedAtQuietStart) {
        next = Math.min(next, sendPing(now));
      } else {
        receivedAtQuietStart = received;
        quietCheckAt = now + timeouts.quietMs;
      }
    }
    if (waiting && pingId === undefined && quietCheckAt < next) next = quietCheckAt;
    return next;
  }

  /** Our ping went unanswered: fail every waiting request now, close, and tell the owner. */
  function declareUnresponsive(): void {
    pingId = undefined;
    const probe = era === "modern" ? "a server/discover probe" : "a ping";
    const error = new UpstreamUnresponsiveError(serverName, timeouts.pingMs, options.onUnresponsive !== undefined, probe);
    logger.warn({ server: serverName, pingMs: timeouts.pingMs }, "upstream did not answer a ping: unresponsive");
    const waiting = pending.values();
    pending.clear();
    for (const request of waiting) request.reject(error);
    // Closed at once, before the transport finishes closing: nothing more is sent into a hung server.
    onClose();
    transport.close().catch((failure: unknown) => {
      logger.debug({ server: serverName, err: String(failure) }, "upstream transport close failed");
    });
    try {
      options.onUnresponsive?.(`no answer to ${probe} within ${formatDuration(timeouts.pingMs)}`);
    } catch (failure) {
      logger.warn({ server: serverName, err: String(failure) }, "unresponsive handler failed");
    }
  }

  const close = async (): Promise<void> => {
    if (!closedController.signal.aborted) {
      try {
        await transport.close();
      } catch (error) {
        logger.debug({ server: serverName, err: String(error) }, "upstream transport close failed");
      }
    }
    onClose();
  };

  const connection: ManagedUpstreamConnection = {
    serverName,
    get identity(): UpstreamIdentity {
      return identity!;
    },
    request,
    forward: (method, params, requestOptions) => send(method, params, requestOptions, true),
    notify(method, params) {
      // Gone from the modern revision: a modern server asks for roots when it needs them.
      if (era === "modern" && method === "notifications/roots/list_changed") return;
      sendQuietly(params === undefined ? { jsonrpc: "2.0", method } : { jsonrpc: "2.0", method, params });
    },
    setHandlers(next) {
      handlers = next;
    },
    closed: closedController.signal,
    observeNotifications(observer) {
      observers.add(observer);
      return () => observers.delete(observer);
    },
    close,
    setTimeouts(next) {
      timeouts = next;
    },
  };

  /** The legacy opening: `initialize`, then `notifications/initialized` ("Lifecycle › Initialization"). */
  const initializeParams = (): JsonObject => ({
    protocolVersion: LATEST_PROTOCOL_VERSION,
    capabilities: GATEWAY_CLIENT_CAPABILITIES,
    clientInfo,
  });
  const finishLegacy = (result: JsonObject): void => {
    identity = toIdentity(quoted, result);
    connection.notify("notifications/initialized");
  };

  /** Speaks the modern revision from now on, with the identity `server/discover` gave; follows list changes. */
  const becomeModern = (found: UpstreamIdentity): void => {
    identity = found;
    era = "modern";
    modernStamp = { ...modernStamp, protocolVersion: found.protocolVersion };
    listens = createModernListens({
      serverName,
      capabilities: found.capabilities,
      listen: (filter: ListenFilter, signal, onId) =>
        send("subscriptions/listen", { notifications: filter as JsonObject }, { signal }, false, 0, { longLived: true, onId }) as Promise<JsonObject>,
      ackTimeoutMs: () => timeouts.requestMs,
      closed: closedController.signal,
      logger,
    });
    listens.start();
  };

  type ProbeAnswer = { result: JsonObject } | { error: unknown };
  /** One `server/discover` with the modern `_meta` for `version`; never rejects. `onId` gets its id. */
  const discover = (version: string, onId?: (id: number) => void): Promise<ProbeAnswer> =>
    send("server/discover", undefined, undefined, false, 0, { stamp: { ...modernStamp, protocolVersion: version }, ...(onId ? { onId } : {}) }).then(
      (result) => ({ result: result as JsonObject }),
      (error: unknown) => ({ error }),
    );

  /** The era is known to be modern (cached): `server/discover` gives the identity; anything else is a failed start. */
  const openModern = async (): Promise<void> => {
    let version = MODERN_PROTOCOL_VERSIONS[0]!;
    for (let attempt = 0; attempt < 2; attempt++) {
      const answer = await discover(version);
      const verdict = classifyProbeAnswer(answer);
      if (verdict.kind === "modern") return becomeModern(verdict.identity);
      if (verdict.kind === "retry" && attempt === 0) {
        version = verdict.version;
        continue;
      }
      if ("error" in answer && answer.error instanceof GatewayError) throw answer.error;
      break;
    }
    throw new EraMismatchError("unavailable", `${quoted} did not answer server/discover as a modern server`);
  };

  /**
   * Detects the era ("Transports › stdio › Backward Compatibility") and opens the connection in
   * it. Modern evidence: a `DiscoverResult` naming a version we speak, or `-32022` listing one
   * (asked again once with it). Anything else — another error, garbage, silence past the probe
   * bound — is legacy, and `initialize` follows on the same process. A `DiscoverResult` that
   * arrives late (a slow starter answering after the bound) still wins over `initialize`.
   */
  const openAuto = async (): Promise<void> => {
    const probeMs = options.probeTimeoutMs ?? DEFAULT_ERA_PROBE_TIMEOUT_MS;
    let version = MODERN_PROTOCOL_VERSIONS[0]!;
    let late: Promise<ProbeAnswer> | undefined;
    let lateId: number | undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      let probeId: number | undefined;
      const asked = discover(version, (id) => (probeId = id));
      const answer = await withinProbeBound(asked, probeMs);
      if (answer === "timeout") {
        late = asked;
        lateId = probeId;
        break;
      }
      if ("error" in answer && answer.error instanceof UpstreamClosedError) throw new EraProbeFallbackError(serverName, answer.error);
      const verdict = classifyProbeAnswer(answer);
      if (verdict.kind === "modern") return becomeModern(verdict.identity);
      if (verdict.kind === "retry" && attempt === 0 && verdict.version !== version) {
        version = verdict.version;
        continue;
      }
      if (verdict.kind === "incompatible") {
        throw new GatewayError("unavailable", `${quoted} speaks only protocol ${verdict.supported.slice(0, 4).join(", ").slice(0, 80)}, which the gateway does not`);
      }
      break;
    }
    const initialized = send("initialize", initializeParams(), undefined, false, 0).then(
      (result) => ({ result: result as JsonObject }),
      (error: unknown) => ({ error }),
    );
    const lateModern = late?.then((answer): Promise<ProbeAnswer | { modern: UpstreamIdentity }> | { modern: UpstreamIdentity } => {
      const verdict = classifyProbeAnswer(answer);
      return verdict.kind === "modern" ? { modern: verdict.identity } : initialized;
    });
    const first = await (lateModern ? Promise.race([initialized, lateModern]) : initialized);
    if ("modern" in first) return becomeModern(first.modern);
    // Legacy: a probe that never got its answer must not keep the server looking busy.
    if (lateId !== undefined) pending.delete(lateId);
    if ("error" in first) throw new EraProbeFallbackError(serverName, first.error);
    finishLegacy(first.result);
  };

  /** Resolves with `promise`'s value, or "timeout" after `ms` on the connection's clock. */
  function withinProbeBound<T>(promise: Promise<T>, ms: number): Promise<T | "timeout"> {
    return new Promise((resolve) => {
      const timer = clock.setTimeout(() => resolve("timeout"), ms);
      void promise.then((value) => {
        clock.clearTimeout(timer);
        resolve(value);
      });
    });
  }

  const startSignal = options.signal;
  const onStartAbort = (): void => void close();
  try {
    if (startSignal?.aborted) throw new GatewayError("unavailable", `${quoted} start was cancelled`);
    startSignal?.addEventListener("abort", onStartAbort, { once: true });
    await transport.start();
    const opening = options.era ?? "legacy";
    if (opening === "auto") await openAuto();
    else if (opening === "modern") await openModern();
    else finishLegacy((await send("initialize", initializeParams(), undefined, false, 0)) as JsonObject);
    return connection;
  } catch (error) {
    await close();
    if (startSignal?.aborted) {
      throw new GatewayError("unavailable", `${quoted} did not complete ${options.era === "modern" ? "server/discover" : "initialize"}`, {
        cause: startSignal.reason,
      });
    }
    if (error instanceof UpstreamRpcError) {
      // A modern-only server names its versions in `-32022` ("Versioning › Backward Compatibility"): the other era.
      const Refusal = error.code === UNSUPPORTED_PROTOCOL_VERSION_CODE ? EraMismatchError : GatewayError;
      throw new Refusal("unavailable", `${quoted} refused initialize: ${error.message}`, { cause: error });
    }
    if (error instanceof GatewayError) throw error;
    throw new GatewayError("unavailable", `${quoted} could not be initialized`, { cause: error });
  } finally {
    startSignal?.removeEventListener("abort", onStartAbort);
  }
}

function toIdentity(quoted: string, result: JsonObject): UpstreamIdentity {
  const protocolVersion = result.protocolVersion;
  if (typeof protocolVersion !== "string" || !isSupportedProtocolVersion(protocolVersion)) {
    throw new GatewayError(
      "unavailable",
      `${quoted} answered an unsupported protocol version ${JSON.stringify(String(protocolVersion)).slice(0, 40)}`,
    );
  }
  return upstreamIdentity("legacy", protocolVersion, isObject(result.serverInfo) ? result.serverInfo : {}, result);
}

function cancelledError(quoted: string, method: string): GatewayError {
  return new GatewayError("cancelled", `${method} on ${quoted} was cancelled`);
}

function toWireError(error: unknown): WireError {
  if (error instanceof UpstreamRpcError) {
    return error.data === undefined
      ? { code: error.code, message: error.message }
      : { code: error.code, message: error.message, data: error.data };
  }
  if (error instanceof GatewayError) {
    return { code: error.kind === "invalid_argument" ? -32602 : -32603, message: error.message };
  }
  return { code: -32603, message: "internal error" };
}

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
