/**
 * Modern (2026-07-28) client requests: stateless, each one standing alone. The frontend sends every modern HTTP
 * request over one of a few long-lived `OpenSession` streams opened with `SessionStart.stateless` (see
 * docs/protocol.md), each message tagged with its exchange id; this channel serves them as they come, with no
 * handshake and nothing kept between requests: the version, client capabilities, client identity and log level
 * are read from each request's own `_meta` ("Basic › _meta › Per-request protocol fields").
 *
 * Per exchange (one request):
 * - its progress and, when the request named a log level, the log messages of its call go on its exchange before
 *   the response ("Patterns › Progress", "Utilities › Logging": request-scoped, never elsewhere);
 * - the response completes the exchange; every result carries `resultType` (`"complete"` added when a server left
 *   it out) and cacheable results carry the gateway's cache hints ("Utilities › Caching");
 * - an empty message on an exchange in flight is its cancellation (the client closed the HTTP response:
 *   "Transports › Streamable HTTP › Cancellation"); nothing more is sent for it;
 * - `subscriptions/listen` keeps its exchange open: an acknowledgement naming the filters the gateway honours,
 *   then each change notification, all tagged with the subscription id ("Patterns › Subscriptions").
 *
 * Server-to-client requests: a modern caller `suspendsForInput`, so a legacy server's sampling, elicitation or roots
 * request during a modern `tools/call`, `prompts/get` or `resources/read` holds the upstream call and answers the
 * client with an `InputRequiredResult`; the client's retry (`inputResponses`, the gateway's `requestState`) resumes
 * it (mrtr-held-calls.ts, docs/protocol.md "MRTR across eras").
 */
import type { RequestSpan, TraceCarrier } from "../tracing/request-tracer.js";
import { ALL_PROTOCOL_VERSIONS, META, MODERN_ERROR, isModernProtocolVersion } from "../../shared/mcp-modern.js";
import { InflightTable } from "../../shared/inflight-table.js";
import { extensibleCopy, setOwn, withField } from "../../shared/object-copy.js";
import { spliceJson, type JsonPayload } from "../../shared/open-session-wire/payload.js";
import { RawJson } from "../upstream/raw-json.js";
import type { JsonObject, UpstreamResult } from "../upstream/types.js";
import { GatewayError } from "../errors.js";
import { errorResponse, JsonRpcErrorCode, McpRpcError, notification, parseClientMessage, type RequestId } from "./json-rpc.js";
import { admitsLogLevel, isLogLevel, type LogLevel } from "./log-levels.js";
import { toRpcError } from "./rpc-errors.js";
import type { McpSession, SessionFrame } from "./session.js";
import type { Caller, CallerCapabilities } from "./upstream-router.js";
import type { CallClient, SessionTransportLabel } from "../observability/call-record.js";
import { CallCancellation, type CallSignal } from "../call-signal.js";

/** The change notifications a `subscriptions/listen` request asks for ("Patterns › Subscriptions › Notification Filter"). */
export interface SubscriptionFilter {
  readonly toolsListChanged?: boolean;
  readonly promptsListChanged?: boolean;
  readonly resourcesListChanged?: boolean;
  readonly resourceSubscriptions?: readonly string[];
}

/** What a modern channel needs from the engine; every call is confined to the channel's profile. */
export interface ModernChannelHost {
  /** The `DiscoverResult` without `resultType` and cache hints (added here). */
  discover(): JsonObject;
  /** Whether the engine serves `method` for a modern request. */
  hasMethod(method: string): boolean;
  /** Serves one request; throws `McpRpcError`, `UpstreamRpcError` or `GatewayError`. */
  handle(method: string, params: JsonObject, caller: Caller, protocolVersion: string, signal: CallSignal, trace: TraceCarrier | undefined): Promise<UpstreamResult>;
  /**
   * Opens a listener: `deliver` gets every change notification the honoured filter admits until `signal` aborts.
   * Resolves with the honoured filter (what cannot be honoured is left out).
   */
  listen(id: string, filter: SubscriptionFilter, deliver: (method: string, params: JsonObject | undefined) => void, signal: CallSignal): Promise<SubscriptionFilter>;
  /** The channel closed. */
  closed(): void;
}

/**
 * Methods a legacy session has that the modern revision removed ("Changelog": `ping`, `logging/setLevel`; sessions and
 * `resources/subscribe` with them): answered -32601 on a modern request.
 */
