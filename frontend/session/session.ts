import type { ServerResponse } from "node:http";
import { isPieces } from "../../shared/byte-pieces.js";
import { hopTiming } from "../../shared/hop-timing.js";
import { InflightTable } from "../../shared/inflight-table.js";
import { SESSION_TRANSPORT, messageFrame, type MessageTraceContext, type OpenSessionResponseFrame } from "../../shared/open-session-wire/codec.js";
import type { ChannelError, DaemonChannel, DaemonClient } from "../daemon-client.js";
import type { Logger } from "../../shared/logger.js";
import { HttpError, sessionNotFound } from "../http/http-error.js";
import { isResponseMessage } from "../mcp/inspect-body.js";
import { PRIMING_MIN_VERSION } from "../../shared/mcp-protocol-versions.js";
import type { Clock } from "./clock.js";
import { ReplayBuffer } from "./replay-buffer.js";
import { SseSink, formatEventId, formatSseEvent, type SseFrame } from "./sse.js";

/** The MCP transport a client session arrived on. */
export type SessionKind = "streamable-http" | "sse";

/** Tunables of every session; the defaults live in `settings.ts`. */
export interface SessionLimits {
  /** Interval of SSE keep-alive comments (0: none). */
  readonly keepAliveMs: number;
  /** Events kept per session for `Last-Event-ID` replay. */
  readonly replayMaxEvents: number;
  /** Bytes kept per session for replay. */
  readonly replayMaxBytes: number;
  /** Unread bytes a slow SSE client may accumulate before it is disconnected. */
  readonly maxBufferedBytes: number;
  /** How long the daemon gets to finish a half-closed stream before it is cancelled. */
  readonly closeGraceMs: number;
}

/**
 * How long a priming event (2025-11-25 "Resumability and Redelivery") may wait for the POST's first message so both
 * leave together; short enough that a long call still gets its headers and event id at once for practical purposes.
 */
export const PRIMING_HOLD_MS = 20;

/** A message's JSON from the daemon: bytes, or (a large one) the pieces it arrived in, never joined on the way out. */
type JsonBytes = Uint8Array | readonly Buffer[];

const isEmpty = (json: JsonBytes): boolean => (isPieces(json) ? json.every((piece) => piece.length === 0) : json.length === 0);

/** How a POST is to be answered, decided by what the daemon sends for its exchange. */
export type ExchangeOutcome =
  /** Nothing was owed: 202 Accepted, no body. */
  | { readonly kind: "accepted" }
  /** One JSON body: the collected response (or batch of responses); a large one as the pieces it arrived in. */
  | { readonly kind: "json"; readonly body: string | Buffer | readonly Buffer[] }
  /** SSE mode: the caller hands the response to `attachExchange`. */
  | { readonly kind: "stream"; readonly exchangeId: number }
  /** The session ended before an answer: 404, or 503 when the daemon failed. */
  | { readonly kind: "failed"; readonly error: HttpError };

/** How the POST would like to be answered. */
export interface PostOptions {
  /** SSE when the client accepts text/event-stream, else JSON. */
  readonly mode: "sse" | "json";
  /** The POST was a JSON array (JSON mode answers with an array). */
  readonly batch: boolean;
  /**
   * The client accepts application/json too. An SSE-mode POST holding one request whose only message is its
   * response is then answered with that response as JSON: the same message, without a stream for the client to parse.
   */
  readonly acceptsJson: boolean;
  /** The client's protocol revision (the header, or the version requested by initialize): decides priming. */
  readonly clientVersion: string;
  /**
   * The POST holds requests of an established session: its SSE stream opens at the first message, or without one
   * after `PRIMING_HOLD_MS` when the client takes a priming event (so it can resume even before the first message),
   * else after one keep-alive interval (so a long call neither leaves the client without headers nor costs a
   * separate header write on the fast path).
   */
  readonly openNow: boolean;
  /** When the POST arrived (hop timing only; 0 when off): a streamed answer records `frontend.post` as it ends. */
  readonly startedAt: number;
}

type ExchangeState = "undecided" | "handoff" | "attached" | "detached";

