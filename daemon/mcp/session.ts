/**
 * One MCP client session, independent of the transport that carries it.
 *
 * The transport feeds it the exact bytes of each client message together with the id of
 * the exchange (an HTTP POST) that carried it, and forwards the frames it emits:
 * - a response, and every notification or request related to a request (progress,
 *   sampling, elicitation), goes on the exchange of that request;
 * - when every response owed to an exchange has been sent, the last frame of that
 *   exchange carries `exchangeComplete` (a cancelled request owes nothing more, so its
 *   exchange completes with an empty frame); an exchange that owed nothing (only
 *   notifications or responses) gets one empty frame with `exchangeComplete`;
 * - everything else (list_changed, log messages, resource updates, and related messages
 *   whose exchange already completed) goes on exchange 0, the session's standalone stream.
 *   Server-to-client requests are only ever sent for a call of this session (see
 *   upstream-router.ts): a server never reaches a session it has no call from.
 * Exchange 0 itself (stdio, legacy SSE) never gets `exchangeComplete` or empty frames.
 *
 * A batch (JSON-RPC 2.0 §6; removed in MCP 2025-06-18 but accepted from older clients) owes
 * one response per request, each sent as its own frame as soon as it is ready: SSE and
 * stdio carry one message per event or line, and a transport answering with one JSON body
 * gathers the responses of the exchange into an array itself.
 */
import type { RequestSpan, TraceCarrier } from "../tracing/request-tracer.js";
import { GatewayError } from "../errors.js";
import { InflightTable } from "../../shared/inflight-table.js";
import { spliceJson, type JsonPayload } from "../../shared/open-session-wire/payload.js";
import { RawJson } from "../upstream/raw-json.js";
import type { JsonObject, UpstreamResult } from "../upstream/types.js";
import { UpstreamRpcError } from "../upstream/types.js";
import {
  errorResponse,
  JsonRpcErrorCode,
  notification,
  parseClientMessage,
  request,
  requestIdKey,
  resultResponse,
  type ClientEnvelope,
  type RequestId,
} from "./json-rpc.js";
import type { LogLevel } from "./log-levels.js";
import { negotiateProtocolVersion } from "../../shared/mcp-protocol-versions.js";
import { toRpcError } from "./rpc-errors.js";
import { CallCancellation, type CallSignal } from "../call-signal.js";
import type { Caller, CallerCapabilities } from "./upstream-router.js";
import type { CallClient, SessionTransportLabel } from "../observability/call-record.js";

/**
 * What a session emits towards its transport (the `OpenSessionResponse` frames). A message's JSON is the wire
 * module's opaque payload: a string, or a server's result spliced in as the bytes it wrote.
 */
export type SessionFrame =
  | { readonly kind: "message"; readonly exchangeId: bigint; readonly json: JsonPayload; readonly exchangeComplete: boolean }
  | { readonly kind: "initialized"; readonly protocolVersion: string }
  | { readonly kind: "ended"; readonly reason: string };

/** A client session as transports see it. */
export interface McpSession {
  /** The transport's session id (for logs), or a generated one. */
  readonly id: string;
  /**
   * Feeds one client message (or batch), exactly as received. `trace`: the trace context of the transport request
   * that carried it (the HTTP `traceparent` header), which the span of a request without its own
   * `_meta.traceparent` joins when tracing is on.
   */
  receive(exchangeId: bigint, json: string | Uint8Array, trace?: TraceCarrier): void;
  /** The client went away: cancels its calls and frees everything it held. No frame is emitted. */
  close(): void;
  readonly closed: boolean;
}

/** Where a session gets its answers: implemented by the engine. */
export interface SessionHost {
  /** The `initialize` result for a negotiated version (capabilities, serverInfo, instructions). */
  initializeResult(protocolVersion: string, session: ClientSession): JsonObject;
  /** Whether the engine serves `method` after initialization. */
  hasMethod(method: string): boolean;
  /** Serves one request; throws `McpRpcError`, `UpstreamRpcError` or `GatewayError`. */
  handle(session: ClientSession, method: string, params: JsonObject | undefined, caller: Caller, signal: CallSignal, trace: TraceCarrier | undefined): Promise<UpstreamResult>;
  /** A notification from the client the engine cares about (`notifications/roots/list_changed`). */
  clientNotification(session: ClientSession, method: string, params: JsonObject | undefined): void;
  /** The session closed: drop its subscriptions and log level. */
  sessionClosed(session: ClientSession): void;
  /** A client message of `bytes` bytes arrived (metrics). */
  received?(session: ClientSession, bytes: number): void;
}

interface PendingCall {
  readonly exchangeId: bigint;
  readonly abort: CallCancellation;
  finished: boolean;
  readonly finish: (response: JsonObject | undefined) => void;
}