const LEGACY_ONLY = new Set(["initialize", "ping", "resources/subscribe", "resources/unsubscribe", "logging/setLevel"]);

/** Results that carry cache hints ("Utilities › Caching › Cacheable Results"). */
const CACHEABLE = new Set(["server/discover", "tools/list", "prompts/list", "resources/list", "resources/templates/list", "resources/read"]);

/**
 * How long a client may keep the gateway's lists and discovery answer: short, because they follow the team's
 * servers (a client that listens hears of every change at once anyway, which invalidates its copy).
 */
export const LIST_TTL_MS = 30_000;

const decoder = new TextDecoder();

/** Distinct client names whose caller identity a channel keeps. */
const MAX_KEPT_CLIENTS = 64;

/** Options of a modern channel. */
export interface ModernChannelOptions {
  readonly id: string;
  readonly host: ModernChannelHost;
  readonly emit: (frame: SessionFrame) => void;
  readonly transport: SessionTransportLabel;
}

/** One stateless stream's requests (see the file comment). */
export class ModernChannel implements McpSession {
  readonly id: string;
  private readonly host: ModernChannelHost;
  private readonly emit: (frame: SessionFrame) => void;
  private readonly transport: SessionTransportLabel;
  /** The requests in flight, by exchange: aborting one cancels its call (or ends its listener). */
  private readonly inflight = new InflightTable<bigint, CallCancellation>();
  /** Caller identities by client name (`clientNamed`). */
  private readonly clients = new Map<string | undefined, CallClient>();
  private isClosed = false;

  constructor(options: ModernChannelOptions) {
    this.id = options.id;
    this.host = options.host;
    this.emit = options.emit;
    this.transport = options.transport;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  receive(exchangeId: bigint, json: string | Uint8Array, trace?: TraceCarrier): void {
    if (this.isClosed) return;
    if (json.length === 0) {
      this.cancel(exchangeId);
      return;
    }
    const parsed = parseClientMessage(typeof json === "string" ? json : decoder.decode(json));
    if (parsed.kind === "malformed") return this.answer(exchangeId, errorResponse(null, parsed.error.code, parsed.error.message));
    if (parsed.kind === "batch") {
      return this.answer(exchangeId, errorResponse(null, JsonRpcErrorCode.invalidRequest, "invalid request: a modern request is one JSON-RPC request, not a batch"));
    }
    const envelope = parsed.envelope;
    switch (envelope.kind) {
      case "invalid":
        return this.answer(exchangeId, errorResponse(envelope.id, envelope.error.code, envelope.error.message));
      case "request":
        return this.serve(exchangeId, envelope.id, envelope.method, envelope.params ?? {}, trace);
      default:
        // Notifications (this revision defines none from the client over HTTP) and responses (a client MUST NOT
        // send them) are taken and dropped: the POST gets 202.
        this.emit({ kind: "message", exchangeId, json: "", exchangeComplete: true });
    }
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const abort of this.inflight.values()) abort.abort(new GatewayError("cancelled", "the stateless stream closed"));
    this.inflight.clear();
    this.host.closed();
  }

  /** Ends the channel from the daemon's side (shutdown, a profile gone): tells the transport why, then closes. */
  end(reason: string): void {
    if (this.isClosed) return;
    this.emit({ kind: "ended", reason });
    this.close();
  }

  /**
   * The caller identity of a request from the client named `name`: the same object for every request of that name
   * on this channel, so that what is kept per client object (the audit log's description of it) is found by
   * identity instead of being made again for every stateless request. Bounded: names come from clients.
   */
  private clientNamed(name: string | undefined): CallClient {
    let client = this.clients.get(name);
    if (client === undefined) {
      if (this.clients.size >= MAX_KEPT_CLIENTS) this.clients.clear();
      client = name !== undefined ? { name, era: "modern", transport: this.transport } : { era: "modern", transport: this.transport };
      this.clients.set(name, client);
    }
    return client;
  }

  private cancel(exchangeId: bigint): void {
    const abort = this.inflight.get(exchangeId);
    if (!abort) return;
    this.inflight.delete(exchangeId);
    abort.abort(new GatewayError("cancelled", "cancelled by the client"));
  }