interface Exchange {
  readonly id: number;
  readonly mode: "sse" | "json";
  readonly batch: boolean;
  readonly acceptsJson: boolean;
  readonly priming: Buffer | undefined;
  state: ExchangeState;
  resolve: ((outcome: ExchangeOutcome) => void) | undefined;
  sink: SseSink | undefined;
  pending: SseFrame[];
  seq: number;
  responses: string[];
  /** When the exchange's message went to the daemon (hop timing only; 0 when off). */
  sentAt: number;
  /** When its POST arrived (hop timing only; 0 when off). */
  readonly startedAt: number;
  complete: boolean;
  openTimer?: NodeJS.Timeout;
}

/** What a session needs from its registry. */
export interface SessionDeps {
  /** Opens the session's OpenSession stream to the daemon. */
  readonly daemon: Pick<DaemonClient, "open">;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly limits: SessionLimits;
  /** Called once when the session ends, whatever the cause. */
  readonly onEnded: (session: Session) => void;
}

/** Why a session ended; decides what a still-waiting POST gets (503 when the daemon failed, else 404). */
export type EndCause = "client" | "idle" | "daemon" | "shutdown" | "not_found";

/**
 * One MCP client session on the HTTP side: one `McpService.OpenSession` stream to the daemon, the exchanges (POSTs)
 * waiting for answers, the standalone GET stream, the replay buffer. It routes each daemon frame by its exchange id
 * and never looks inside JSON-RPC messages except to collect responses in JSON mode: every answer is the daemon's.
 */
export class Session {
  /** Set once the daemon reported initialization: from then on `MCP-Protocol-Version` is checked. */
  protocolVersion: string | undefined;
  /** Last time the client or the daemon did something in this session (idle expiry, eviction order). */
  lastActivity: number;
  /** When the session was opened: an unused session expires a short time after it (`markUsed`). */
  readonly createdAt: number;
  /**
   * Set by `markUsed` once the client did something beyond initializing (a request after `initialize`, or the
   * standalone GET stream). Until then the session is cheap for anyone to make, so it expires after the registry's
   * short init timeout and is the first to be evicted.
   */
  used = false;
  private ended = false;
  private readonly channel: DaemonChannel;
  private readonly exchanges = new InflightTable<number, Exchange>();
  private readonly replay: ReplayBuffer;
  private nextExchangeId = 1;
  private standaloneSink: SseSink | undefined;
  private standaloneSeq = 0;
  private standaloneDelivered = 0;
  private legacySink: SseSink | undefined;
  private readonly log: Logger;

  constructor(
    readonly id: string,
    readonly kind: SessionKind,
    private readonly deps: SessionDeps,
    /** The team profile the session serves (`/mcp/<profile>`); empty: the default one. Its URL must keep naming it. */
    readonly profile = "",
  ) {
    this.lastActivity = deps.clock.now();
    this.createdAt = this.lastActivity;
    this.replay = new ReplayBuffer(kind === "sse" ? 0 : deps.limits.replayMaxEvents, deps.limits.replayMaxBytes);
    this.log = deps.logger.child({ session: id.slice(0, 8) });
    this.channel = deps.daemon.open({ onFrame: (frame) => this.onFrame(frame), onEnd: (error) => this.onChannelEnd(error) });
    void this.channel.send({
      kind: "start",
      sessionId: id,
      transport: kind === "sse" ? SESSION_TRANSPORT.sse : SESSION_TRANSPORT.streamableHttp,
      ...(profile !== "" ? { profile } : {}),
    });
  }

  /** False once the session ended: the registry no longer hands it out. */
  get alive(): boolean {
    return !this.ended;
  }

  /** Records client or daemon traffic (idle expiry counts from the last one). */
  touch(): void {
    this.lastActivity = this.deps.clock.now();
  }

  /** True once the daemon reported a successful `initialize` for this session. */
  get initialized(): boolean {
    return this.protocolVersion !== undefined;
  }

  /** Records that the client used the session beyond `initialize` (see `used`). */
  markUsed(): void {
    this.used = true;
  }

  /**
   * True when the session has work in flight and must not be evicted to make room: a request waiting for its answer
   * or an open stream. A legacy SSE session's stream is open for its whole life, so it counts only once used:
   * otherwise a script that opens `GET /sse` and never initializes would hold its slot.
   */
  get busy(): boolean {
    if (this.kind === "sse") return this.used && this.legacySink?.open === true;
    return !this.quiet;
  }

