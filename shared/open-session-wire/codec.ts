/**
 * Binary protobuf encoding of `OpenSessionRequest` and `OpenSessionResponse` (proto/deploystack/gateway/v1/
 * mcp_service.proto and mcp.proto), written out for the hot path: the frames are flat (a oneof of small messages
 * holding a uint64, a bytes and a bool), so a direct encoder is a few writes where the reflective one walks
 * descriptors. Decoding follows the protobuf rules: unknown fields are skipped, a repeated scalar keeps its last
 * value, a oneof keeps the last case (a submessage repeated on the wire, which no encoder emits for these, is
 * replaced rather than merged). The tests check every frame against protobuf-es in both directions, so the two
 * stay interchangeable.
 */
import { sliceOfPieces } from "../byte-pieces.js";
import { splicedLayout, type JsonPayload } from "./payload.js";

/**
 * The W3C trace context a `ClientMessage` carries beside its JSON (`traceparent`, `tracestate`): the HTTP request's
 * that carried the message (its `traceparent` header), which the daemon's span of a request joins when the request's
 * own `_meta` has none. Its shape is a trace carrier's, so the daemon hands it to the tracer as it is.
 */
export type MessageTraceContext = { readonly traceparent: string; readonly tracestate?: string };

/**
 * `OpenSessionRequest`, as the fast paths see it. `transport` is the `SessionTransport` enum's number; `trace` is
 * present only when the message carries a `traceparent`.
 */
export type OpenSessionRequestFrame<Json = Uint8Array> =
  | { readonly kind: "start"; readonly sessionId: string; readonly transport: number; readonly profile?: string; readonly stateless?: boolean }
  | { readonly kind: "message"; readonly exchangeId: bigint; readonly json: Json; readonly trace?: MessageTraceContext }
  | { readonly kind: "empty" };

/** `OpenSessionResponse`, as the fast paths see it (decoded JSON is bytes; to encode, a string will do). */
export type OpenSessionResponseFrame<Json = Uint8Array> =
  | { readonly kind: "message"; readonly exchangeId: bigint; readonly json: Json; readonly exchangeComplete: boolean }
  | { readonly kind: "initialized"; readonly protocolVersion: string }
  | { readonly kind: "ended"; readonly reason: string }
  | { readonly kind: "empty" };

/** The HTTP path of `McpService.OpenSession` (the tests check it against the generated service). */
export const OPEN_SESSION_PATH = "/deploystack.gateway.v1.McpService/OpenSession";

/**
 * The `SessionTransport` enum's numbers, so that the frontend needs none of the generated code (loading
 * protobuf-es costs its start-up about a tenth of a second); the tests check them against the generated enum.
 */
export const SESSION_TRANSPORT = { unspecified: 0, streamableHttp: 1, sse: 2, stdio: 3 } as const;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH = 2;
const WIRE_FIXED32 = 5;

/**
 * The field numbers this codec writes and reads, by message and field name as in the .proto files
 * (proto/deploystack/gateway/v1/mcp_service.proto and mcp.proto). codec.test.ts checks every one against the
 * generated descriptors, and that no message has a field missing here, so a proto change that renumbers or adds a
 * field breaks a test instead of the wire. All are below 16: every tag is one byte (`lengthField` relies on it).
 */
export const OPEN_SESSION_FIELDS = {
  OpenSessionRequest: { start: 1, message: 2 },
  SessionStart: { sessionId: 1, transport: 2, profile: 3, stateless: 4 },
  ClientMessage: { exchangeId: 1, json: 2, traceparent: 4, tracestate: 5 },
  OpenSessionResponse: { message: 1, initialized: 2, ended: 3 },
  ServerMessage: { exchangeId: 1, json: 2, exchangeComplete: 3 },
  SessionInitialized: { protocolVersion: 1 },
  SessionEnded: { reason: 1 },
} as const;

const F = OPEN_SESSION_FIELDS;
const fieldTag = (field: number, wireType: number): number => (field << 3) | wireType;

