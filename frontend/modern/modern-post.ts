import type { IncomingHttpHeaders, ServerResponse } from "node:http";
import { isPieces, piecesLength } from "../../shared/byte-pieces.js";
import { hopTiming } from "../../shared/hop-timing.js";
import type { MessageTraceContext } from "../../shared/open-session-wire/codec.js";
import { SseSink, formatSseEvent, type SseFrame } from "../session/sse.js";
import { KeepAliveWatch, type Watched } from "./keep-alive-watch.js";
import { checkModernRequest, statusOfModernError, type ModernMessage } from "./request-checks.js";
import type { ChannelError } from "../daemon-client.js";
import type { StatelessExchange, StatelessHandlers, StatelessJson, StatelessPool } from "./stateless-pool.js";

/** What serving a modern POST needs. */
export interface ModernPostOptions {
  readonly pool: StatelessPool;
  /** Interval of SSE keep-alive comments on a streamed answer (a `subscriptions/listen` stream stays open). */
  readonly keepAliveMs: number;
  /** Unread bytes a slow client may leave before its stream is dropped. */
  readonly maxBufferedBytes: number;
}

/** How the client would like to be answered. */
export interface ModernAccept {
  readonly json: boolean;
  readonly eventStream: boolean;
}

/** Answers whose JSON is at most this long are read for their error code (to choose the HTTP status). */
const INSPECTED_ANSWER_BYTES = 64 * 1024;

/**
 * Serves one modern (2026-07-28) POST: no session, nothing remembered. The request's headers are checked against
 * its body, then its bytes cross to the daemon on a stateless stream (stateless-pool.ts) and the answer comes back
 * on its exchange: a response alone is one JSON body (HTTP 400 for the revision's protocol errors, 404 for an
 * unknown method: "Streamable HTTP › Protocol Version Header"); anything before it (progress, log messages, a
 * subscription's notifications) opens an SSE stream scoped to this request, which the response ends. The client
 * closing the response cancels the request ("Streamable HTTP › Cancellation"). Takes over `res` (koa's
 * `respond = false` is the caller's). With hop timing on, `startedAt` is when the POST arrived: the request's
 * `frontend.post` and `frontend.daemon` hops are recorded when its response comes back, as a legacy POST's are.
 */
export function serveModernPost(
  res: ServerResponse,
  body: Buffer,
  trace: MessageTraceContext | undefined,
  message: ModernMessage,
  headers: IncomingHttpHeaders,
  profile: string,
  accept: ModernAccept,
  options: ModernPostOptions,
  startedAt = 0,
): void {
  const refused = checkModernRequest(message, headers);
  if (refused) {
    writeJson(res, refused.status, refused.body);
    recordPostHop(startedAt);
    return;
  }
  if (message.id === undefined) {
    // This revision defines no client notifications over HTTP: accepted and dropped.
    res.writeHead(202).end();
    recordPostHop(startedAt);
    return;
  }
  const post = new ModernPost(res, message, accept, options, startedAt);
  if (startedAt !== 0) post.sentAt = hopTiming.now();
  post.exchange = options.pool.send(profile, body, trace, post);
  res.on("close", post.onResponseClosed);
  // A call still running after one keep-alive interval gets its SSE headers and keep-alive comments, so neither the
  // client nor a proxy on the way takes the silence for a dead connection.
  if (accept.eventStream && options.keepAliveMs > 0 && !post.done) post.watched = watchOf(options).watch(post.onKeepAliveDue);
}

/**
 * One modern POST in flight: the handlers of its exchange and of its response, as methods of one object (this runs
 * for every modern request; a closure each was garbage the collector paid for).
 */
class ModernPost implements StatelessHandlers {
  done = false;
  sink: SseSink | undefined;
  watched: Watched | undefined;
  exchange: StatelessExchange | undefined;
  /** When the request went to the daemon (hop timing only; 0 when off). */
  sentAt = 0;

  constructor(
    private readonly res: ServerResponse,
    private readonly message: ModernMessage,
    private readonly accept: ModernAccept,
    private readonly options: ModernPostOptions,
    private readonly startedAt: number,
  ) {}