  /** True when no HTTP request or stream is open on the session, so idle time counts. */
  get quiet(): boolean {
    if (this.standaloneSink?.open || this.legacySink?.open) return false;
    for (const exchange of this.exchanges.values()) {
      if (exchange.state !== "detached") return false;
    }
    return true;
  }

  /**
   * Forwards one Streamable HTTP POST body and resolves with how to answer it (2025-11-25 "Sending Messages to the
   * Server"): 202 when the daemon says nothing was owed, else an SSE stream or one JSON body.
   */
  async post(body: Buffer, trace: MessageTraceContext | undefined, options: PostOptions): Promise<ExchangeOutcome> {
    if (this.ended) return { kind: "failed", error: sessionNotFound() };
    this.touch();
    const id = this.nextExchangeId++;
    const primes = options.mode === "sse" && options.clientVersion >= PRIMING_MIN_VERSION;
    const exchange: Exchange = {
      id,
      mode: options.mode,
      batch: options.batch,
      acceptsJson: options.acceptsJson,
      priming: primes ? Buffer.from(`id: ${formatEventId(id, 0)}\ndata: \n\n`) : undefined,
      state: "undecided",
      resolve: undefined,
      sink: undefined,
      pending: [],
      seq: 0,
      responses: [],
      complete: false,
      sentAt: 0,
      startedAt: options.startedAt,
    };
    const outcome = new Promise<ExchangeOutcome>((resolve) => {
      exchange.resolve = resolve;
    });
    this.exchanges.set(id, exchange);
    if (options.openNow && options.mode === "sse") {
      // The priming event waits a moment for the first message so that headers, priming event and a quick answer
      // leave in one socket write (each loopback write costs the client a wake-up): same bytes, same order.
      const holdMs = primes ? PRIMING_HOLD_MS : this.deps.limits.keepAliveMs;
      if (holdMs > 0) {
        const timer = setTimeout(() => {
          if (exchange.state === "undecided" && !this.ended) this.decide(exchange, { kind: "stream", exchangeId: id });
        }, holdMs);
        timer.unref();
        exchange.openTimer = timer;
      }
    }
    if (hopTiming.enabled) exchange.sentAt = hopTiming.now();
    const sent = await this.channel.send(messageFrame(BigInt(id), body, trace));
    if (!sent) this.decide(exchange, { kind: "failed", error: sessionNotFound() });
    return outcome;
  }

  /** Forwards a legacy `POST /message` body; every answer goes out on the session's one SSE stream. */
  async postLegacy(body: Buffer, trace: MessageTraceContext | undefined): Promise<boolean> {
    if (this.ended) return false;
    this.touch();
    const id = this.nextExchangeId++;
    return this.channel.send(messageFrame(BigInt(id), body, trace));
  }

  /** Takes over the HTTP response of a POST whose outcome was `stream`, replaying what arrived meanwhile. */
  attachExchange(exchangeId: number, res: ServerResponse, headers: Record<string, string>): void {
    const exchange = this.exchanges.get(exchangeId);
    const frames = exchange ? exchange.pending : this.replay.after(exchangeId, 0).map((e) => e.frame);
    const priming = exchange?.priming;
    const first = priming ? [priming, ...frames] : frames;
    const sink = this.newSink(res, () => this.onExchangeSinkClosed(exchangeId, sink));
    sink.start(headers, first);
    if (!exchange || exchange.complete || this.ended) {
      sink.end();
      this.exchanges.delete(exchangeId);
      return;
    }
    exchange.pending = [];
    exchange.sink = sink;
    exchange.state = "attached";
  }

  /**
   * Opens the standalone GET stream (2025-11-25 "Listening for Messages from the Server"). Only one at a time (409
   * for a second); messages the daemon sent while none was open are delivered first, or, with `afterSeq` (from
   * `Last-Event-ID`), everything that followed that event.
   */
  openStandalone(res: ServerResponse, headers: Record<string, string>, afterSeq?: number): void {
    if (this.ended) throw sessionNotFound();
    if (this.standaloneSink?.open) throw new HttpError(409, "conflict: only one standalone sse stream is allowed per session");
    this.touch();
    const frames = this.replay.after(0, afterSeq ?? this.standaloneDelivered).map((e) => e.frame);
    const sink = this.newSink(res, () => {
      if (this.standaloneSink === sink) this.standaloneSink = undefined;
      this.touch();
    });
    this.standaloneSink = sink;
    sink.start(headers, frames);
    this.standaloneDelivered = this.standaloneSeq;
  }

