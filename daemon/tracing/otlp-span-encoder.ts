/**
 * The OTLP protobuf encoding (`ExportTraceServiceRequest`) of a batch of the gateway's recorded spans, for
 * OpenTelemetry's OTLP/HTTP export delegate (otel-tracer.ts). OpenTelemetry's own serializer walks every span through
 * generic writers and converts each hex id back to bytes: about 3.4 µs a span, a third of a traced request's budget.
 * This one writes the few shapes the gateway records straight into one buffer (ids decoded from hex by table,
 * nested lengths as fixed-width varints patched in place) and costs a fraction of that; otlp-span-encoder.test.ts
 * decodes its output with OpenTelemetry's generated OTLP types and compares it with what OpenTelemetry's serializer
 * makes of the same spans.
 *
 * Wire notes: every length prefix is written as a varint padded to a fixed width (4 bytes: up to 256 MiB), which
 * protobuf decoders accept (a varint may carry redundant continuation bytes); attribute values are strings,
 * booleans, integers (int64) or doubles, the only kinds the gateway sets.
 */
import type { HrTime } from "@opentelemetry/api";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import type { RecordedSpan } from "./recorded-span.js";

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_BYTES = 2;
const WIRE_FIXED32 = 5;

/** The most a new batch's buffer starts with (a batch that grew larger grows again). */
const MAX_INITIAL_BATCH_BYTES = 4 * 1024 * 1024;

/** Strings up to this many characters may take the ASCII path of `Writer.string` (one length byte: < 128). */
const SHORT_STRING = 127;

/** The value of each hex digit's char code (0xff for anything else). */
const HEX_VALUE = new Uint8Array(128).fill(0xff);
for (let digit = 0; digit < 16; digit++) {
  HEX_VALUE["0123456789abcdef".charCodeAt(digit)] = digit;
  HEX_VALUE["0123456789ABCDEF".charCodeAt(digit)] = digit;
}

/** Width of every length prefix: a varint padded to 4 bytes holds up to 2^28 - 1. */
const LENGTH_WIDTH = 4;
const MAX_LENGTH = 2 ** 28 - 1;

/** A growing buffer with a write position. */
class Writer {
  buffer: Buffer;
  pos = 0;

  constructor(size = 16 * 1024) {
    this.buffer = Buffer.allocUnsafe(size);
  }

  private reserve(bytes: number): void {
    if (this.pos + bytes <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.pos + bytes) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.buffer.copy(grown, 0, 0, this.pos);
    this.buffer = grown;
  }

  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  varint(value: number): void {
    this.reserve(10);
    let rest = value;
    while (rest > 0x7f) {
      this.buffer[this.pos++] = (rest & 0x7f) | 0x80;
      rest = Math.floor(rest / 128);
    }
    this.buffer[this.pos++] = rest;
  }

  /** A signed 64-bit integer as protobuf's int64 varint (two's complement for negatives, ten bytes). */
  int64(value: number): void {
    if (value >= 0) return this.varint(value);
    let big = BigInt.asUintN(64, BigInt(value));
    this.reserve(10);
    while (big > 0x7fn) {
      this.buffer[this.pos++] = Number(big & 0x7fn) | 0x80;
      big >>= 7n;
    }
    this.buffer[this.pos++] = Number(big);
  }

  fixed32(value: number): void {
    this.reserve(4);
    this.uint32(value >>> 0, this.pos);
    this.pos += 4;
  }

  /**
   * Four bytes, little-endian, at `at` (reserved by the caller). By hand: `Buffer.writeUInt32LE` checks its arguments
   * in JavaScript on every call, and a span writes several.
   */
  private uint32(value: number, at: number): void {
    const buffer = this.buffer;
    buffer[at] = value & 0xff;
    buffer[at + 1] = (value >>> 8) & 0xff;
    buffer[at + 2] = (value >>> 16) & 0xff;
    buffer[at + 3] = (value >>> 24) & 0xff;
  }

  double(value: number): void {
    this.reserve(8);
    this.buffer.writeDoubleLE(value, this.pos);
    this.pos += 8;
  }

