import { GatewayError } from "../errors.js";
import { hopTiming } from "../../shared/hop-timing.js";
import { silentLogger, type Logger } from "../../shared/logger.js";
import { gatewayVersion } from "../../shared/version.js";
import type { JsonRpcMessage, MessageTransport } from "./message-transport.js";
import {
  UpstreamRpcError,
  type JsonObject,
  type UpstreamConnection,
  type UpstreamHandlers,
  type UpstreamIdentity,
  type UpstreamRequestOptions,
  type UpstreamResult,
} from "./types.js";
import { RawJson } from "./raw-json.js";

/**
 * A lean JSON-RPC 2.0 peer for one MCP server, acting as the MCP client of that server.
 * It owns the upstream request ids (a counter), answers `ping` itself, turns an aborted
 * request into `notifications/cancelled`, and hands results back untouched — no schema
 * validation on the hot path: the engine forwards results as the server produced them.
 */

/** The protocol version we ask for (MCP 2025-11-25, "Lifecycle › Version Negotiation"). */
export const LATEST_PROTOCOL_VERSION = "2025-11-25";

/** Versions we accept in the server's `initialize` answer. */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly string[] = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

/**
 * Capabilities the gateway declares to every server: sampling, elicitation and roots are
 * routed to a client session, so servers expose the tools that need them.
 */
export const GATEWAY_CLIENT_CAPABILITIES: JsonObject = {
  sampling: {},
  elicitation: {},
  roots: { listChanged: true },
};

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
}

/** Options of `createUpstreamConnection`. */
export interface UpstreamConnectionOptions {
  /** The configured server name, for messages. */
  readonly serverName: string;
  readonly transport: MessageTransport;
  /** Initial handlers for server-initiated traffic; default: notifications dropped, requests refused. */
  readonly handlers?: UpstreamHandlers;
  /** `clientInfo` sent in `initialize`. */
  readonly clientInfo?: { readonly name: string; readonly version: string };
  /** Aborting it during `initialize` closes the connection and rejects (start-up timeout, stop). */
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
}

/** A JSON-RPC error object. */
interface WireError {
  code: number;
  message: string;
  data?: unknown;
}

interface PendingRequest {
  /** The caller takes `RawJson` (`UpstreamConnection.forward`). */
  readonly passThrough: boolean;
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
  const pending = new Map<number, PendingRequest>();
  const incoming = new Map<string | number, AbortController>();
  const closedController = new AbortController();
  let nextId = 1;
  let identity: UpstreamIdentity | undefined;

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
    const error = stoppedError();
    for (const request of pending.values()) request.reject(error);
    pending.clear();
    for (const controller of incoming.values()) controller.abort();
    incoming.clear();
  };

  const handleResponse = (message: JsonRpcMessage): void => {
    const id = message.id;
    if (typeof id !== "number") return;
    const request = pending.get(id);
    if (!request) return; // cancelled or unknown: a late response is dropped (MCP "Cancellation").
    pending.delete(id);
    const error = message.error as WireError | undefined;
    if (error !== undefined) {
      request.reject(new UpstreamRpcError(Number(error?.code ?? -32603), String(error?.message ?? "error"), error?.data));
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
    if (method === "notifications/cancelled") {
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

  /** Sends one request; only with `passThrough` may it resolve with `RawJson`. */
  function send(method: string, params: JsonObject | undefined, requestOptions: UpstreamRequestOptions | undefined, passThrough: boolean): Promise<UpstreamResult> {
    if (closedController.signal.aborted) return Promise.reject(stoppedError());
    const signal = requestOptions?.signal;
    if (signal?.aborted) return Promise.reject(cancelledError(quoted, method));
    const id = nextId++;
    const sentAt = hopTiming.enabled ? hopTiming.now() : 0;
    return new Promise<UpstreamResult>((resolve, reject) => {
      let onAbort: (() => void) | undefined;
      const settle: PendingRequest = {
        passThrough,
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
      pending.set(id, settle);
      if (signal) {
        onAbort = (): void => {
          if (!pending.delete(id)) return;
          const reason = typeof signal.reason === "string" ? signal.reason : "request cancelled";
          sendQuietly({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: id, reason } });
          reject(cancelledError(quoted, method));
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
  };

  const startSignal = options.signal;
  const onStartAbort = (): void => void close();
  try {
    if (startSignal?.aborted) throw new GatewayError("unavailable", `${quoted} start was cancelled`);
    startSignal?.addEventListener("abort", onStartAbort, { once: true });
    await transport.start();
    const result = await request("initialize", {
      protocolVersion: LATEST_PROTOCOL_VERSION,
      capabilities: GATEWAY_CLIENT_CAPABILITIES,
      clientInfo: options.clientInfo ?? { name: "deploystack-gateway", version: gatewayVersion },
    });
    identity = toIdentity(quoted, result);
    connection.notify("notifications/initialized");
    return connection;
  } catch (error) {
    await close();
    if (startSignal?.aborted) {
      throw new GatewayError("unavailable", `${quoted} did not complete initialize`, { cause: startSignal.reason });
    }
    if (error instanceof UpstreamRpcError) {
      throw new GatewayError("unavailable", `${quoted} refused initialize: ${error.message}`, { cause: error });
    }
    if (error instanceof GatewayError) throw error;
    throw new GatewayError("unavailable", `${quoted} could not be initialized`, { cause: error });
  } finally {
    startSignal?.removeEventListener("abort", onStartAbort);
  }
}

function toIdentity(quoted: string, result: JsonObject): UpstreamIdentity {
  const protocolVersion = result.protocolVersion;
  if (typeof protocolVersion !== "string" || !SUPPORTED_PROTOCOL_VERSIONS.includes(protocolVersion)) {
    throw new GatewayError(
      "unavailable",
      `${quoted} answered an unsupported protocol version ${JSON.stringify(String(protocolVersion)).slice(0, 40)}`,
    );
  }
  const serverInfo = isObject(result.serverInfo) ? result.serverInfo : {};
  return {
    protocolVersion,
    capabilities: isObject(result.capabilities) ? result.capabilities : {},
    serverInfo: {
      ...serverInfo,
      name: typeof serverInfo.name === "string" ? serverInfo.name : "",
      version: typeof serverInfo.version === "string" ? serverInfo.version : "",
    },
    ...(typeof result.instructions === "string" ? { instructions: result.instructions } : {}),
  };
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