  onMessage(json: StatelessJson, complete: boolean): void {
    if (this.done) return;
    if (complete && this.sentAt !== 0) hopTiming.record("frontend.daemon", this.sentAt);
    if (this.sink === undefined) {
      if (complete && isEmpty(json)) {
        this.finish();
        this.res.writeHead(202).end();
        recordPostHop(this.startedAt);
        return;
      }
      if (complete && this.accept.json) {
        this.finish();
        writeJson(this.res, statusOf(json), json);
        recordPostHop(this.startedAt);
        return;
      }
      this.sink = this.openSink([formatSseEvent(json)]);
    } else if (!isEmpty(json)) {
      this.sink.write(formatSseEvent(json));
    }
    if (complete) {
      this.finish();
      this.sink.end();
      recordPostHop(this.startedAt);
    }
  }

  onFailed(error: ChannelError): void {
    if (this.done) return;
    this.finish();
    if (this.sink) {
      this.sink.end();
      return;
    }
    const status = error.code === "not_found" ? 404 : 503;
    writeJson(this.res, status, JSON.stringify({ jsonrpc: "2.0", id: this.message.id ?? null, error: { code: -32603, message: error.message } }));
  }

  /** The client went away before the answer: the request is cancelled. */
  readonly onResponseClosed = (): void => {
    if (this.done) return;
    this.finish();
    this.exchange?.cancel();
  };

  /** Unanswered for one keep-alive interval: the SSE stream opens, with keep-alive comments from then on. */
  readonly onKeepAliveDue = (): void => {
    if (!this.done && this.sink === undefined) this.sink = this.openSink([]);
  };

  private finish(): void {
    this.done = true;
    this.watched?.stop();
  }

  private openSink(first: SseFrame[]): SseSink {
    this.watched?.stop();
    const opened = new SseSink(this.res, {
      keepAliveMs: this.options.keepAliveMs,
      maxBufferedBytes: this.options.maxBufferedBytes,
      onClose: this.onResponseClosed,
    });
    opened.start({}, first);
    return opened;
  }
}

/** Records a POST's whole `frontend.post` hop once its answer is written; `startedAt` is 0 when hop timing is off. */
function recordPostHop(startedAt: number): void {
  if (startedAt !== 0) hopTiming.record("frontend.post", startedAt);
}

const watches = new WeakMap<ModernPostOptions, KeepAliveWatch>();

/** The options' watch: one per frontend (its options object lives as long as the app), so one timer for all requests. */
function watchOf(options: ModernPostOptions): KeepAliveWatch {
  let watch = watches.get(options);
  if (!watch) watches.set(options, (watch = new KeepAliveWatch(options.keepAliveMs)));
  return watch;
}

function isEmpty(json: StatelessJson): boolean {
  return isPieces(json) ? json.every((piece) => piece.length === 0) : json.length === 0;
}

/** The status of a lone answer: read only when it is small (errors are), else 200. */
function statusOf(json: StatelessJson): number {
  if (isPieces(json) || json.length > INSPECTED_ANSWER_BYTES) return 200;
  const bytes = Buffer.from(json.buffer, json.byteOffset, json.byteLength);
  // Cheap before parsing: a result never needs it.
  if (bytes.indexOf('"error"') < 0) return 200;
  try {
    const answer = JSON.parse(bytes.toString("utf8")) as { error?: { code?: unknown } };
    return typeof answer.error?.code === "number" ? statusOfModernError(answer.error.code) : 200;
  } catch {
    return 200;
  }
}

function writeJson(res: ServerResponse, status: number, json: StatelessJson | string): void {
  if (res.destroyed || res.headersSent) return;
  if (typeof json === "string") {
    res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(json) });
    res.end(json);
    return;
  }
  if (isPieces(json)) {
    res.writeHead(status, { "Content-Type": "application/json", "Content-Length": piecesLength(json) });
    res.cork();
    for (const piece of json) res.write(piece);
    res.uncork();
    res.end();
    return;
  }
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": json.length });
  res.end(json);
}
