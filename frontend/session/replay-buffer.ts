import { frameLength, type SseFrame } from "./sse.js";

/** One SSE event kept for replay. */
export interface StoredEvent {
  /** 0 for the standalone (GET) stream, else the exchange id of the POST. */
  readonly streamId: number;
  /** Position in its stream, from 1. */
  readonly seq: number;
  /** The whole SSE frame, id included. */
  readonly frame: SseFrame;
}

/**
 * The bounded per-session memory of sent SSE events that makes streams resumable (2025-11-25 "Resumability and
 * Redelivery"): a client that lost a stream reconnects with `Last-Event-ID` and gets what followed on that stream.
 * Bounded by count and bytes; the oldest events go first, so a client away for too long misses them rather than
 * the frontend growing without limit.
 */
export class ReplayBuffer {
  private events: StoredEvent[] = [];
  private head = 0;
  private bytes = 0;

  constructor(
    private readonly maxEvents: number,
    private readonly maxBytes: number,
  ) {}

  /** Remembers an event, evicting the oldest ones past the bounds. */
  add(event: StoredEvent): void {
    const length = frameLength(event.frame);
    if (this.maxEvents <= 0 || length > this.maxBytes) return;
    this.events.push(event);
    this.bytes += length;
    while (this.events.length - this.head > this.maxEvents || this.bytes > this.maxBytes) {
      this.bytes -= frameLength(this.events[this.head].frame);
      this.head++;
    }
    if (this.head > 256 && this.head * 2 > this.events.length) {
      this.events = this.events.slice(this.head);
      this.head = 0;
    }
  }

  /** The kept events of one stream that came after `seq`, in order. */
  after(streamId: number, seq: number): StoredEvent[] {
    const found: StoredEvent[] = [];
    for (let i = this.head; i < this.events.length; i++) {
      const event = this.events[i];
      if (event.streamId === streamId && event.seq > seq) found.push(event);
    }
    return found;
  }

  /** Number of events kept. */
  get size(): number {
    return this.events.length - this.head;
  }
}
