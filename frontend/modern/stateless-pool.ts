import { SESSION_TRANSPORT, messageFrame, type MessageTraceContext } from "../../shared/open-session-wire/codec.js";
import { InflightTable } from "../../shared/inflight-table.js";
import { SENT, type ChannelError, type DaemonChannel, type DaemonClient } from "../daemon-client.js";

/** A message's JSON from the daemon: bytes, or (a large one) the pieces it arrived in. */
export type StatelessJson = Uint8Array | readonly Buffer[];

/** What a stateless request hears back. */
export interface StatelessHandlers {
  /** A message of the request's exchange; `complete` on its last (the response). */
  onMessage(json: StatelessJson, complete: boolean): void;
  /** The stream carrying the request ended before its response: the daemon went away (or knows no such profile). */
  onFailed(error: ChannelError): void;
}

/** One request in flight on the pool. */
export interface StatelessExchange {
  /** The client went away: the daemon cancels the request and nothing more is delivered. */
  cancel(): void;
}

/** Options of the pool. */
export interface StatelessPoolOptions {
  readonly daemon: Pick<DaemonClient, "open">;
  /** Streams per profile; requests are spread over them round-robin. Default `DEFAULT_STREAMS_PER_PROFILE`. */
  readonly streamsPerProfile?: number;
}

/**
 * A few streams per profile: enough that one large answer does not hold up every other request (HTTP/2 flow control
 * is per stream), few enough to cost nothing at rest.
 */
export const DEFAULT_STREAMS_PER_PROFILE = 4;

interface PoolStream {
  readonly channel: DaemonChannel;
  readonly exchanges: InflightTable<bigint, StatelessHandlers>;
  nextExchangeId: bigint;
  ended: boolean;
}

/**
 * How modern (stateless) requests cross to the daemon. A request of the 2026-07-28 revision stands alone, but an
 * RPC per request would cost about ten times a message on an open stream (docs/architecture.md "Why a stream per session"); so the
 * frontend keeps a few long-lived `OpenSession` streams per profile, opened with `SessionStart.stateless`, and
 * sends each request over one of them tagged with a fresh exchange id. The daemon answers on that exchange. A
 * stream that ends (the daemon restarted or went away) fails the requests it carried and is replaced by the next
 * request that needs it; the HTTP/2 connection itself is re-dialled by the daemon client. Nothing a client relies
 * on lives in these streams, so a frontend restart or a daemon restart costs a modern client nothing but the
 * requests in flight at that moment.
 */
export class StatelessPool {
  private readonly daemon: Pick<DaemonClient, "open">;
  private readonly size: number;
  private readonly streams = new Map<string, (PoolStream | undefined)[]>();
  private turn = 0;

  constructor(options: StatelessPoolOptions) {
    this.daemon = options.daemon;
    this.size = Math.max(1, options.streamsPerProfile ?? DEFAULT_STREAMS_PER_PROFILE);
  }

  /** Sends one request (its exact bytes, and its trace context when traced) for `profile`; its answer comes through `handlers`. */
  send(profile: string, json: Uint8Array, trace: MessageTraceContext | undefined, handlers: StatelessHandlers): StatelessExchange {
    const stream = this.pick(profile);
    const exchangeId = stream.nextExchangeId++;
    stream.exchanges.set(exchangeId, handlers);
    const sending = stream.channel.send(messageFrame(exchangeId, json, trace));
    if (sending !== SENT) {
      void sending.then((sent) => {
        if (!sent && stream.exchanges.delete(exchangeId)) {
          handlers.onFailed({ code: "unavailable", message: "gateway daemon unavailable" });
        }
      });
    }
    return {
      cancel: () => {
        if (!stream.exchanges.delete(exchangeId) || stream.ended) return;
        // An empty message on an exchange in flight is its cancellation (mcp.proto, SessionStart.stateless).
        void stream.channel.send({ kind: "message", exchangeId, json: new Uint8Array(0) });
      },
    };
  }

  /** Ends every stream (shutdown). */
  close(): void {
    for (const slots of this.streams.values()) for (const stream of slots) stream?.channel.closeSend();
    this.streams.clear();
  }

  private pick(profile: string): PoolStream {
    let slots = this.streams.get(profile);
    if (!slots) this.streams.set(profile, (slots = new Array<PoolStream | undefined>(this.size).fill(undefined)));
    const index = this.turn++ % this.size;
    const current = slots[index];
    if (current && !current.ended) return current;
    const opened = this.open(profile, slots, index);
    slots[index] = opened;
    return opened;
  }

  private open(profile: string, slots: (PoolStream | undefined)[], index: number): PoolStream {
    const exchanges = new InflightTable<bigint, StatelessHandlers>();
    const stream: PoolStream = {
      exchanges,
      nextExchangeId: 1n,
      ended: false,
      channel: this.daemon.open({
        onFrame: (frame) => {
          if (frame.kind === "ended") {
            end({ code: "unavailable", message: `gateway daemon unavailable: ${frame.reason}` });
            return;
          }
          if (frame.kind !== "message") return;
          const handlers = exchanges.get(frame.exchangeId);
          if (!handlers) return;
          if (frame.exchangeComplete) exchanges.delete(frame.exchangeId);
          handlers.onMessage(frame.json, frame.exchangeComplete);
        },
        onEnd: (error) => end(error ?? { code: "unavailable", message: "gateway daemon unavailable: the stream ended" }),
      }),
    };
    const end = (error: ChannelError): void => {
      if (stream.ended) return;
      stream.ended = true;
      if (slots[index] === stream) slots[index] = undefined;
      stream.channel.cancel();
      const waiting = exchanges.values();
      exchanges.clear();
      for (const handlers of waiting) handlers.onFailed(error);
    };
    void stream.channel.send({
      kind: "start",
      sessionId: `stateless-${index}`,
      transport: SESSION_TRANSPORT.streamableHttp,
      stateless: true,
      ...(profile !== "" ? { profile } : {}),
    });
    return stream;
  }
}