  /**
   * Nanoseconds since the epoch of an `HrTime`, as a fixed64. The product needs 61 bits, past a double's 53: it is
   * put together from parts that each stay exact (no BigInt, which cost more than the rest of the span).
   */
  hrTime(time: HrTime): void {
    this.reserve(8);
    const [seconds, nanos] = time;
    const secondsHigh = Math.floor(seconds / 65536);
    const low = (seconds - secondsHigh * 65536) * 1e9 + nanos; // < 2^16 · 1e9 + 1e9
    const high = secondsHigh * 1e9; // < 2^53 for any HrTime a clock gives
    const highOver32 = Math.floor(high / 65536);
    const rest = (high - highOver32 * 65536) * 65536 + low; // < 2^32 + 2^46
    const restOver32 = Math.floor(rest / 4294967296);
    this.uint32(rest - restOver32 * 4294967296, this.pos);
    this.uint32(highOver32 + restOver32, this.pos + 4);
    this.pos += 8;
  }

  string(field: number, value: string): void {
    this.tag(field, WIRE_BYTES);
    if (value.length <= SHORT_STRING && this.shortAscii(value)) return;
    const length = Buffer.byteLength(value, "utf8");
    this.varint(length);
    this.reserve(length);
    this.pos += this.buffer.write(value, this.pos, "utf8");
  }

  /**
   * Writes a short string's length and bytes when every character is ASCII (then its UTF-8 bytes are its char codes);
   * false, having written nothing, otherwise. The names, methods and versions a span carries are short and ASCII, and
   * for them a loop costs less than the two native calls of `Buffer.byteLength` and `Buffer.write`.
   */
  private shortAscii(value: string): boolean {
    const length = value.length;
    this.reserve(length + 1);
    const buffer = this.buffer;
    const start = this.pos + 1; // one length byte: SHORT_STRING < 128
    for (let index = 0; index < length; index++) {
      const code = value.charCodeAt(index);
      if (code >= 0x80) return false;
      buffer[start + index] = code;
    }
    buffer[this.pos] = length;
    this.pos = start + length;
    return true;
  }

  /** Bytes already encoded. */
  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** A hex id as bytes (decoded here: `Buffer.write(…, "hex")` costs a native call and its checks per id). */
  hexBytes(field: number, hex: string): void {
    this.tag(field, WIRE_BYTES);
    const length = hex.length >>> 1;
    this.varint(length);
    this.reserve(length);
    const buffer = this.buffer;
    let at = this.pos;
    for (let index = 0; index < length; index++) {
      const high = HEX_VALUE[hex.charCodeAt(2 * index)] ?? 0xff;
      const low = HEX_VALUE[hex.charCodeAt(2 * index + 1)] ?? 0xff;
      // Not hex: zeros from there, so the field keeps its announced length (ids the tracer makes or accepts are hex).
      if (high > 0x0f || low > 0x0f) break;
      buffer[at++] = (high << 4) | low;
    }
    while (at < this.pos + length) buffer[at++] = 0;
    this.pos = at;
  }

  /** Opens a length-delimited field; returns where its length goes (for `close`). */
  open(field: number): number {
    this.tag(field, WIRE_BYTES);
    this.reserve(LENGTH_WIDTH);
    const at = this.pos;
    this.pos += LENGTH_WIDTH;
    return at;
  }

  close(at: number): void {
    const length = this.pos - at - LENGTH_WIDTH;
    if (length > MAX_LENGTH) throw new RangeError("an OTLP message part is over 256 MiB");
    this.buffer[at] = (length & 0x7f) | 0x80;
    this.buffer[at + 1] = ((length >>> 7) & 0x7f) | 0x80;
    this.buffer[at + 2] = ((length >>> 14) & 0x7f) | 0x80;
    this.buffer[at + 3] = (length >>> 21) & 0x7f;
  }
}

/** Attribute names come from a short list: each one's encoded `key` field is kept (bounded, whatever a caller sets). */
const encodedKeys = new Map<string, Buffer>();
const MAX_ENCODED_KEYS = 256;