interface PendingClientRequest {
  readonly resolve: (result: JsonObject) => void;
  readonly reject: (error: Error) => void;
}

const decoder = new TextDecoder();

/** The engine's session implementation. */
export class ClientSession implements McpSession {
  private readonly owed = new InflightTable<bigint, number>();
  private readonly calls = new InflightTable<string, PendingCall>();
  private readonly clientRequests = new Map<string, PendingClientRequest>();
  private nextClientRequestId = 0;
  private state: "new" | "initialized" | "closed" = "new";
  private negotiated: string | undefined;
  private clientCaps: CallerCapabilities = {};
  private clientIdentity: CallClient | undefined;
  /** The level this session asked for with `logging/setLevel`. */
  logLevel: LogLevel | undefined;

  constructor(
    readonly id: string,
    private readonly host: SessionHost,
    private readonly emit: (frame: SessionFrame) => void,
    /** The transport the session arrived on, for metrics and the audit log. */
    readonly transport: SessionTransportLabel = "unspecified",
  ) {}

  /** Who the client is (its `clientInfo.name`, era and transport), once initialized: the audit log's caller. */
  get client(): CallClient | undefined {
    return this.clientIdentity;
  }

  get closed(): boolean {
    return this.state === "closed";
  }

  /** Whether `initialize` was answered. */
  get initialized(): boolean {
    return this.state === "initialized";
  }

  /** The negotiated protocol version, once initialized. */
  get protocolVersion(): string | undefined {
    return this.negotiated;
  }

  /** What the client declared it can do. */
  get capabilities(): CallerCapabilities {
    return this.clientCaps;
  }

  receive(exchangeId: bigint, json: string | Uint8Array, trace?: TraceCarrier): void {
    if (this.closed) return;
    this.host.received?.(this, typeof json === "string" ? Buffer.byteLength(json, "utf8") : json.byteLength);
    const parsed = parseClientMessage(typeof json === "string" ? json : decoder.decode(json));
    if (parsed.kind === "malformed") {
      this.open(exchangeId, 1);
      this.settle(exchangeId, errorResponse(null, parsed.error.code, parsed.error.message));
      return;
    }
    if (parsed.kind === "single") {
      const envelope = parsed.envelope;
      if (envelope.kind === "request" || envelope.kind === "invalid") {
        this.open(exchangeId, 1);
        this.dispatch(envelope, exchangeId, (response) => this.settle(exchangeId, response), trace);
      } else {
        this.open(exchangeId, 0);
        this.dispatch(envelope, exchangeId, () => {}, trace);
      }
      return;
    }
    const answerable = parsed.envelopes.filter((e) => e.kind === "request" || e.kind === "invalid").length;
    this.open(exchangeId, answerable);
    for (const envelope of parsed.envelopes) {
      this.dispatch(envelope, exchangeId, (response) => this.settle(exchangeId, response), trace);
    }
  }

  close(): void {
    if (this.closed) return;
    this.state = "closed";
    for (const call of this.calls.values()) {
      call.finished = true;
      call.abort.abort(new GatewayError("cancelled", "session closed"));
    }
    this.calls.clear();
    for (const pending of this.clientRequests.values()) pending.reject(new UpstreamRpcError(JsonRpcErrorCode.internalError, "the client session closed"));
    this.clientRequests.clear();
    this.owed.clear();
    this.host.sessionClosed(this);
  }

  /** Ends the session from the daemon's side: tells the transport why, then closes. */
  end(reason: string): void {
    if (this.closed) return;
    this.emit({ kind: "ended", reason });
    this.close();
  }

  /** Sends a notification on the standalone stream (exchange 0). */
  notify(method: string, params?: JsonObject): void {
    if (this.closed) return;
    this.emit({ kind: "message", exchangeId: 0n, json: JSON.stringify(notification(method, params)), exchangeComplete: false });
  }

  /**
   * Sends a server-to-client request related to the call of `exchangeId` with a
   * session-local id, and resolves with the client's result. A client error is passed on as
   * an `UpstreamRpcError` with the client's code; `signal` cancels it towards the client.
   */
  requestClient(method: string, params: JsonObject | undefined, exchangeId: bigint, signal: CallSignal): Promise<JsonObject> {
    if (this.closed) return Promise.reject(new UpstreamRpcError(JsonRpcErrorCode.internalError, "the client session closed"));
    const id = ++this.nextClientRequestId;
    const key = requestIdKey(id);
    return new Promise<JsonObject>((resolve, reject) => {
      const onAbort = (): void => {
        if (!this.clientRequests.delete(key)) return;
        this.related(exchangeId, notification("notifications/cancelled", { requestId: id, reason: "cancelled by the server" }));
        reject(new UpstreamRpcError(JsonRpcErrorCode.internalError, "request cancelled"));
      };
      this.clientRequests.set(key, {
        resolve: (result) => {
          signal.removeEventListener("abort", onAbort);
          resolve(result);
        },
        reject: (error) => {
          signal.removeEventListener("abort", onAbort);
          reject(error);
        },
      });
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      this.related(exchangeId, request(id, method, params));
    });
  }