// ClientMessage and ServerMessage are read and written by the same functions: their shared fields agree (tested).
const TAG_EXCHANGE_ID = fieldTag(F.ServerMessage.exchangeId, WIRE_VARINT);
const TAG_JSON = fieldTag(F.ServerMessage.json, WIRE_LENGTH);
const TAG_EXCHANGE_COMPLETE = fieldTag(F.ServerMessage.exchangeComplete, WIRE_VARINT);
const TAG_TRACEPARENT = fieldTag(F.ClientMessage.traceparent, WIRE_LENGTH);
const TAG_TRACESTATE = fieldTag(F.ClientMessage.tracestate, WIRE_LENGTH);
// SessionInitialized and SessionEnded are one string field each, at the same number (tested).
const TAG_ONLY_STRING = fieldTag(F.SessionInitialized.protocolVersion, WIRE_LENGTH);
const TAG_SESSION_ID = fieldTag(F.SessionStart.sessionId, WIRE_LENGTH);
const TAG_TRANSPORT = fieldTag(F.SessionStart.transport, WIRE_VARINT);
const TAG_PROFILE = fieldTag(F.SessionStart.profile, WIRE_LENGTH);
const TAG_STATELESS = fieldTag(F.SessionStart.stateless, WIRE_VARINT);
const TAG_REQUEST_START = fieldTag(F.OpenSessionRequest.start, WIRE_LENGTH);
const TAG_REQUEST_MESSAGE = fieldTag(F.OpenSessionRequest.message, WIRE_LENGTH);
const TAG_RESPONSE_MESSAGE = fieldTag(F.OpenSessionResponse.message, WIRE_LENGTH);
const TAG_RESPONSE_INITIALIZED = fieldTag(F.OpenSessionResponse.initialized, WIRE_LENGTH);
const TAG_RESPONSE_ENDED = fieldTag(F.OpenSessionResponse.ended, WIRE_LENGTH);

const textEncoder = new TextEncoder();

// ---- encoding ---------------------------------------------------------------------------------------------------

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

function bigVarintSize(value: bigint): number {
  let size = 1;
  while (value >= 0x80n) {
    value >>= 7n;
    size++;
  }
  return size;
}

/**
 * Writes one message into a buffer of its exact size; with `envelope`, the 5-byte Connect envelope header (flags 0,
 * the length) goes in front, so a frame leaves as one buffer and its payload is copied once.
 */
class Writer {
  readonly bytes: Buffer;
  offset = 0;

  /** `size` is the message's; `capacity`, when given, what to allocate instead (the first part of a longer message). */
  constructor(size: number, envelope: boolean, capacity = size) {
    this.bytes = Buffer.allocUnsafe(envelope ? capacity + 5 : capacity);
    if (envelope) {
      this.bytes[0] = 0;
      this.bytes.writeUInt32BE(size, 1);
      this.offset = 5;
    }
  }

  varint(value: number): void {
    while (value >= 0x80) {
      this.bytes[this.offset++] = (value & 0x7f) | 0x80;
      value = Math.floor(value / 128);
    }
    this.bytes[this.offset++] = value;
  }

  bigVarint(value: bigint): void {
    while (value >= 0x80n) {
      this.bytes[this.offset++] = Number(value & 0x7fn) | 0x80;
      value >>= 7n;
    }
    this.bytes[this.offset++] = Number(value);
  }

  raw(data: Uint8Array): void {
    this.bytes.set(data, this.offset);
    this.offset += data.length;
  }

  /** UTF-8 of `text`, whose encoded length the caller measured. */
  text(text: string, byteLength: number): void {
    this.offset += this.bytes.write(text, this.offset, byteLength, "utf8");
  }
}

/** A length-delimited field's size on the wire (tag of one byte: field numbers here are all below 16). */
const lengthField = (length: number): number => 1 + varintSize(length) + length;

/** JSON as bytes, or as a string (the daemon's frames hold strings: encoded straight in). */
type FlatJson = Uint8Array | string;

const payloadLength = (json: FlatJson): number => (typeof json === "string" ? Buffer.byteLength(json, "utf8") : json.length);

function messageSize(exchangeId: bigint, jsonLength: number, exchangeComplete: boolean | undefined): number {
  return (exchangeId !== 0n ? 1 + bigVarintSize(exchangeId) : 0) + (jsonLength > 0 ? lengthField(jsonLength) : 0) + (exchangeComplete ? 2 : 0);
}

