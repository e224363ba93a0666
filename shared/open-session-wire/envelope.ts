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
 * Splits a byte stream into envelopes, however the chunks fall. Refuses an envelope larger than `maxBytes` (a
 * peer cannot make us buffer without bound) by throwing; the caller ends the stream with `resource_exhausted`.
 */
export class EnvelopeReader {
  private buffered: Buffer | undefined;

  constructor(private readonly maxBytes: number) {}

  /** Feeds a chunk; calls `onEnvelope` for every envelope it completes, in order. */
  push(chunk: Buffer, onEnvelope: (flags: number, payload: Buffer) => void): void {
    const data = this.buffered ? Buffer.concat([this.buffered, chunk]) : chunk;
    this.buffered = undefined;
    let offset = 0;
    while (data.length - offset >= 5) {
      const length = data.readUInt32BE(offset + 1);
      if (length > this.maxBytes) throw new Error(`an envelope of ${length} bytes exceeds the limit of ${this.maxBytes}`);
      if (data.length - offset - 5 < length) break;
      const flags = data[offset]!;
      const payload = data.subarray(offset + 5, offset + 5 + length);
      offset += 5 + length;
      onEnvelope(flags, payload);
    }
    if (offset < data.length) this.buffered = offset === 0 ? data : Buffer.from(data.subarray(offset));
  }

  /** True when a partial envelope is waiting for more bytes (a stream that ends now was cut). */
  get partial(): boolean {
    return this.buffered !== undefined;
  }
}