  /** Sends a `notifications/progress` related to a request of `exchangeId`. */
  progress(exchangeId: bigint, params: JsonObject): void {
    this.related(exchangeId, notification("notifications/progress", params));
  }

  private dispatch(envelope: ClientEnvelope, exchangeId: bigint, finish: (response: JsonObject | undefined) => void, trace: TraceCarrier | undefined): void {
    switch (envelope.kind) {
      case "invalid":
        finish(errorResponse(envelope.id, envelope.error.code, envelope.error.message));
        return;
      case "response":
        this.onClientResponse(envelope);
        return;
      case "notification":
        this.onClientNotification(envelope.method, envelope.params);
        return;
      case "request":
        this.onRequest(envelope.id, envelope.method, envelope.params, exchangeId, finish, trace);
        return;
    }
  }

  private onRequest(
    id: RequestId,
    method: string,
    params: JsonObject | undefined,
    exchangeId: bigint,
    finish: (response: JsonObject | undefined) => void,
    trace: TraceCarrier | undefined,
  ): void {
    const fail = (code: number, message: string): void => finish(errorResponse(id, code, message));
    if (method === "initialize") {
      if (this.state !== "new") return fail(JsonRpcErrorCode.invalidRequest, "invalid request: the session is already initialized");
      if (typeof params?.protocolVersion !== "string") {
        return fail(JsonRpcErrorCode.invalidParams, 'invalid params: "protocolVersion" must be a string');
      }
      const capabilities = params.capabilities ?? {};
      if (typeof capabilities !== "object" || capabilities === null || Array.isArray(capabilities)) {
        return fail(JsonRpcErrorCode.invalidParams, 'invalid params: "capabilities" must be an object');
      }
      this.clientCaps = pickCapabilities(capabilities as JsonObject);
      this.negotiated = negotiateProtocolVersion(params.protocolVersion);
      const clientInfo = objectOrUndefined(params.clientInfo);
      const clientName = typeof clientInfo?.name === "string" ? clientInfo.name.slice(0, 200) : undefined;
      this.clientIdentity = { ...(clientName !== undefined ? { name: clientName } : {}), era: "legacy", transport: this.transport };
      this.state = "initialized";
      this.emit({ kind: "initialized", protocolVersion: this.negotiated });
      finish(resultResponse(id, this.host.initializeResult(this.negotiated, this)));
      return;
    }
    if (method === "ping") return finish(resultResponse(id, {}));
    if (this.state !== "initialized") {
      return fail(JsonRpcErrorCode.invalidRequest, `invalid request: "${method}" before "initialize"`);
    }
    if (!this.host.hasMethod(method)) return fail(JsonRpcErrorCode.methodNotFound, `method not found: "${method}"`);
    const key = requestIdKey(id);
    if (this.calls.has(key)) return fail(JsonRpcErrorCode.invalidRequest, `invalid request: request id ${JSON.stringify(id)} is already in use`);
    const call: PendingCall = { exchangeId, abort: new CallCancellation(), finished: false, finish };
    this.calls.set(key, call);
    const done = (response: JsonObject): void => {
      if (call.finished) return;
      call.finished = true;
      this.calls.delete(key);
      finish(response);
    };
    let answer: Promise<UpstreamResult>;
    try {
      answer = this.host.handle(this, method, params, new RequestCaller(this, exchangeId), call.abort, trace);
    } catch (error) {
      answer = Promise.reject(error);
    }
    answer.then(
        (result) => done(resultResponse(id, result)),
        (error: unknown) => {
          const rpc = toRpcError(error, method, params as { uri?: unknown } | undefined);
          done(errorResponse(id, rpc.code, rpc.message, rpc.data));
        },
      );
  }

  private onClientNotification(method: string, params: JsonObject | undefined): void {
    if (method === "notifications/cancelled") {
      const requestId = params?.requestId;
      if (typeof requestId !== "string" && typeof requestId !== "number") return;
      const key = requestIdKey(requestId);
      const call = this.calls.get(key);
      if (!call || call.finished) return;
      // MCP 2025-11-25 "Cancellation": stop processing, free resources, send no response.
      call.finished = true;
      this.calls.delete(key);
      call.abort.abort(new GatewayError("cancelled", "cancelled by the client"));
      call.finish(undefined);
      return;
    }
    if (this.state === "initialized") this.host.clientNotification(this, method, params);
  }