/** A message's fields before its JSON's bytes: the exchange id, then the JSON field's tag and length. */
function writeMessageHead(writer: Writer, exchangeId: bigint, jsonLength: number): void {
  if (exchangeId !== 0n) {
    writer.varint(TAG_EXCHANGE_ID);
    writer.bigVarint(exchangeId);
  }
  if (jsonLength > 0) {
    writer.varint(TAG_JSON);
    writer.varint(jsonLength);
  }
}

/** A message's field after its JSON: `exchange_complete`. */
function writeMessageTail(writer: Writer, exchangeComplete: boolean | undefined): void {
  if (exchangeComplete) {
    writer.varint(TAG_EXCHANGE_COMPLETE);
    writer.varint(1);
  }
}

function writeMessage(writer: Writer, exchangeId: bigint, json: FlatJson, jsonLength: number, exchangeComplete: boolean | undefined): void {
  writeMessageHead(writer, exchangeId, jsonLength);
  if (jsonLength > 0) {
    if (typeof json === "string") writer.text(json, jsonLength);
    else writer.raw(json);
  }
  writeMessageTail(writer, exchangeComplete);
}

/** A string field, left out when empty (proto3). */
function writeTextField(writer: Writer, tag: number, text: string): void {
  if (text.length === 0) return;
  const length = Buffer.byteLength(text);
  writer.varint(tag);
  writer.varint(length);
  writer.text(text, length);
}

/** Encodes a oneof case (its tag given) holding one string field — SessionInitialized, SessionEnded. */
function encodeStringCase(caseTag: number, text: string, envelope: boolean): Buffer {
  const bytes = textEncoder.encode(text);
  const inner = bytes.length > 0 ? lengthField(bytes.length) : 0;
  const writer = new Writer(lengthField(inner), envelope);
  writer.varint(caseTag);
  writer.varint(inner);
  if (bytes.length > 0) {
    writer.varint(TAG_ONLY_STRING);
    writer.varint(bytes.length);
    writer.raw(bytes);
  }
  return writer.bytes;
}

/** `OpenSessionRequest` to bytes; with `envelope`, as a whole Connect envelope. */
export function encodeOpenSessionRequest(frame: OpenSessionRequestFrame<FlatJson>, envelope = false): Buffer {
  switch (frame.kind) {
    case "empty":
      return new Writer(0, envelope).bytes;
    case "start": {
      const id = textEncoder.encode(frame.sessionId);
      const profile = textEncoder.encode(frame.profile ?? "");
      const inner =
        (id.length > 0 ? lengthField(id.length) : 0) +
        (frame.transport !== 0 ? 1 + varintSize(frame.transport) : 0) +
        (profile.length > 0 ? lengthField(profile.length) : 0) +
        (frame.stateless ? 2 : 0);
      const writer = new Writer(lengthField(inner), envelope);
      writer.varint(TAG_REQUEST_START);
      writer.varint(inner);
      if (id.length > 0) {
        writer.varint(TAG_SESSION_ID);
        writer.varint(id.length);
        writer.raw(id);
      }
      if (frame.transport !== 0) {
        writer.varint(TAG_TRANSPORT);
        writer.varint(frame.transport);
      }
      if (profile.length > 0) {
        writer.varint(TAG_PROFILE);
        writer.varint(profile.length);
        writer.raw(profile);
      }
      if (frame.stateless) {
        writer.varint(TAG_STATELESS);
        writer.varint(1);
      }
      return writer.bytes;
    }
    case "message": {
      const jsonLength = payloadLength(frame.json);
      const traceparent = frame.trace?.traceparent ?? "";
      const tracestate = frame.trace?.tracestate ?? "";
      const inner =
        messageSize(frame.exchangeId, jsonLength, undefined) +
        (traceparent.length > 0 ? lengthField(Buffer.byteLength(traceparent)) : 0) +
        (tracestate.length > 0 ? lengthField(Buffer.byteLength(tracestate)) : 0);
      const writer = new Writer(lengthField(inner), envelope);
      writer.varint(TAG_REQUEST_MESSAGE);
      writer.varint(inner);
      writeMessage(writer, frame.exchangeId, frame.json, jsonLength, undefined);
      writeTextField(writer, TAG_TRACEPARENT, traceparent);
      writeTextField(writer, TAG_TRACESTATE, tracestate);
      return writer.bytes;
    }
  }
}