  private serve(exchangeId: bigint, id: RequestId, method: string, params: JsonObject, trace: TraceCarrier | undefined): void {
    const meta = isObject(params._meta) ? params._meta : {};
    const version = meta[META.protocolVersion];
    if (typeof version !== "string") {
      return this.fail(exchangeId, id, JsonRpcErrorCode.invalidParams, `invalid params: _meta["${META.protocolVersion}"] is required`);
    }
    if (!isModernProtocolVersion(version)) {
      return this.fail(exchangeId, id, MODERN_ERROR.unsupportedProtocolVersion, "Unsupported protocol version", {
        supported: ALL_PROTOCOL_VERSIONS,
        requested: version,
      });
    }
    const capabilities = meta[META.clientCapabilities];
    if (!isObject(capabilities)) {
      return this.fail(exchangeId, id, JsonRpcErrorCode.invalidParams, `invalid params: _meta["${META.clientCapabilities}"] must be an object`);
    }
    if (method === "server/discover") return this.result(exchangeId, id, method, this.host.discover());
    if (LEGACY_ONLY.has(method) || (method !== "subscriptions/listen" && !this.host.hasMethod(method))) {
      return this.fail(exchangeId, id, JsonRpcErrorCode.methodNotFound, `method not found: "${method}"`);
    }
    const infoValue = meta[META.clientInfo];
    const info = isObject(infoValue) ? infoValue : undefined;
    const name = typeof info?.name === "string" ? info.name.slice(0, 200) : undefined;
    const client = this.clientNamed(name);
    const abort = new CallCancellation();
    this.inflight.set(exchangeId, abort);
    if (method === "subscriptions/listen") return this.listen(exchangeId, id, params, abort);
    const level = meta[META.logLevel];
    const caller = new ModernCaller(this, exchangeId, pickCapabilities(capabilities), client, isLogLevel(level) ? level : undefined);
    let answer: Promise<UpstreamResult>;
    try {
      answer = this.host.handle(method, upstreamParams(params), caller, version, abort, trace);
    } catch (error) {
      answer = Promise.reject(error);
    }
    answer.then(
      (result) => {
        if (this.inflight.get(exchangeId) !== abort) return;
        this.inflight.delete(exchangeId);
        // A retry's result depends on inputs outside the cache key: never cacheable ("Caching › Cache Key").
        const retried = params.inputResponses !== undefined || params.requestState !== undefined;
        this.result(exchangeId, id, method, result, !retried);
      },
      (error: unknown) => {
        if (this.inflight.get(exchangeId) !== abort) return;
        this.inflight.delete(exchangeId);
        const rpc = toRpcError(error, method, params as { uri?: unknown });
        // The modern revision retired -32002: a resource that does not exist is -32602 ("Resources › Error Handling").
        const code = rpc.code === JsonRpcErrorCode.resourceNotFound ? JsonRpcErrorCode.invalidParams : rpc.code;
        this.fail(exchangeId, id, code, rpc.message, rpc.data);
      },
    );
  }

  private listen(exchangeId: bigint, id: RequestId, params: JsonObject, signal: CallSignal): void {
    let filter: SubscriptionFilter;
    try {
      filter = readFilter(params.notifications);
    } catch (error) {
      this.inflight.delete(exchangeId);
      const rpc = toRpcError(error, "subscriptions/listen");
      return this.fail(exchangeId, id, rpc.code, rpc.message, rpc.data);
    }
    const tag = { [META.subscriptionId]: id };
    const pending: [string, JsonObject | undefined][] = [];
    let acknowledged = false;
    const send = (method: string, params: JsonObject | undefined): void => {
      const meta = isObject(params?._meta) ? Object.assign(extensibleCopy(params._meta), tag) : tag;
      this.related(exchangeId, notification(method, withField(params ?? {}, "_meta", meta)));
    };
    // Nothing goes out before the acknowledgement ("Acknowledgment": MUST NOT send any notification before it).
    const deliver = (method: string, params: JsonObject | undefined): void => {
      if (signal.aborted || this.isClosed) return;
      if (acknowledged) send(method, params);
      else pending.push([method, params]);
    };
    this.host.listen(`${this.id}/${exchangeId}`, filter, deliver, signal).then(
      (honoured) => {
        if (signal.aborted || this.isClosed) return;
        send("notifications/subscriptions/acknowledged", { notifications: honoured as JsonObject });
        acknowledged = true;
        for (const [method, params] of pending.splice(0)) send(method, params);
      },
      (error: unknown) => {
        if (this.inflight.get(exchangeId) === undefined || signal.aborted) return;
        this.inflight.delete(exchangeId);
        const rpc = toRpcError(error, "subscriptions/listen");
        this.fail(exchangeId, id, rpc.code, rpc.message, rpc.data);
      },
    );
  }

