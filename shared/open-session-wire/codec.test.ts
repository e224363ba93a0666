import test from "ava";
import { ScalarType, create, fromBinary, toBinary, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { McpService, OpenSessionRequestSchema, OpenSessionResponseSchema } from "../../gen/deploystack/gateway/v1/mcp_service_pb.js";
import {
  ClientMessageSchema,
  ServerMessageSchema,
  SessionEndedSchema,
  SessionInitializedSchema,
  SessionStartSchema,
  SessionTransport,
} from "../../gen/deploystack/gateway/v1/mcp_pb.js";
import {
  OPEN_SESSION_FIELDS,
  OPEN_SESSION_PATH,
  SESSION_TRANSPORT,
  decodeOpenSessionRequest,
  decodeOpenSessionResponse,
  decodeOpenSessionResponsePieces,
  encodeOpenSessionRequest,
  encodeOpenSessionResponse,
  encodeOpenSessionResponseParts,
  WireFormatError,
  type OpenSessionRequestFrame,
  type OpenSessionResponseFrame,
} from "./codec.js";
import { jsonPayloadByteLength, jsonPayloadBytes, jsonPayloadText, spliceJson } from "./payload.js";
import { EnvelopeReader, encodeEndStream, encodeEnvelope, parseEndStream, FLAG_END_STREAM } from "./envelope.js";

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const big = utf8(`{"jsonrpc":"2.0","id":1,"result":{"text":"${"é".repeat(70_000)}"}}`);

const requests: { frame: OpenSessionRequestFrame; init: Parameters<typeof create<typeof OpenSessionRequestSchema>>[1] }[] = [
  { frame: { kind: "start", sessionId: "abc-123", transport: SessionTransport.STREAMABLE_HTTP }, init: { frame: { case: "start", value: { sessionId: "abc-123", transport: SessionTransport.STREAMABLE_HTTP } } } },
  { frame: { kind: "start", sessionId: "", transport: 0 }, init: { frame: { case: "start", value: {} } } },
  { frame: { kind: "start", sessionId: "s", transport: SessionTransport.SSE, profile: "frontend-é" }, init: { frame: { case: "start", value: { sessionId: "s", transport: SessionTransport.SSE, profile: "frontend-é" } } } },
  { frame: { kind: "start", sessionId: "pool-1", transport: SessionTransport.STREAMABLE_HTTP, profile: "p", stateless: true }, init: { frame: { case: "start", value: { sessionId: "pool-1", transport: SessionTransport.STREAMABLE_HTTP, profile: "p", stateless: true } } } },
  { frame: { kind: "message", exchangeId: 0n, json: utf8('{"jsonrpc":"2.0","method":"x"}') }, init: { frame: { case: "message", value: { exchangeId: 0n, json: utf8('{"jsonrpc":"2.0","method":"x"}') } } } },
  { frame: { kind: "message", exchangeId: 300n, json: big }, init: { frame: { case: "message", value: { exchangeId: 300n, json: big } } } },
  { frame: { kind: "message", exchangeId: 2n ** 64n - 1n, json: new Uint8Array(0) }, init: { frame: { case: "message", value: { exchangeId: 2n ** 64n - 1n } } } },
  {
    frame: { kind: "message", exchangeId: 12n, json: utf8("{}"), trace: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" } },
    init: { frame: { case: "message", value: { exchangeId: 12n, json: utf8("{}"), traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" } } },
  },
  {
    frame: { kind: "message", exchangeId: 13n, json: utf8("[]"), trace: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-00", tracestate: "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7" } },
    init: {
      frame: {
        case: "message",
        value: { exchangeId: 13n, json: utf8("[]"), traceparent: "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-00", tracestate: "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7" },
      },
    },
  },
  { frame: { kind: "empty" }, init: {} },
];

const responses: { frame: OpenSessionResponseFrame; init: Parameters<typeof create<typeof OpenSessionResponseSchema>>[1] }[] = [
  { frame: { kind: "message", exchangeId: 7n, json: utf8('{"id":7}'), exchangeComplete: true }, init: { frame: { case: "message", value: { exchangeId: 7n, json: utf8('{"id":7}'), exchangeComplete: true } } } },
  { frame: { kind: "message", exchangeId: 0n, json: big, exchangeComplete: false }, init: { frame: { case: "message", value: { json: big } } } },
  { frame: { kind: "message", exchangeId: 9n, json: new Uint8Array(0), exchangeComplete: true }, init: { frame: { case: "message", value: { exchangeId: 9n, exchangeComplete: true } } } },
  { frame: { kind: "initialized", protocolVersion: "2025-11-25" }, init: { frame: { case: "initialized", value: { protocolVersion: "2025-11-25" } } } },
  { frame: { kind: "ended", reason: "the team was switched — bye" }, init: { frame: { case: "ended", value: { reason: "the team was switched — bye" } } } },
  { frame: { kind: "ended", reason: "" }, init: { frame: { case: "ended", value: {} } } },
];

test("the path and the transport numbers are the generated service's and enum's", (t) => {
  t.is(OPEN_SESSION_PATH, `/${McpService.typeName}/${McpService.method.openSession.name}`);
  t.deepEqual(SESSION_TRANSPORT, {
    unspecified: SessionTransport.UNSPECIFIED,
    streamableHttp: SessionTransport.STREAMABLE_HTTP,
    sse: SessionTransport.SSE,
    stdio: SessionTransport.STDIO,
  });
});

test("OpenSessionRequest: the written-out codec and protobuf-es produce and read the same bytes", (t) => {
  for (const { frame, init } of requests) {
    const reference = toBinary(OpenSessionRequestSchema, create(OpenSessionRequestSchema, init));
    t.deepEqual(new Uint8Array(encodeOpenSessionRequest(frame)), reference, frame.kind);
    t.deepEqual(decodeOpenSessionRequest(reference), frame);
    const back = fromBinary(OpenSessionRequestSchema, encodeOpenSessionRequest(frame));
    t.deepEqual(toBinary(OpenSessionRequestSchema, back), reference);
  }
});

test("OpenSessionResponse: the written-out codec and protobuf-es produce and read the same bytes", (t) => {
  for (const { frame, init } of responses) {
    const reference = toBinary(OpenSessionResponseSchema, create(OpenSessionResponseSchema, init));
    t.deepEqual(new Uint8Array(encodeOpenSessionResponse(frame)), reference, frame.kind);
    t.deepEqual(decodeOpenSessionResponse(reference), frame);
  }
});

test("whole envelopes and string payloads encode to the same bytes as envelope(bytes)", (t) => {
  const json = `{"text":"${"ü".repeat(300)}"}`;
  const response = { kind: "message", exchangeId: 3n, json, exchangeComplete: true } as const;
  t.deepEqual(encodeOpenSessionResponse(response, true), encodeEnvelope(0, encodeOpenSessionResponse({ ...response, json: utf8(json) })));
  const request = { kind: "message", exchangeId: 4n, json: utf8(json) } as const;
  t.deepEqual(encodeOpenSessionRequest(request, true), encodeEnvelope(0, encodeOpenSessionRequest(request)));
  t.deepEqual(encodeOpenSessionResponse({ kind: "ended", reason: "x" }, true), encodeEnvelope(0, encodeOpenSessionResponse({ kind: "ended", reason: "x" })));
});

test("decoding skips unknown fields of every wire type and rejects truncated or malformed input", (t) => {
  const known = encodeOpenSessionResponse({ kind: "initialized", protocolVersion: "v" });
  // field 9 varint, field 10 fixed64, field 11 length-delimited, field 12 fixed32, then the known field
  const unknown = Buffer.from([0x48, 0x96, 0x01, 0x51, 1, 2, 3, 4, 5, 6, 7, 8, 0x5a, 0x02, 0x61, 0x62, 0x65, 1, 2, 3, 4]);
  t.deepEqual(decodeOpenSessionResponse(Buffer.concat([unknown, known])), { kind: "initialized", protocolVersion: "v" });
  const message = encodeOpenSessionRequest({ kind: "message", exchangeId: 5n, json: utf8("{}") });
  t.throws(() => decodeOpenSessionRequest(message.subarray(0, message.length - 1)), { instanceOf: WireFormatError });
  t.throws(() => decodeOpenSessionRequest(Buffer.from([0x0a, 0x03, 0x0a, 0x01, 0xff])), { instanceOf: WireFormatError }, "invalid UTF-8 in a string");
  t.throws(() => decodeOpenSessionRequest(Buffer.from([0x0b])), { instanceOf: WireFormatError }, "group wire type");
  t.throws(() => decodeOpenSessionRequest(Buffer.from(Array(11).fill(0xff))), { instanceOf: WireFormatError });
});

test("envelopes are split correctly however the chunks fall, and oversized ones are refused", (t) => {
  const payloads = [Buffer.from("a"), Buffer.alloc(0), Buffer.alloc(70_000, 7), Buffer.from("end")];
  const wire = Buffer.concat([...payloads.slice(0, 3).map((p) => encodeEnvelope(0, p)), encodeEnvelope(FLAG_END_STREAM, payloads[3]!)]);
  for (const step of [1, 3, 5, 4096, wire.length]) {
    const reader = new EnvelopeReader(1 << 20);
    const seen: [number, string][] = [];
    for (let i = 0; i < wire.length; i += step) {
      reader.push(wire.subarray(i, i + step), (flags, payload) => seen.push([flags, payload.toString("hex")]));
    }
    t.deepEqual(seen, [...payloads.slice(0, 3).map((p) => [0, p.toString("hex")]), [FLAG_END_STREAM, payloads[3]!.toString("hex")]] as [number, string][]);
    t.false(reader.partial);
  }
  const small = new EnvelopeReader(10);
  t.throws(() => small.push(encodeEnvelope(0, Buffer.alloc(11)), () => undefined), { message: /exceeds the limit of 10/ });
  const cut = new EnvelopeReader(100);
  cut.push(encodeEnvelope(0, Buffer.from("abc")).subarray(0, 6), () => t.fail());
  t.true(cut.partial);
});

test("the end-of-stream message carries the error as connect-es reads it, and nothing on success", (t) => {
  const ok = encodeEndStream();
  t.is(ok[0], FLAG_END_STREAM);
  t.is(parseEndStream(ok.subarray(5)), undefined);
  const failed = encodeEndStream({ code: "invalid_argument", message: "the first OpenSession message must be a SessionStart" });
  t.deepEqual(JSON.parse(failed.subarray(5).toString()), { error: { code: "invalid_argument", message: "the first OpenSession message must be a SessionStart" } });
  t.deepEqual(parseEndStream(failed.subarray(5)), { code: "invalid_argument", message: "the first OpenSession message must be a SessionStart" });
  t.deepEqual(parseEndStream(Buffer.from("nope")), { code: "internal", message: "the end-of-stream message is not JSON" });
});

test("spliced JSON leaves in parts whose concatenation is the frame's single-buffer encoding", (t) => {
  const body = [Buffer.from('{"text":"'), Buffer.from("é".repeat(40_000)), Buffer.from('"}')];
  const head = '{"jsonrpc":"2.0","id":"ü-1","result":';
  const json = spliceJson(head, { pieces: body, byteLength: body.reduce((n, b) => n + b.length, 0) }, "}");
  const text = `${head}${Buffer.concat(body).toString()}}`;
  for (const exchangeComplete of [true, false]) {
    for (const exchangeId of [0n, 5n, 2n ** 64n - 1n]) {
      const frame = { kind: "message", exchangeId, json, exchangeComplete } as const;
      const parts = encodeOpenSessionResponseParts(frame, true);
      t.is(parts.length, body.length + 2);
      t.is(parts[1], body[0], "the bulk is not copied");
      const whole = encodeEnvelope(0, encodeOpenSessionResponse({ ...frame, json: utf8(text) }));
      t.deepEqual(Buffer.concat(parts), whole);
      t.deepEqual(encodeOpenSessionResponse(frame, true), whole);
      t.deepEqual(Buffer.from(jsonPayloadBytes(json)).toString(), text);
      t.is(jsonPayloadText(json), text);
      t.is(jsonPayloadByteLength(json), Buffer.byteLength(text));
    }
  }
  t.is(encodeOpenSessionResponseParts({ kind: "message", exchangeId: 1n, json: "{}", exchangeComplete: true }).length, 1);
  for (const flat of ["é{}", utf8("é{}")]) {
    t.is(jsonPayloadText(flat), "é{}");
    t.is(jsonPayloadByteLength(flat), 4);
  }
});

test("a large response decodes from its pieces into slices of them, the same frame as when joined", (t) => {
  const cases = [
    ...responses.map(({ init }) => toBinary(OpenSessionResponseSchema, create(OpenSessionResponseSchema, init))),
    // field order connect-es never writes: exchange_complete first, then the JSON, then the id again
    withOneofHeader(Buffer.concat([Buffer.from([0x18, 0x01, 0x12]), encodeVarint(big.length), big, Buffer.from([0x08, 0x07])])),
  ];
  for (const bytes of cases) {
    const expected = decodeOpenSessionResponse(bytes);
    for (const cut of [1, 7, 31, 33, 4096, bytes.length - 1]) {
      if (cut >= bytes.length) continue;
      const pieces = [Buffer.from(bytes.subarray(0, cut)), Buffer.from(bytes.subarray(cut))];
      const frame = decodeOpenSessionResponsePieces(pieces, bytes.length);
      const joined = frame.kind === "message" ? { ...frame, json: Array.isArray(frame.json) ? new Uint8Array(Buffer.concat(frame.json)) : frame.json } : frame;
      t.deepEqual(joined, expected, `cut at ${cut}`);
    }
  }
  const pieces = [Buffer.from(toBinary(OpenSessionResponseSchema, create(OpenSessionResponseSchema, responses[1]!.init)))];
  const frame = decodeOpenSessionResponsePieces(pieces, pieces[0]!.length);
  t.true(frame.kind === "message" && Array.isArray(frame.json) && frame.json[0]!.buffer === pieces[0]!.buffer, "the JSON is a view, not a copy");
  t.throws(() => decodeOpenSessionResponsePieces([pieces[0]!.subarray(0, 40)], 40), { instanceOf: WireFormatError }, "truncated input still fails");
});

test("an envelope reader with onPieces hands large payloads over as the chunks they came in", (t) => {
  const large = Buffer.alloc(70_000, 9);
  const wire = Buffer.concat([encodeEnvelope(0, Buffer.from("small")), encodeEnvelope(0, large), encodeEnvelope(0, Buffer.from("after"))]);
  for (const step of [1, 1000, 65_536, wire.length]) {
    const reader = new EnvelopeReader(1 << 20, 1024);
    const seen: string[] = [];
    for (let i = 0; i < wire.length; i += step) {
      reader.push(
        wire.subarray(i, i + step),
        (_flags, payload) => seen.push(`whole:${payload.toString()}`),
        (_flags, pieces, length) => seen.push(`pieces:${length}:${Buffer.concat(pieces).equals(large)}`),
      );
    }
    t.deepEqual(seen, ["whole:small", "pieces:70000:true", "whole:after"], `step ${step}`);
    t.false(reader.partial);
  }
});

function withOneofHeader(inner: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x0a]), encodeVarint(inner.length), inner]);
}

function encodeVarint(value: number): Buffer {
  const bytes: number[] = [];
  while (value >= 0x80) {
    bytes.push((value & 0x7f) | 0x80);
    value >>>= 7;
  }
  bytes.push(value);
  return Buffer.from(bytes);
}

test("every field number the codec uses is the generated descriptor's, and no message has a field the codec does not know", (t) => {
  const schemas = {
    OpenSessionRequest: OpenSessionRequestSchema,
    SessionStart: SessionStartSchema,
    ClientMessage: ClientMessageSchema,
    OpenSessionResponse: OpenSessionResponseSchema,
    ServerMessage: ServerMessageSchema,
    SessionInitialized: SessionInitializedSchema,
    SessionEnded: SessionEndedSchema,
  } satisfies Record<keyof typeof OPEN_SESSION_FIELDS, DescMessage>;
  // The protobuf type the codec reads and writes each field as (its wire type follows from it).
  const kinds: Record<string, string> = {
    "OpenSessionRequest.start": "message deploystack.gateway.v1.SessionStart",
    "OpenSessionRequest.message": "message deploystack.gateway.v1.ClientMessage",
    "SessionStart.sessionId": "string",
    "SessionStart.transport": "enum deploystack.gateway.v1.SessionTransport",
    "SessionStart.profile": "string",
    "SessionStart.stateless": "bool",
    "ClientMessage.exchangeId": "uint64",
    "ClientMessage.json": "bytes",
    "ClientMessage.traceparent": "string",
    "ClientMessage.tracestate": "string",
    "OpenSessionResponse.message": "message deploystack.gateway.v1.ServerMessage",
    "OpenSessionResponse.initialized": "message deploystack.gateway.v1.SessionInitialized",
    "OpenSessionResponse.ended": "message deploystack.gateway.v1.SessionEnded",
    "ServerMessage.exchangeId": "uint64",
    "ServerMessage.json": "bytes",
    "ServerMessage.exchangeComplete": "bool",
    "SessionInitialized.protocolVersion": "string",
    "SessionEnded.reason": "string",
  };
  const kindOf = (field: DescField): string => {
    switch (field.fieldKind) {
      case "scalar":
        return ScalarType[field.scalar].toLowerCase();
      case "enum":
        return `enum ${field.enum.typeName}`;
      case "message":
        return `message ${field.message.typeName}`;
      default:
        return field.fieldKind;
    }
  };
  for (const [name, schema] of Object.entries(schemas)) {
    const codec: Record<string, number> = OPEN_SESSION_FIELDS[name as keyof typeof OPEN_SESSION_FIELDS];
    const generated = Object.fromEntries(schema.fields.map((field) => [field.localName, field.number]));
    t.deepEqual(codec, generated, `${name}: field numbers`);
    for (const field of schema.fields) {
      t.is(kindOf(field), kinds[`${name}.${field.localName}`], `${name}.${field.localName}: type`);
      t.true(field.number < 16, `${name}.${field.localName}: a one-byte tag`);
    }
  }
  // One function reads and writes both kinds of message, and both one-string messages.
  t.is(OPEN_SESSION_FIELDS.ClientMessage.exchangeId, OPEN_SESSION_FIELDS.ServerMessage.exchangeId);
  t.is(OPEN_SESSION_FIELDS.ClientMessage.json, OPEN_SESSION_FIELDS.ServerMessage.json);
  // ...so a field of one is never a field of the other under the same number (the .proto reserves them).
  const clientOnly = [OPEN_SESSION_FIELDS.ClientMessage.traceparent, OPEN_SESSION_FIELDS.ClientMessage.tracestate];
  t.false(clientOnly.includes(OPEN_SESSION_FIELDS.ServerMessage.exchangeComplete as never));
  t.deepEqual(ClientMessageSchema.proto.reservedRange.map((range) => [range.start, range.end]), [[3, 4]]);
  t.deepEqual(ServerMessageSchema.proto.reservedRange.map((range) => [range.start, range.end]), [[4, 5], [5, 6]]);
  t.is(OPEN_SESSION_FIELDS.SessionInitialized.protocolVersion, OPEN_SESSION_FIELDS.SessionEnded.reason);
});