/** `OpenSessionResponse` to bytes; with `envelope`, as a whole Connect envelope. */
export function encodeOpenSessionResponse(frame: OpenSessionResponseFrame<JsonPayload>, envelope = false): Buffer {
  switch (frame.kind) {
    case "empty":
      return new Writer(0, envelope).bytes;
    case "message": {
      if (splicedLayout(frame.json) !== undefined) return Buffer.concat(encodeOpenSessionResponseParts(frame, envelope));
      const json = frame.json as FlatJson;
      const jsonLength = payloadLength(json);
      const inner = messageSize(frame.exchangeId, jsonLength, frame.exchangeComplete);
      const writer = new Writer(lengthField(inner), envelope);
      writer.varint(TAG_RESPONSE_MESSAGE);
      writer.varint(inner);
      writeMessage(writer, frame.exchangeId, json, jsonLength, frame.exchangeComplete);
      return writer.bytes;
    }
    case "initialized":
      return encodeStringCase(TAG_RESPONSE_INITIALIZED, frame.protocolVersion, envelope);
    case "ended":
      return encodeStringCase(TAG_RESPONSE_ENDED, frame.reason, envelope);
  }
}

/**
 * `OpenSessionResponse` as a list of byte arrays to write in order. A message holding `SplicedJson` (payload.ts) leaves as three
 * parts or more — what comes before the bulk, the bulk's own pieces, what follows — so the bulk is never copied;
 * every other frame is one part.
 */
export function encodeOpenSessionResponseParts(frame: OpenSessionResponseFrame<JsonPayload>, envelope = false): Uint8Array[] {
  const layout = frame.kind === "message" ? splicedLayout(frame.json) : undefined;
  if (frame.kind !== "message" || layout === undefined) return [encodeOpenSessionResponse(frame, envelope)];
  const { head, body, bodyLength, tail } = layout;
  const headLength = Buffer.byteLength(head, "utf8");
  const tailLength = Buffer.byteLength(tail, "utf8");
  const jsonLength = headLength + bodyLength + tailLength;
  const inner = messageSize(frame.exchangeId, jsonLength, frame.exchangeComplete);
  // The prefix: envelope header, the oneof's tag and length, the exchange id, the json field's tag and length, head.
  const prefix = new Writer(lengthField(inner), envelope, headLength + 32);
  prefix.varint(TAG_RESPONSE_MESSAGE);
  prefix.varint(inner);
  writeMessageHead(prefix, frame.exchangeId, jsonLength);
  prefix.text(head, headLength);
  const suffix = new Writer(0, false, tailLength + (frame.exchangeComplete ? 2 : 0));
  suffix.text(tail, tailLength);
  writeMessageTail(suffix, frame.exchangeComplete);
  return [prefix.bytes.subarray(0, prefix.offset), ...body, suffix.bytes];
}

// ---- decoding ---------------------------------------------------------------------------------------------------

/** Thrown for bytes that are not a valid encoding; the fast paths answer `invalid_argument` / `internal`. */
export class WireFormatError extends Error {}

class Reader {
  offset: number;

  constructor(
    readonly bytes: Uint8Array,
    start = 0,
    readonly end = bytes.length,
  ) {
    this.offset = start;
  }

  get done(): boolean {
    return this.offset >= this.end;
  }

  /** A varint as a number (exact below 2^53; larger values only matter for uint64, read with `bigVarint`). */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.offset >= this.end) throw new WireFormatError("truncated varint");
      const byte = this.bytes[this.offset++]!;
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 128;
    }
    throw new WireFormatError("varint longer than 10 bytes");
  }

  bigVarint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.offset >= this.end) throw new WireFormatError("truncated varint");
      const byte = this.bytes[this.offset++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return BigInt.asUintN(64, result);
      shift += 7n;
    }
    throw new WireFormatError("varint longer than 10 bytes");
  }

  /** The bounds of a length-delimited field's contents; advances past them. */
  lengthDelimited(): [number, number] {
    const length = this.varint();
    const start = this.offset;
    if (start + length > this.end) throw new WireFormatError("truncated length-delimited field");
    this.offset = start + length;
    return [start, start + length];
  }

  skip(wireType: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_FIXED64:
        this.advance(8);
        return;
      case WIRE_LENGTH:
        this.lengthDelimited();
        return;
      case WIRE_FIXED32:
        this.advance(4);
        return;
      default:
        throw new WireFormatError(`unsupported wire type ${wireType}`);
    }
  }

  private advance(count: number): void {
    if (this.offset + count > this.end) throw new WireFormatError("truncated fixed-width field");
    this.offset += count;
  }
}