  /** A notification related to the request of `exchangeId`, while it is in flight. */
  related(exchangeId: bigint, message: JsonObject): void {
    if (this.isClosed || !this.inflight.has(exchangeId)) return;
    this.emit({ kind: "message", exchangeId, json: JSON.stringify(message), exchangeComplete: false });
  }

  private answer(exchangeId: bigint, response: JsonObject): void {
    if (this.isClosed) return;
    this.emit({ kind: "message", exchangeId, json: JSON.stringify(response), exchangeComplete: true });
  }

  private fail(exchangeId: bigint, id: RequestId, code: number, message: string, data?: unknown): void {
    this.answer(exchangeId, errorResponse(id, code, message, data));
  }

  private result(exchangeId: bigint, id: RequestId, method: string, result: UpstreamResult, mayCache = true): void {
    if (this.isClosed) return;
    this.emit({ kind: "message", exchangeId, json: modernResultResponse(id, method, result, mayCache), exchangeComplete: true });
  }
}

/**
 * The caller of one modern request: its progress and (when it asked for a level) log messages go on its exchange.
 * It has no `clientRequest`: it suspends for input instead (a server's request becomes an `InputRequiredResult`).
 */
class ModernCaller implements Caller {
  /** Set by the tracer (daemon/observability/tracing.ts `serveTraced`) when tracing is on: this caller serves one request. */
  trace: RequestSpan | undefined = undefined;
  readonly suspendsForInput = true;

  constructor(
    private readonly channel: ModernChannel,
    private readonly exchangeId: bigint,
    readonly capabilities: CallerCapabilities,
    readonly client: CallClient,
    private readonly logLevel: LogLevel | undefined,
  ) {}

  get forwardsResults(): boolean {
    return true;
  }

  onProgress(params: JsonObject): void {
    this.channel.related(this.exchangeId, notification("notifications/progress", params));
  }

  onLog(params: JsonObject): void {
    // "Utilities › Logging": no notifications/message for a request that does not carry a level.
    if (this.logLevel === undefined || !admitsLogLevel(this.logLevel, params.level)) return;
    this.channel.related(this.exchangeId, notification("notifications/message", params));
  }
}

/**
 * The response to a modern request as JSON: `resultType` added when the result has none, cache hints on cacheable
 * results (a server's own `ttlMs` on `resources/read` is kept; the scope is always `private`: what the gateway
 * shows depends on the team, the profile and the client; none when `mayCache` is false: a multi round-trip retry's
 * result). A result the server wrote as `RawJson` stays its bytes:
 * the gateway's fields are spliced in front of the server's own, so a field the server sent itself wins.
 */
export function modernResultResponse(id: RequestId, method: string, result: UpstreamResult, mayCache = true): JsonPayload {
  const cacheable = mayCache && CACHEABLE.has(method);
  if (result instanceof RawJson) {
    const rest = afterOpeningBrace(result);
    if (rest !== undefined) {
      const hints = cacheable ? `,"ttlMs":0,"cacheScope":"private"` : "";
      return spliceJson(`{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":{"resultType":"complete"${hints},`, rest, "}}");
    }
    result = result.parse();
  }
  if (!cacheable && typeof result.resultType !== "string") {
    // The common case (a tool's result): `resultType` written in front of the result's own JSON, without a copy.
    const json = JSON.stringify(result);
    const rest = json === "{}" ? "}" : `,${json.slice(1)}`;
    return `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":{"resultType":"complete"${rest}}`;
  }
  const shaped: JsonObject = { ...result };
  if (typeof shaped.resultType !== "string") shaped.resultType = "complete";
  if (cacheable && shaped.resultType === "complete") {
    const serverTtl = typeof shaped.ttlMs === "number" && shaped.ttlMs >= 0 ? shaped.ttlMs : undefined;
    shaped.ttlMs = method === "resources/read" ? (serverTtl ?? 0) : LIST_TTL_MS;
    shaped.cacheScope = "private";
  }
  return JSON.stringify({ jsonrpc: "2.0", id, result: shaped });
}

