import type { ServerResponse } from "node:http";
import { isPieces, piecesLength } from "../../shared/byte-pieces.js";

/** Response headers of every SSE stream: no caching, no proxy buffering (a reverse proxy must pass frames through). */
export const SSE_HEADERS: Readonly<Record<string, string>> = {
  "Content-Type": "text/event-stream",
  "Cache-Control": "no-cache, no-transform",
  Connection: "keep-alive",
  "X-Accel-Buffering": "no",
};

const KEEPALIVE_FRAME = Buffer.from(": keepalive\n\n");
const NEWLINE = /\r\n|\r|\n/;
const EVENT_END = Buffer.from("\n\n");

/**
 * One SSE event's bytes: one buffer, or for a large message a list of buffers written in order, so that its bulk
 * (the pieces it arrived in from the daemon) is never joined on its way to the socket.
 */
export type SseFrame = Buffer | readonly Buffer[];

/** The number of bytes of a frame. */
export function frameLength(frame: SseFrame): number {
  return isPieces(frame) ? piecesLength(frame) : frame.length;
}

/** Appends a frame's buffers to a list of buffers to write. */
function appendFrame(list: Buffer[], frame: SseFrame): void {
  if (isPieces(frame)) for (const piece of frame) list.push(piece);
  else list.push(frame);
}

/**
 * Builds one SSE event (HTML Living Standard, "Server-sent events" › "Interpreting an event stream"): one Buffer, so
 * a frame reaches the socket in one write, or for `data` given as pieces (a large message) those pieces between the
 * event's head and its end, uncopied. `data` is the daemon's JSON bytes; JSON text rarely holds raw line breaks, but
 * when it does each line becomes its own `data:` field, which the client joins back with "\n".
 */
export function formatSseEvent(data: Uint8Array | string | readonly Buffer[], id?: string, event?: string): SseFrame {
  let head = "";
  if (event !== undefined) head += `event: ${event}\n`;
  if (id !== undefined) head += `id: ${id}\n`;
  if (typeof data !== "string" && !(data instanceof Uint8Array)) {
    if (data.every((piece) => piece.indexOf(10) < 0 && piece.indexOf(13) < 0)) return [Buffer.from(`${head}data: `), ...data, EVENT_END];
    return formatSseEvent(Buffer.concat(data), id, event);
  }
  const bytes = typeof data === "string" ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (bytes.indexOf(10) < 0 && bytes.indexOf(13) < 0) {
    return Buffer.concat([Buffer.from(`${head}data: `), bytes, EVENT_END]);
  }
  const lines = bytes.toString("utf8").split(NEWLINE);
  return Buffer.from(`${head}${lines.map((line) => `data: ${line}\n`).join("")}\n`);
}

/** The SSE event id of a stream's event: `<stream>-<seq>`, unique in its session, naming the stream to resume. */
export function formatEventId(streamId: number, seq: number): string {
  return `${streamId}-${seq}`;
}

/** Parses a `Last-Event-ID` this frontend issued; undefined for anything else. */
export function parseEventId(value: string): { streamId: number; seq: number } | undefined {
  const match = /^(\d{1,15})-(\d{1,15})$/.exec(value);
  if (!match) return undefined;
  return { streamId: Number(match[1]), seq: Number(match[2]) };
}

/** Options of an `SseSink`. */
export interface SseSinkOptions {
  /** Interval of `: keepalive` comments; 0 disables them. */
  readonly keepAliveMs: number;
  /** Bytes a slow client may leave unread before its connection is dropped (events stay replayable). */
  readonly maxBufferedBytes: number;
  /** Called once when the response closes for any reason other than `end()`. */
  readonly onClose: () => void;
}

/**
 * One open SSE response. Frames are written straight to the socket (no koa body stream in between) because this is
 * the hot path; keep-alive comments keep proxies and clients from timing idle streams out.
 */
export class SseSink {
  private timer: NodeJS.Timeout | undefined;
  private finished = false;
  private batch: Buffer[] = [];

  constructor(
    private readonly res: ServerResponse,
    private readonly options: SseSinkOptions,
  ) {
    res.on("close", () => {
      this.stopTimer();
      if (!this.finished) {
        this.finished = true;
        options.onClose();
      }
    });
  }

  /** False once the response ended or the client went away. */
  get open(): boolean {
    return !this.finished && !this.res.destroyed;
  }

  /** Sends the status line and headers, with the first frames if any, in one write. */
  start(headers: Record<string, string>, first: readonly SseFrame[] = []): void {
    this.res.writeHead(200, { ...SSE_HEADERS, ...headers });
    if (first.length > 0) {
      for (const frame of first) appendFrame(this.batch, frame);
      this.writeBatch();
    } else this.res.flushHeaders();
    if (this.options.keepAliveMs > 0) {
      this.timer = setInterval(() => this.write(KEEPALIVE_FRAME), this.options.keepAliveMs);
      this.timer.unref();
    }
  }

  /**
   * Queues one frame; the frames of one tick leave in one socket write (a response followed at once by the end of
   * its stream leaves as one packet). Drops the connection when the client stopped reading.
   */
  write(frame: SseFrame): void {
    if (!this.open) return;
    const wasEmpty = this.batch.length === 0;
    appendFrame(this.batch, frame);
    if (wasEmpty) process.nextTick(() => this.flush());
  }

  /** Ends the stream normally (every answer sent, or the session ended), with any queued frames. */
  end(last?: SseFrame): void {
    if (this.finished) return;
    this.finished = true;
    this.stopTimer();
    if (this.res.destroyed) return;
    if (last) appendFrame(this.batch, last);
    this.writeBatch();
    this.res.end();
  }

  private flush(): void {
    if (this.batch.length === 0 || this.finished || this.res.destroyed) return;
    this.writeBatch();
    if (this.res.writableLength > this.options.maxBufferedBytes) this.res.destroy();
  }

  /** Writes the queued buffers: several are corked, so they leave in one writev. */
  private writeBatch(): void {
    const batch = this.batch;
    if (batch.length === 0) return;
    this.batch = [];
    if (batch.length === 1) {
      this.res.write(batch[0]);
      return;
    }
    this.res.cork();
    for (const piece of batch) this.res.write(piece);
    this.res.uncork();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
