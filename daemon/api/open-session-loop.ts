import { hopTiming } from "../../shared/hop-timing.js";
import { silentLogger, type Logger } from "../../shared/logger.js";
import type { OpenSessionRequestFrame } from "../../shared/open-session-wire/codec.js";
import type { ConnectWireCode } from "../../shared/open-session-wire/envelope.js";
import { GatewayError } from "../errors.js";
import type { McpEngine } from "../mcp/engine.js";
import type { McpSession, SessionFrame } from "../mcp/session.js";

/**
 * The one session loop of `McpService.OpenSession`: what happens between a client's stream and an engine session,
 * whichever transport carries the stream. Both carriers feed it — the fast path on the unix socket's HTTP/2
 * (open-session-fast-path.ts) and the connect-node handler for every other protocol (mcp-service.ts) — so the rules
 * are written once:
 * - the start rule: the first frame must be a `SessionStart`, and only the first;
 * - back-pressure: a client that leaves more than `maxQueuedBytes` unread is cut off with `resource_exhausted`
 *   (measured in bytes on both carriers, so a session's limit no longer depends on how it connected);
 * - the lifetime: the session ends with the client's side of the stream, and the stream with the session;
 * - hop timing: a client message's time in the daemon, until its exchange's final answer is handed on.
 * A carrier decodes frames and writes them; the loop decides. A start frame flagged `stateless` opens a channel of
 * modern requests (daemon/mcp/modern-requests.ts) instead of a session; everything else is the same: exchanges,
 * back-pressure, lifetime, timing.
 */

/** Why a stream ends with an error: a Connect code (snake_case, as on the wire) and a message for the client. */
export interface OpenSessionFailure {
  readonly code: ConnectWireCode;
  readonly message: string;
}

/** Where a loop's frames go: one per stream, written by its carrier. */
export interface OpenSessionSink {
  /** Hands one frame towards the client, in order. */
  write(frame: SessionFrame): void;
  /** The bytes handed over that the client has not taken yet. */
  queuedBytes(): number;
  /** Ends the response stream, cleanly or with `failure`. Called once, after the last `write`. */
  end(failure?: OpenSessionFailure): void;
}

/** One stream's loop, fed by its carrier. */
export interface OpenSessionLoop {
  /** A frame the client sent, decoded. */
  receive(frame: OpenSessionRequestFrame): void;
  /** The client half-closed its side; `cut` when that happened inside a frame. */
  inputEnded(cut?: boolean): void;
  /** The carrier refuses the client's input (malformed, too large): the stream ends with `failure`. */
  fail(failure: OpenSessionFailure): void;
  /** The stream is gone (reset, connection lost): the session closes and nothing more is written. */
  abort(): void;
  /** True once the stream has ended or been aborted: the carrier stops feeding it. */
  readonly finished: boolean;
}

/** Options of the loops. */
export interface OpenSessionLoopOptions {
  readonly logger?: Logger;
  /** Unread bytes a client may leave queued before its stream is ended; default `DEFAULT_MAX_QUEUED_BYTES`. */
  readonly maxQueuedBytes?: number;
}

/** Enough for a few of the largest tool results in flight; far below what would hurt the daemon's memory. */
export const DEFAULT_MAX_QUEUED_BYTES = 512 * 1024 * 1024;

/** The `SessionTransport` enum's names, by number, for the engine's logs. */
const TRANSPORT_NAMES = ["unspecified", "streamable-http", "sse", "stdio"];

const FIRST_MUST_BE_START = "the first OpenSession message must be a SessionStart";
const START_ONLY_FIRST = "SessionStart may only be the first OpenSession message";
const FELL_BEHIND = "the session's client fell behind; reconnect";

/** Makes the loops of `engine`'s sessions: call the result once per stream, with that stream's sink. */
export function createOpenSessionLoops(engine: McpEngine, options: OpenSessionLoopOptions = {}): (sink: OpenSessionSink) => OpenSessionLoop {
  const logger = options.logger ?? silentLogger;
  const maxQueuedBytes = options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
  return (sink) => new StreamLoop(engine, sink, logger, maxQueuedBytes);
}

class StreamLoop implements OpenSessionLoop {
  private session: McpSession | undefined;
  private done = false;
  /** Only with hop timing on: when each exchange's message was read, until its final answer is handed on. */
  private readonly receivedAt = hopTiming.enabled ? new Map<bigint, number>() : undefined;

  constructor(
    private readonly engine: McpEngine,
    private readonly sink: OpenSessionSink,
    private readonly logger: Logger,
    private readonly maxQueuedBytes: number,
  ) {}

  get finished(): boolean {
    return this.done;
  }

  receive(frame: OpenSessionRequestFrame): void {
    if (this.done) return;
    const session = this.session;
    if (session === undefined) {
      if (frame.kind !== "start") return this.fail({ code: "invalid_argument", message: FIRST_MUST_BE_START });
      try {
        const options = {
          transportSessionId: frame.sessionId,
          transport: TRANSPORT_NAMES[frame.transport] ?? "unspecified",
          onFrame: (sessionFrame: SessionFrame) => this.onFrame(sessionFrame),
          ...(frame.profile !== undefined ? { profile: frame.profile } : {}),
        };
        // A stateless stream (modern requests, each standing alone) is fed exactly like a session.
        this.session = frame.stateless ? this.engine.openStatelessChannel(options) : this.engine.openSession(options);
      } catch (error) {
        // An unknown profile (`/mcp/<profile>`): the transport answers it as a 404 with this message.
        if (error instanceof GatewayError && error.kind === "not_found") return this.fail({ code: "not_found", message: error.message });
        throw error;
      }
      return;
    }
    if (frame.kind !== "message") return this.fail({ code: "invalid_argument", message: START_ONLY_FIRST });
    this.receivedAt?.set(frame.exchangeId, hopTiming.now());
    session.receive(frame.exchangeId, frame.json, frame.trace);
  }

  inputEnded(cut = false): void {
    if (this.session === undefined) this.fail({ code: "invalid_argument", message: FIRST_MUST_BE_START });
    else if (cut) this.fail({ code: "invalid_argument", message: "the request stream ended inside a message" });
    else this.finish(undefined);
  }

  fail(failure: OpenSessionFailure): void {
    if (this.done) return;
    this.logger.debug({ err: failure.message, code: failure.code }, "OpenSession stream refused");
    this.finish(failure);
  }

  abort(): void {
    this.done = true;
    this.session?.close();
  }

  private onFrame(frame: SessionFrame): void {
    if (this.done) return;
    const receivedAt = this.receivedAt;
    if (receivedAt && frame.kind === "message" && frame.exchangeComplete) {
      const at = receivedAt.get(frame.exchangeId);
      if (at !== undefined) {
        receivedAt.delete(frame.exchangeId);
        hopTiming.record("daemon.session", at);
      }
    }
    this.sink.write(frame);
    if (frame.kind === "ended") this.finish(undefined);
    else if (this.sink.queuedBytes() > this.maxQueuedBytes) this.fail({ code: "resource_exhausted", message: FELL_BEHIND });
  }

  /** Ends both sides once: the session (its calls are cancelled) and the stream. */
  private finish(failure: OpenSessionFailure | undefined): void {
    if (this.done) return;
    this.done = true;
    // Closing first: a session closed by its client emits nothing more, so `end` is the stream's last word.
    this.session?.close();
    this.sink.end(failure);
  }
}