  private onClientResponse(envelope: Extract<ClientEnvelope, { kind: "response" }>): void {
    const key = requestIdKey(envelope.id);
    const pending = this.clientRequests.get(key);
    if (!pending) return;
    this.clientRequests.delete(key);
    if (envelope.result) {
      pending.resolve(envelope.result);
      return;
    }
    const error = envelope.error ?? {};
    const code = typeof error.code === "number" ? error.code : JsonRpcErrorCode.internalError;
    const message = typeof error.message === "string" ? error.message : "the client returned an error";
    pending.reject(new UpstreamRpcError(code, message, error.data));
  }

  /** Adds `count` owed responses to an exchange; an exchange that owes nothing completes at once. */
  private open(exchangeId: bigint, count: number): void {
    if (exchangeId === 0n) return;
    if (count === 0) {
      if (!this.owed.has(exchangeId)) this.emit({ kind: "message", exchangeId, json: "", exchangeComplete: true });
      return;
    }
    this.owed.set(exchangeId, (this.owed.get(exchangeId) ?? 0) + count);
  }

  private settle(exchangeId: bigint, response: JsonObject | undefined): void {
    this.settleJson(exchangeId, response === undefined ? undefined : serializeResponse(response));
  }

  /** Sends one owed answer (or records that it will never come) and completes the exchange when nothing is owed any more. */
  private settleJson(exchangeId: bigint, json: JsonPayload | undefined): void {
    if (this.closed) return;
    if (exchangeId === 0n) {
      if (json !== undefined) this.emit({ kind: "message", exchangeId, json, exchangeComplete: false });
      return;
    }
    const left = (this.owed.get(exchangeId) ?? 1) - 1;
    if (left > 0) this.owed.set(exchangeId, left);
    else this.owed.delete(exchangeId);
    if (json === undefined && left > 0) return;
    this.emit({ kind: "message", exchangeId, json: json ?? "", exchangeComplete: left <= 0 });
  }

  /** A message related to a request of `exchangeId`; on the standalone stream once that exchange is complete. */
  private related(exchangeId: bigint, message: JsonObject): void {
    if (this.closed) return;
    const target = exchangeId !== 0n && this.owed.has(exchangeId) ? exchangeId : 0n;
    this.emit({ kind: "message", exchangeId: target, json: JSON.stringify(message), exchangeComplete: false });
  }
}

/**
 * A response as JSON. A result the server wrote as `RawJson` is not decoded: its bytes are spliced between the
 * response's own members, so they reach the client as they left the server.
 */
function serializeResponse(response: JsonObject): JsonPayload {
  const result = response.result;
  if (!(result instanceof RawJson)) return JSON.stringify(response);
  return spliceJson(`{"jsonrpc":"2.0","id":${JSON.stringify(response.id)},"result":`, result, "}");
}

/**
 * The caller of one client request: server-to-client requests and progress go on the
 * request's exchange. One small object per request (methods on the prototype, no closures):
 * it is allocated on the hot path.
 */
class RequestCaller implements Caller {
  /** Set by the tracer (daemon/observability/tracing.ts `serveTraced`) when tracing is on: this caller serves one request. */
  trace: RequestSpan | undefined = undefined;
  constructor(
    private readonly session: ClientSession,
    private readonly exchangeId: bigint,
  ) {}

  /** Results go to the client as they are (`serializeResponse`). */
  get forwardsResults(): boolean {
    return true;
  }

  get capabilities(): CallerCapabilities {
    return this.session.capabilities;
  }

  get client(): CallClient | undefined {
    return this.session.client;
  }

  clientRequest(method: string, params: JsonObject | undefined, signal: CallSignal): Promise<JsonObject> {
    return this.session.requestClient(method, params, this.exchangeId, signal);
  }

  onProgress(params: JsonObject): void {
    this.session.progress(this.exchangeId, params);
  }
}

function objectOrUndefined(value: unknown): JsonObject | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as JsonObject) : undefined;
}

/** The client capabilities routing cares about (MCP 2025-11-25 "Lifecycle › Capability Negotiation"). */
function pickCapabilities(capabilities: JsonObject): CallerCapabilities {
  const sampling = objectOrUndefined(capabilities.sampling);
  const elicitation = objectOrUndefined(capabilities.elicitation);
  const roots = objectOrUndefined(capabilities.roots);
  return {
    ...(sampling ? { sampling } : {}),
    ...(elicitation ? { elicitation } : {}),
    ...(roots ? { roots } : {}),
  };
}