  /**
   * Resumes a POST's stream through GET with `Last-Event-ID` (2025-11-25 "Resumability and Redelivery"): replays
   * the events after it on that stream only, then continues with the live ones until the exchange completes.
   */
  resume(res: ServerResponse, headers: Record<string, string>, streamId: number, afterSeq: number): void {
    if (this.ended) throw sessionNotFound();
    if (streamId === 0) {
      this.openStandalone(res, headers, afterSeq);
      return;
    }
    if (streamId >= this.nextExchangeId) throw new HttpError(400, "bad request: last-event-id names no stream of this session");
    this.touch();
    const exchange = this.exchanges.get(streamId);
    if (exchange && exchange.mode === "sse" && exchange.sink?.open) {
      throw new HttpError(409, "conflict: the stream already has an active connection");
    }
    const frames = this.replay.after(streamId, afterSeq).map((e) => e.frame);
    const sink = this.newSink(res, () => this.onExchangeSinkClosed(streamId, sink));
    sink.start(headers, frames);
    if (!exchange || exchange.mode !== "sse" || exchange.complete) {
      sink.end();
      return;
    }
    exchange.pending = [];
    exchange.sink = sink;
    exchange.state = "attached";
  }

  /** Opens the legacy HTTP+SSE stream (2024-11-05 "HTTP with SSE"): the `endpoint` event, then every message. */
  attachLegacy(res: ServerResponse, endpoint: string): void {
    const sink = this.newSink(res, () => this.end("the client closed the sse stream", "client"));
    this.legacySink = sink;
    sink.start({}, [formatSseEvent(endpoint, undefined, "endpoint")]);
  }

  /**
   * Ends the session: half-closes the daemon stream (the engine then cancels the session's calls upstream), cancels
   * it after a grace period, ends every open HTTP stream and answers waiting POSTs.
   */
  end(reason: string, cause: EndCause): void {
    if (this.ended) return;
    this.ended = true;
    this.log.debug({ reason, cause }, "session ended");
    this.channel.closeSend();
    if (cause === "daemon") {
      this.channel.cancel();
    } else {
      setTimeout(() => this.channel.cancel(), this.deps.limits.closeGraceMs).unref();
    }
    const error =
      cause === "daemon"
        ? new HttpError(503, `${reason}; the session ended, initialize a new one`)
        : cause === "not_found"
          ? new HttpError(404, `not found: ${reason}`)
          : sessionNotFound();
    for (const exchange of this.exchanges.values()) {
      exchange.complete = true;
      if (exchange.resolve) this.decide(exchange, { kind: "failed", error });
      exchange.sink?.end();
    }
    for (const exchange of this.exchanges.values()) {
      if (exchange.state !== "handoff") this.exchanges.delete(exchange.id);
    }
    this.standaloneSink?.end();
    this.legacySink?.end();
    this.deps.onEnded(this);
  }

  private newSink(res: ServerResponse, onClose: () => void): SseSink {
    return new SseSink(res, {
      keepAliveMs: this.deps.limits.keepAliveMs,
      maxBufferedBytes: this.deps.limits.maxBufferedBytes,
      onClose,
    });
  }

  private onExchangeSinkClosed(exchangeId: number, sink: SseSink): void {
    const exchange = this.exchanges.get(exchangeId);
    if (exchange && exchange.sink === sink) {
      exchange.sink = undefined;
      exchange.state = "detached";
    }
    this.touch();
  }

  private decide(exchange: Exchange, outcome: ExchangeOutcome): void {
    const resolve = exchange.resolve;
    if (!resolve) return;
    exchange.resolve = undefined;
    if (exchange.openTimer) clearTimeout(exchange.openTimer);
    if (outcome.kind === "stream") exchange.state = "handoff";
    else {
      if (exchange.sentAt !== 0 && outcome.kind !== "failed") hopTiming.record("frontend.daemon", exchange.sentAt);
      this.exchanges.delete(exchange.id);
    }
    resolve(outcome);
  }