function encodedKey(key: string): Buffer {
  let bytes = encodedKeys.get(key);
  if (bytes === undefined) {
    const text = Buffer.from(key, "utf8");
    const scratch = new Writer(16);
    scratch.tag(1, WIRE_BYTES);
    scratch.varint(text.length);
    bytes = Buffer.concat([scratch.buffer.subarray(0, scratch.pos), text]);
    if (encodedKeys.size < MAX_ENCODED_KEYS) encodedKeys.set(key, bytes);
  }
  return bytes;
}

/**
 * The encoded `KeyValue` entries of span attributes whose value is a short string, by key and value: the gateway's
 * span attributes nearly all repeat from request to request (the method, the tool, its server and canonical name,
 * the protocol version, the outcome), and copying an entry costs a fraction of encoding it. Bounded: once full, new
 * pairs are encoded as they come (names come partly from clients).
 */
const encodedEntries = new Map<string, Map<string, Uint8Array>>();
let encodedEntryCount = 0;
const MAX_ENCODED_ENTRIES = 4096;
/** Longer values are not kept (a kept entry is copied in one piece; a long value would mostly be a one-off). */
const MAX_KEPT_VALUE_LENGTH = 128;

/** A string attribute's whole `KeyValue` entry as span field 9, kept when there is room. */
function spanStringEntry(key: string, value: string): Uint8Array | undefined {
  let byValue = encodedEntries.get(key);
  const kept = byValue?.get(value);
  if (kept !== undefined || encodedEntryCount >= MAX_ENCODED_ENTRIES) return kept;
  const scratch = new Writer(64);
  writeStringEntry(scratch, SPAN_ATTRIBUTES, key, value);
  const entry = scratch.buffer.subarray(0, scratch.pos);
  if (byValue === undefined) encodedEntries.set(key, (byValue = new Map()));
  byValue.set(value, entry);
  encodedEntryCount++;
  return entry;
}

/** Span.attributes' field number. */
const SPAN_ATTRIBUTES = 9;

function writeStringEntry(writer: Writer, field: number, key: string, value: string): void {
  const entry = writer.open(field);
  writer.raw(encodedKey(key));
  const any = writer.open(2);
  writer.string(1, value);
  writer.close(any);
  writer.close(entry);
}

/**
 * `KeyValue` entries as repeated `field`, the `index`-th of `keys` with the `index`-th of `values` (strings, booleans,
 * integers, doubles; others skipped).
 */
function writeAttributes(writer: Writer, field: number, keys: readonly string[], values: readonly unknown[]): void {
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index]!;
    const value = values[index];
    if (value === undefined || value === null) continue;
    const type = typeof value;
    if (type === "string") {
      const kept = field === SPAN_ATTRIBUTES && (value as string).length <= MAX_KEPT_VALUE_LENGTH ? spanStringEntry(key, value as string) : undefined;
      if (kept !== undefined) writer.raw(kept);
      else writeStringEntry(writer, field, key, value as string);
      continue;
    }
    if (type !== "boolean" && type !== "number") continue;
    const entry = writer.open(field);
    writer.raw(encodedKey(key));
    const any = writer.open(2);
    if (type === "boolean") {
      writer.tag(2, WIRE_VARINT);
      writer.varint(value ? 1 : 0);
    } else if (Number.isInteger(value) && Number.isSafeInteger(value)) {
      writer.tag(3, WIRE_VARINT);
      writer.int64(value as number);
    } else {
      writer.tag(4, WIRE_FIXED64);
      writer.double(value as number);
    }
    writer.close(any);
    writer.close(entry);
  }
}

/** W3C flags of a span as OTLP's `flags` field: the trace flags, with "has remote parent" bits when known. */
function spanFlags(traceFlags: number, parentIsRemote: boolean | undefined): number {
  // OTLP SpanFlags: bits 0-7 the W3C trace flags; 0x100 "context has is_remote", 0x200 "is remote".
  let flags = (traceFlags & 0xff) | 0x100;
  if (parentIsRemote) flags |= 0x200;
  return flags;
}