/** The bytes of a raw object after its `{` (and before its last `}`, which the caller's tail replaces), if not empty. */
function afterOpeningBrace(raw: RawJson): { pieces: Buffer[]; byteLength: number } | undefined {
  const pieces = raw.pieces.length === 1 ? raw.pieces : raw.pieces.filter((piece) => piece.length > 0);
  const first = pieces[0];
  const last = pieces.at(-1);
  if (!first || !last) return undefined;
  let start = 0;
  while (start < first.length && isSpace(first[start]!)) start++;
  if (first[start] !== 0x7b) return undefined;
  let end = last.length;
  while (end > 0 && isSpace(last[end - 1]!)) end--;
  if (last[end - 1] !== 0x7d) return undefined;
  if (first === last) {
    // One piece (the usual case): the object's inside, when it has one.
    const inside = first.subarray(start + 1, end - 1);
    return inside.some((byte) => !isSpace(byte)) ? { pieces: [inside], byteLength: inside.length } : undefined;
  }
  let next = start + 1;
  while (next < first.length && isSpace(first[next]!)) next++;
  if (next >= first.length || first[next] === 0x7d) return undefined;
  const sliced = [first.subarray(start + 1), ...pieces.slice(1, -1), last.subarray(0, end - 1)];
  return { pieces: sliced, byteLength: sliced.reduce((sum, piece) => sum + piece.length, 0) };
}

const isSpace = (byte: number): boolean => byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;

/**
 * The request's params as servers get them: the `_meta` keys that describe the modern client to the gateway (its
 * version, capabilities and info) are not passed on; everything else is, a `"__proto__"` key as an ordinary one.
 * Exported for its test.
 */
export function upstreamParams(params: JsonObject): JsonObject {
  const meta = params._meta;
  if (!isObject(meta)) return params;
  let kept: JsonObject | undefined;
  for (const key in meta) {
    if (key === META.protocolVersion || key === META.clientCapabilities || key === META.clientInfo) continue;
    setOwn((kept ??= {}), key, meta[key]);
  }
  const rest: JsonObject = {};
  for (const key in params) if (key !== "_meta") setOwn(rest, key, params[key]);
  if (kept !== undefined) rest._meta = kept;
  return rest;
}

/** A listen request's `notifications` filter, checked (-32602 on a wrong type). */
function readFilter(value: unknown): SubscriptionFilter {
  if (value === undefined) return {};
  if (!isObject(value)) throw new McpRpcError(JsonRpcErrorCode.invalidParams, 'invalid params: "notifications" must be an object');
  const filter: { -readonly [K in keyof SubscriptionFilter]: SubscriptionFilter[K] } = {};
  for (const key of ["toolsListChanged", "promptsListChanged", "resourcesListChanged"] as const) {
    const flag = value[key];
    if (flag === undefined) continue;
    if (typeof flag !== "boolean") throw new McpRpcError(JsonRpcErrorCode.invalidParams, `invalid params: "notifications.${key}" must be a boolean`);
    if (flag) filter[key] = true;
  }
  const uris = value.resourceSubscriptions;
  if (uris !== undefined) {
    if (!Array.isArray(uris) || !uris.every((uri) => typeof uri === "string")) {
      throw new McpRpcError(JsonRpcErrorCode.invalidParams, 'invalid params: "notifications.resourceSubscriptions" must be a list of URIs');
    }
    filter.resourceSubscriptions = [...new Set(uris as string[])];
  }
  return filter;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The client capabilities routing cares about, from a modern request's `_meta`. */
function pickCapabilities(capabilities: JsonObject): CallerCapabilities {
  const { sampling, elicitation, roots } = capabilities;
  // Most requests declare none of the three: they share one empty object.
  if (!isObject(sampling) && !isObject(elicitation) && !isObject(roots)) return NO_CAPABILITIES;
  const picked: { -readonly [K in keyof CallerCapabilities]: CallerCapabilities[K] } = {};
  if (isObject(sampling)) picked.sampling = sampling;
  if (isObject(elicitation)) picked.elicitation = elicitation;
  if (isObject(roots)) picked.roots = roots;
  return picked;
}

const NO_CAPABILITIES: CallerCapabilities = Object.freeze({});