const textDecoder = new TextDecoder("utf-8", { fatal: true });

function readString(reader: Reader): string {
  const [start, end] = reader.lengthDelimited();
  try {
    return textDecoder.decode(reader.bytes.subarray(start, end));
  } catch {
    throw new WireFormatError("a string field is not valid UTF-8");
  }
}

/** Reads the one-string-field messages (SessionInitialized, SessionEnded). */
function readStringMessage(bytes: Uint8Array, start: number, end: number): string {
  const reader = new Reader(bytes, start, end);
  let text = "";
  while (!reader.done) {
    const tag = reader.varint();
    if (tag === TAG_ONLY_STRING) text = readString(reader);
    else reader.skip(tag & 7);
  }
  return text;
}

/**
 * Reads ClientMessage / ServerMessage: field 3 exists only in the latter, fields 4 and 5 only in the former (the
 * .proto reserves the other's numbers in each).
 */
function readMessage(
  bytes: Uint8Array,
  start: number,
  end: number,
): { exchangeId: bigint; json: Uint8Array; exchangeComplete: boolean; traceparent: string; tracestate: string } {
  const reader = new Reader(bytes, start, end);
  let exchangeId = 0n;
  let json: Uint8Array = new Uint8Array(0);
  let exchangeComplete = false;
  let traceparent = "";
  let tracestate = "";
  while (!reader.done) {
    const tag = reader.varint();
    if (tag === TAG_EXCHANGE_ID) exchangeId = reader.bigVarint();
    else if (tag === TAG_JSON) {
      const [s, e] = reader.lengthDelimited();
      json = bytes.subarray(s, e);
    } else if (tag === TAG_EXCHANGE_COMPLETE) exchangeComplete = reader.varint() !== 0;
    else if (tag === TAG_TRACEPARENT) traceparent = readString(reader);
    else if (tag === TAG_TRACESTATE) tracestate = readString(reader);
    else reader.skip(tag & 7);
  }
  return { exchangeId, json, exchangeComplete, traceparent, tracestate };
}

/** A `message` request frame; `trace` is left out rather than set to undefined when there is none. */
export function messageFrame<Json>(exchangeId: bigint, json: Json, trace: MessageTraceContext | undefined): OpenSessionRequestFrame<Json> {
  return trace === undefined ? { kind: "message", exchangeId, json } : { kind: "message", exchangeId, json, trace };
}

/** A message's trace context as the frame holds it: only with a `traceparent`, `tracestate` only when set. */
export function messageTraceContext(traceparent: string, tracestate: string): MessageTraceContext | undefined {
  if (traceparent === "") return undefined;
  return tracestate === "" ? { traceparent } : { traceparent, tracestate };
}

/**
 * A start frame's fields; `profile` only when set (empty means the default profile, as in proto3), `stateless` only
 * when true.
 */
function readStart(bytes: Uint8Array, start: number, end: number): { sessionId: string; transport: number; profile?: string; stateless?: boolean } {
  const reader = new Reader(bytes, start, end);
  let sessionId = "";
  let transport = 0;
  let profile = "";
  let stateless = false;
  while (!reader.done) {
    const tag = reader.varint();
    if (tag === TAG_SESSION_ID) sessionId = readString(reader);
    else if (tag === TAG_TRANSPORT) transport = reader.varint();
    else if (tag === TAG_PROFILE) profile = readString(reader);
    else if (tag === TAG_STATELESS) stateless = reader.varint() !== 0;
    else reader.skip(tag & 7);
  }
  return { sessionId, transport, ...(profile !== "" ? { profile } : {}), ...(stateless ? { stateless } : {}) };
}