  private onChannelEnd(error: ChannelError | undefined): void {
    if (this.ended) return;
    if (!error) {
      this.end("the gateway daemon closed the session", "daemon");
      return;
    }
    if (error.code === "not_found") {
      // The daemon knows no such profile (it went away between the frontend's check and the open): a 404 that says so.
      this.end(error.message, "not_found");
      return;
    }
    this.log.warn({ code: error.code, err: error.message }, "session stream to the daemon failed");
    // A refused or reset socket surfaces as unavailable or internal depending on when it breaks: both mean the
    // daemon is not there for this session.
    const reason =
      error.code === "unimplemented" ? "gateway daemon unavailable: it does not serve mcp sessions" : "gateway daemon unavailable";
    this.end(reason, "daemon");
  }

  private onFrame(frame: OpenSessionResponseFrame<JsonBytes>): void {
    switch (frame.kind) {
      case "message":
        this.onServerMessage(frame);
        return;
      case "initialized":
        this.protocolVersion = frame.protocolVersion;
        return;
      case "ended":
        this.end(`the gateway daemon ended the session: ${frame.reason}`, "daemon");
        return;
      default:
        return;
    }
  }

  private onServerMessage(message: { readonly exchangeId: bigint; readonly json: JsonBytes; readonly exchangeComplete: boolean }): void {
    if (this.ended) return;
    this.touch();
    const id = Number(message.exchangeId);
    const json = message.json;
    if (this.kind === "sse") {
      if (!isEmpty(json)) this.legacySink?.write(formatSseEvent(json, undefined, "message"));
      return;
    }
    const exchange = id === 0 ? undefined : this.exchanges.get(id);
    if (exchange && message.exchangeComplete && !isEmpty(json) && this.answersAlone(exchange)) {
      // The exchange's first message is also its last: the response. (The daemon ends an exchange only with what it owed.)
      exchange.complete = true;
      this.decide(exchange, { kind: "json", body: isPieces(json) ? json : Buffer.from(json.buffer, json.byteOffset, json.byteLength) });
      return;
    }
    if (!isEmpty(json)) {
      if (exchange && !exchange.complete) this.deliverToExchange(exchange, json);
      else this.deliverStandalone(json);
    }
    if (message.exchangeComplete && exchange) this.completeExchange(exchange);
  }

  /** True when the exchange's answer may still be one JSON body: nothing was sent or decided for it yet. */
  private answersAlone(exchange: Exchange): boolean {
    if (exchange.state !== "undecided" || exchange.complete || exchange.batch) return false;
    return exchange.mode === "json" ? exchange.responses.length === 0 : exchange.acceptsJson && exchange.seq === 0;
  }

  private deliverToExchange(exchange: Exchange, json: JsonBytes): void {
    if (exchange.mode === "json") {
      const bytes = isPieces(json) ? Buffer.concat(json) : json;
      if (isResponseMessage(bytes)) exchange.responses.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8"));
      else this.deliverStandalone(bytes);
      return;
    }
    const seq = ++exchange.seq;
    const frame = formatSseEvent(json, formatEventId(exchange.id, seq));
    this.replay.add({ streamId: exchange.id, seq, frame });
    switch (exchange.state) {
      case "attached":
        exchange.sink?.write(frame);
        return;
      case "detached":
        return;
      default:
        exchange.pending.push(frame);
        this.decide(exchange, { kind: "stream", exchangeId: exchange.id });
    }
  }

  private deliverStandalone(json: JsonBytes): void {
    const seq = ++this.standaloneSeq;
    const frame = formatSseEvent(json, formatEventId(0, seq));
    this.replay.add({ streamId: 0, seq, frame });
    const sink = this.standaloneSink;
    if (sink?.open) {
      sink.write(frame);
      this.standaloneDelivered = seq;
    }
  }

  private completeExchange(exchange: Exchange): void {
    exchange.complete = true;
    if (exchange.resolve) {
      if (exchange.mode === "json" && exchange.responses.length > 0) {
        const body =
          exchange.batch || exchange.responses.length > 1 ? `[${exchange.responses.join(",")}]` : exchange.responses[0];
        this.decide(exchange, { kind: "json", body });
      } else {
        this.decide(exchange, { kind: "accepted" });
      }
      return;
    }
    // A streamed answer: both of its hops end now, with its last message (the stream may have opened long before).
    if (exchange.sentAt !== 0) hopTiming.record("frontend.daemon", exchange.sentAt);
    if (exchange.startedAt !== 0) hopTiming.record("frontend.post", exchange.startedAt);
    if (exchange.state === "handoff") return;
    exchange.sink?.end();
    this.exchanges.delete(exchange.id);
  }
}