function writeSpan(writer: Writer, span: RecordedSpan): void {
  const at = writer.open(2);
  const context = span.spanContext();
  writer.hexBytes(1, context.traceId);
  writer.hexBytes(2, context.spanId);
  const traceState = context.traceState?.serialize();
  if (traceState) writer.string(3, traceState);
  const parent = span.parentSpanContext;
  if (parent?.spanId) writer.hexBytes(4, parent.spanId);
  writer.string(5, span.name);
  // OTLP's SpanKind is the API's plus one (0 is "unspecified").
  writer.tag(6, WIRE_VARINT);
  writer.varint(span.kind + 1);
  writer.tag(7, WIRE_FIXED64);
  writer.hrTime(span.startTime);
  writer.tag(8, WIRE_FIXED64);
  writer.hrTime(span.endTime);
  writeAttributes(writer, SPAN_ATTRIBUTES, span.attributeKeys, span.attributeValues);
  if (span.droppedAttributesCount > 0) {
    writer.tag(10, WIRE_VARINT);
    writer.varint(span.droppedAttributesCount);
  }
  const status = writer.open(15);
  if (span.status.message) writer.string(2, span.status.message);
  if (span.status.code !== 0) {
    writer.tag(3, WIRE_VARINT);
    writer.varint(span.status.code);
  }
  writer.close(status);
  writer.tag(16, WIRE_FIXED32);
  writer.fixed32(spanFlags(context.traceFlags, parent?.isRemote));
  writer.close(at);
}

/** The resource and scope header of one `ResourceSpans` group, up to its spans; returns the open lengths. */
function openGroup(writer: Writer, resource: ReadableSpan["resource"], scope: ReadableSpan["instrumentationScope"]): [number, number] {
  const resourceSpans = writer.open(1);
  const resourceAt = writer.open(1);
  const attributes = resource.attributes;
  const keys = Object.keys(attributes);
  writeAttributes(writer, 1, keys, keys.map((key) => attributes[key]));
  writer.close(resourceAt);
  const scopeSpans = writer.open(2);
  const scopeAt = writer.open(1);
  writer.string(1, scope.name);
  if (scope.version) writer.string(2, scope.version);
  writer.close(scopeAt);
  return [resourceSpans, scopeSpans];
}

function closeGroup(writer: Writer, resource: ReadableSpan["resource"], scope: ReadableSpan["instrumentationScope"], [resourceSpans, scopeSpans]: [number, number]): void {
  if (scope.schemaUrl) writer.string(3, scope.schemaUrl);
  writer.close(scopeSpans);
  if (resource.schemaUrl) writer.string(3, resource.schemaUrl);
  writer.close(resourceSpans);
}

/**
 * The export request being filled by one tracer, whose spans share a resource and a scope: each span is encoded as it
 * ends and nothing of it stays alive (holding ended spans until the batch leaves made them survive the young
 * generation: the garbage collector's work, not the encoding, was most of a traced request's cost). `take` hands the
 * request over and starts the next.
 */
export class SpanBatch {
  private writer = new Writer();
  private open: [number, number] | undefined;
  private count = 0;

  constructor(
    private readonly resource: ReadableSpan["resource"],
    private readonly scope: ReadableSpan["instrumentationScope"],
  ) {}

  /** Spans in the request being filled. */
  get size(): number {
    return this.count;
  }

  /** Bytes of the request being filled. */
  get byteLength(): number {
    return this.writer.pos;
  }

  add(span: RecordedSpan): void {
    this.open ??= openGroup(this.writer, this.resource, this.scope);
    writeSpan(this.writer, span);
    this.count++;
  }

  /** The request with every span added since the last `take` (undefined when there is none), and a fresh batch. */
  take(): { readonly bytes: Uint8Array; readonly count: number } | undefined {
    if (this.open === undefined) return undefined;
    closeGroup(this.writer, this.resource, this.scope, this.open);
    const taken = { bytes: this.writer.buffer.subarray(0, this.writer.pos), count: this.count };
    // The next request starts a quarter larger than this one ended: growing a buffer copies it (a batch is a few
    // hundred KiB), and batches of the same span count differ by a few bytes, so one started exactly as large grew
    // (doubled and copied) at the end of about every other batch.
    const next = this.writer.pos + (this.writer.pos >>> 2);
    this.writer = new Writer(Math.min(Math.max(16 * 1024, next), MAX_INITIAL_BATCH_BYTES));
    this.open = undefined;
    this.count = 0;
    return taken;
  }
}