/** Bytes to `OpenSessionRequest`. */
export function decodeOpenSessionRequest(bytes: Uint8Array): OpenSessionRequestFrame {
  const reader = new Reader(bytes);
  let frame: OpenSessionRequestFrame = { kind: "empty" };
  while (!reader.done) {
    const tag = reader.varint();
    if (tag === TAG_REQUEST_START) {
      const [s, e] = reader.lengthDelimited();
      frame = { kind: "start", ...readStart(bytes, s, e) };
    } else if (tag === TAG_REQUEST_MESSAGE) {
      const [s, e] = reader.lengthDelimited();
      const { exchangeId, json, traceparent, tracestate } = readMessage(bytes, s, e);
      frame = messageFrame(exchangeId, json, messageTraceContext(traceparent, tracestate));
    } else reader.skip(tag & 7);
  }
  return frame;
}

/** Bytes to `OpenSessionResponse`. */
export function decodeOpenSessionResponse(bytes: Uint8Array): OpenSessionResponseFrame {
  const reader = new Reader(bytes);
  let frame: OpenSessionResponseFrame = { kind: "empty" };
  while (!reader.done) {
    const tag = reader.varint();
    if (tag === TAG_RESPONSE_MESSAGE) {
      const [s, e] = reader.lengthDelimited();
      const { exchangeId, json, exchangeComplete } = readMessage(bytes, s, e);
      frame = { kind: "message", exchangeId, json, exchangeComplete };
    } else if (tag === TAG_RESPONSE_INITIALIZED) {
      const [s, e] = reader.lengthDelimited();
      frame = { kind: "initialized", protocolVersion: readStringMessage(bytes, s, e) };
    } else if (tag === TAG_RESPONSE_ENDED) {
      const [s, e] = reader.lengthDelimited();
      frame = { kind: "ended", reason: readStringMessage(bytes, s, e) };
    } else reader.skip(tag & 7);
  }
  return frame;
}

/** How many leading bytes of a pieced frame are read for its fields before the JSON. */
const PIECED_HEAD_BYTES = 32;
/** The most bytes after the JSON that a pieced frame may hold (its `exchange_complete` takes 2). */
const PIECED_TAIL_BYTES = 64;

/**
 * `OpenSessionResponse` from the pieces it arrived in (`EnvelopeReader`'s `onPieces`), leaving a message's JSON as
 * slices of them: a large answer then reaches the client without being joined. Frames laid out as encoders write
 * them (the oneof alone; the exchange id, the JSON, then `exchange_complete`) decode this way; any other layout is
 * joined and decoded as usual, with the same result and the same errors.
 */
export function decodeOpenSessionResponsePieces(pieces: readonly Buffer[], length: number): OpenSessionResponseFrame<Uint8Array | Buffer[]> {
  try {
    const head = Buffer.concat(sliceOfPieces(pieces, 0, Math.min(length, PIECED_HEAD_BYTES)));
    const reader = new Reader(head);
    if (reader.varint() !== TAG_RESPONSE_MESSAGE) throw new WireFormatError("not a message frame");
    const inner = reader.varint();
    if (reader.offset + inner !== length) throw new WireFormatError("not the only field");
    let exchangeId = 0n;
    let tag = reader.varint();
    if (tag === TAG_EXCHANGE_ID) {
      exchangeId = reader.bigVarint();
      tag = reader.varint();
    }
    if (tag !== TAG_JSON) throw new WireFormatError("no JSON next");
    const jsonLength = reader.varint();
    const jsonStart = reader.offset;
    const jsonEnd = jsonStart + jsonLength;
    if (jsonEnd > length || length - jsonEnd > PIECED_TAIL_BYTES) throw new WireFormatError("not laid out as expected");
    const tail = new Reader(Buffer.concat(sliceOfPieces(pieces, jsonEnd, length)));
    let exchangeComplete = false;
    while (!tail.done) {
      const next = tail.varint();
      if (next === TAG_EXCHANGE_ID) exchangeId = tail.bigVarint();
      else if (next === TAG_EXCHANGE_COMPLETE) exchangeComplete = tail.varint() !== 0;
      else if (next === TAG_JSON) throw new WireFormatError("a second JSON field");
      else tail.skip(next & 7);
    }
    return { kind: "message", exchangeId, json: sliceOfPieces(pieces, jsonStart, jsonEnd), exchangeComplete };
  } catch (error) {
    if (!(error instanceof WireFormatError)) throw error;
    return decodeOpenSessionResponse(Buffer.concat(pieces, length));
  }
}
