/**
 * The Connect protocol's streaming framing (connectrpc.com/docs/protocol, "Streaming RPCs"): every message is an
 * envelope of one flags byte, a 4-byte big-endian length and the payload; the last envelope of a response carries
 * flag 0x02 and a JSON "end of stream" message with the error, if any, and trailers. Written here, without the
 * generic machinery of connect-es, for the one RPC on the hot path (`McpService.OpenSession`): the frontend's
 * client and the daemon's fast path speak it byte for byte as connect-es does, so either end interoperates with
 * the other implementation (the tests run both pairings).
 */

/** Flag of a compressed envelope; the fast paths never compress and refuse compressed input. */
export const FLAG_COMPRESSED = 0x01;
/** Flag of the end-of-stream envelope (responses only). */
export const FLAG_END_STREAM = 0x02;

/** The Connect error codes the fast paths produce or interpret (the protocol's snake_case names). */
export type ConnectWireCode =
  | "canceled"
  | "unknown"
  | "invalid_argument"
  | "deadline_exceeded"
  | "not_found"
  | "permission_denied"
  | "resource_exhausted"
  | "failed_precondition"
  | "unimplemented"
  | "internal"
  | "unavailable"
  | "unauthenticated";

/** One envelope: a payload with the header written in front of it. */
export function encodeEnvelope(flags: number, payload: Uint8Array): Buffer {
  const envelope = Buffer.allocUnsafe(5 + payload.length);
  envelope[0] = flags;
  envelope.writeUInt32BE(payload.length, 1);
  envelope.set(payload, 5);
  return envelope;
}

/** The end-of-stream envelope: `{}` for success, else the error (message only: never a secret, never a stack). */
export function encodeEndStream(error?: { readonly code: ConnectWireCode; readonly message: string }): Buffer {
  const body = error ? { error: { code: error.code, message: error.message } } : {};
  return encodeEnvelope(FLAG_END_STREAM, Buffer.from(JSON.stringify(body)));
}

/** What an end-of-stream envelope said: nothing (success) or an error. */
export function parseEndStream(payload: Uint8Array): { readonly code: ConnectWireCode; readonly message: string } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString("utf8"));
  } catch {
    return { code: "internal", message: "the end-of-stream message is not JSON" };
  }
  const error = (parsed as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (error === undefined || error === null) return undefined;
  return {
    code: typeof error.code === "string" ? (error.code as ConnectWireCode) : "unknown",
    message: typeof error.message === "string" ? error.message : "",
  };
}

/**
 * Splits a byte stream into envelopes, however the chunks fall. Chunks are kept as they came and joined once per
 * envelope, so a 10 MiB result arriving in 64 KiB pieces is copied once, not once per piece — or not at all, for a
 * reader given `onPieces` and an envelope of `piecesFromBytes` or more: it gets the pieces. Refuses an envelope
 * larger than `maxBytes` (a peer cannot make us buffer without bound) by throwing; the caller ends the stream with
 * `resource_exhausted`.
 */
export class EnvelopeReader {
  private chunks: Buffer[] = [];
  private size = 0;
  /** Flags and total size (header included) of the envelope being collected, once its header is in. */
  private current: { flags: number; total: number } | undefined;

  constructor(
    private readonly maxBytes: number,
    private readonly piecesFromBytes = Number.POSITIVE_INFINITY,
  ) {}

  /**
   * Feeds a chunk; calls `onEnvelope` for every envelope it completes, in order, or `onPieces` (when given) for one
   * whose payload is `piecesFromBytes` or longer, with the payload as the pieces it arrived in.
   */
  push(
    chunk: Buffer,
    onEnvelope: (flags: number, payload: Buffer) => void,
    onPieces?: (flags: number, payload: Buffer[], length: number) => void,
  ): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
    for (;;) {
      if (this.current === undefined) {
        if (this.size < 5) return;
        const header = this.peek(5);
        const length = header.readUInt32BE(1);
        if (length > this.maxBytes) throw new Error(`an envelope of ${length} bytes exceeds the limit of ${this.maxBytes}`);
        this.current = { flags: header[0]!, total: 5 + length };
      }
      if (this.size < this.current.total) return;
      const { flags, total } = this.current;
      this.current = undefined;
      if (onPieces && total - 5 >= this.piecesFromBytes) {
        this.take(5);
        onPieces(flags, this.takePieces(total - 5), total - 5);
      } else onEnvelope(flags, this.take(total).subarray(5));
    }
  }

  /** True when a partial envelope is waiting for more bytes (a stream that ends now was cut). */
  get partial(): boolean {
    return this.size > 0;
  }

  /** The first `count` buffered bytes, without consuming them. */
  private peek(count: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= count) return first;
    return Buffer.concat(this.chunks, Math.min(this.size, 64)).subarray(0, count);
  }

  /** Removes and returns the first `count` buffered bytes as views of the chunks they sit in. */
  private takePieces(count: number): Buffer[] {
    const pieces: Buffer[] = [];
    let left = count;
    while (left > 0) {
      const chunk = this.chunks[0]!;
      if (chunk.length <= left) {
        pieces.push(chunk);
        this.chunks.shift();
        left -= chunk.length;
      } else {
        pieces.push(chunk.subarray(0, left));
        this.chunks[0] = chunk.subarray(left);
        left = 0;
      }
    }
    this.size -= count;
    return pieces;
  }

  /** Removes and returns the first `count` buffered bytes (a view when they sit in one chunk). */
  private take(count: number): Buffer {
    const first = this.chunks[0]!;
    let taken: Buffer;
    if (first.length >= count) {
      taken = first.subarray(0, count);
      if (first.length === count) this.chunks.shift();
      else this.chunks[0] = first.subarray(count);
    } else {
      taken = Buffer.allocUnsafe(count);
      let offset = 0;
      while (offset < count) {
        const chunk = this.chunks[0]!;
        const used = Math.min(chunk.length, count - offset);
        chunk.copy(taken, offset, 0, used);
        offset += used;
        if (used === chunk.length) this.chunks.shift();
        else this.chunks[0] = chunk.subarray(used);
      }
    }
    this.size -= count;
    return taken;
  }
}
