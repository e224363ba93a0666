import test from "ava";
import { createRequire } from "node:module";
import fc from "fast-check";
import { TraceFlags, type SpanContext } from "@opentelemetry/api";
import { TraceState } from "@opentelemetry/core";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { SpanBatch } from "./otlp-span-encoder.js";
import { RecordedSpan, type SpanSink } from "./recorded-span.js";

/**
 * The hand-written encoder against OpenTelemetry's: the same spans through a `SpanBatch` and through the OTLP
 * transformer's `ProtobufTraceSerializer`, both decoded with OpenTelemetry's generated OTLP types, must give the same
 * message, whatever names, attribute values, parents, trace states and statuses the spans hold.
 */

const require = createRequire(import.meta.url);
const otlp = (require("otlp-proto-schema/build/src/generated/root.js") as {
  opentelemetry: {
    proto: { collector: { trace: { v1: { ExportTraceServiceRequest: { decode(bytes: Uint8Array): unknown; toObject(message: unknown, options: object): unknown } } } } };
  };
}).opentelemetry.proto.collector.trace.v1;

/** Decoded with proto3 semantics: a field written as its default and a field left out read the same. */
const decode = (bytes: Uint8Array): unknown =>
  otlp.ExportTraceServiceRequest.toObject(otlp.ExportTraceServiceRequest.decode(bytes), { defaults: true, longs: String, enums: String, bytes: String });

const sinkOf = (name: string): SpanSink => ({
  resource: resourceFromAttributes({ "service.name": name, "service.version": "1.2.3" }),
  instrumentationScope: { name: "deploystack-gateway", version: "1.2.3" },
  attributeValueLengthLimit: 1024,
  ended: () => undefined,
});

/** The request a tracer's batch makes of `spans` (all of one sink, as a tracer's are). */
function encodeSpans(sink: SpanSink, spans: readonly RecordedSpan[]): Uint8Array {
  const batch = new SpanBatch(sink.resource, sink.instrumentationScope);
  for (const span of spans) batch.add(span);
  return batch.take()!.bytes;
}

const hex = (bytes: number) => fc.uint8Array({ minLength: bytes, maxLength: bytes }).filter((b) => b.some((x) => x !== 0)).map((b) => Buffer.from(b).toString("hex"));
const attributeValue = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  // Around the encoder's short-ASCII path's bound (127 characters: one length byte).
  fc.string({ minLength: 120, maxLength: 140 }),
  fc.boolean(),
  fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => !Number.isInteger(x)),
);
const spanShape = fc.record({
  name: fc.string({ unit: "grapheme", maxLength: 60 }),
  kind: fc.constantFrom(0, 1, 2, 3, 4),
  attributes: fc.dictionary(fc.string({ minLength: 1, maxLength: 20 }), attributeValue, { maxKeys: 8 }),
  traceId: hex(16),
  sampled: fc.boolean(),
  parent: fc.option(fc.record({ spanId: hex(8), remote: fc.boolean(), state: fc.option(fc.constantFrom("a=1", "vendor=x,b=2"), { nil: undefined }) }), { nil: undefined }),
  failed: fc.boolean(),
});

test("a batch decodes to what OpenTelemetry's serializer makes of the same spans", (t) => {
  const sinks = [sinkOf("deploystack-gateway"), sinkOf("another-service")];
  fc.assert(
    fc.property(fc.array(spanShape, { minLength: 1, maxLength: 12 }), fc.nat(1), (shapes, which) => {
      const sink = sinks[which]!;
      const spans = shapes.map((shape) => {
        const parent: SpanContext | undefined = shape.parent && {
          traceId: shape.traceId,
          spanId: shape.parent.spanId,
          traceFlags: shape.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
          isRemote: shape.parent.remote,
          ...(shape.parent.state ? { traceState: new TraceState(shape.parent.state) } : {}),
        };
        const span = new RecordedSpan(sink, shape.name, shape.kind, { ...shape.attributes }, shape.traceId, shape.sampled, parent);
        if (shape.failed) span.setError();
        span.end();
        return span;
      });
      const expected = decode(ProtobufTraceSerializer.serializeRequest(spans)!);
      t.deepEqual(decode(encodeSpans(sink, spans)), expected);
      // Again: now the string attributes' entries come from the encoder's kept ones (while it has room for them).
      t.deepEqual(decode(encodeSpans(sink, spans)), expected, "from kept entries");
    }),
    { numRuns: 300 },
  );
});

test("a batch far larger than the writer's first buffer still encodes whole", (t) => {
  const sink = sinkOf("deploystack-gateway");
  const spans = Array.from({ length: 600 }, (_, index) => {
    const span = new RecordedSpan(sink, `tools/call tool-${index}`, 1, { "deploystack.server": "x".repeat(900), index }, "0af7651916cd43dd8448eb211c80319c", true, undefined);
    span.end();
    return span;
  });
  const bytes = encodeSpans(sink, spans);
  t.true(bytes.length > 600 * 900);
  t.deepEqual(decode(bytes), decode(ProtobufTraceSerializer.serializeRequest(spans)!));
});

test("times are written to the nanosecond over the whole range a clock can give", (t) => {
  const sink = sinkOf("deploystack-gateway");
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 33 - 1 }), fc.integer({ min: 0, max: 999_999_999 }), (seconds, nanos) => {
      const span = new RecordedSpan(sink, "timed", 0, {}, "0af7651916cd43dd8448eb211c80319c", true, undefined);
      span.end();
      const timed = Object.assign(Object.create(span) as RecordedSpan, { startTime: [seconds, nanos], endTime: [seconds, nanos] });
      const decoded = decode(encodeSpans(sink, [timed])) as { resourceSpans: { scopeSpans: { spans: { startTimeUnixNano: string; endTimeUnixNano: string }[] }[] }[] };
      const written = decoded.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
      const expected = (BigInt(seconds) * 1_000_000_000n + BigInt(nanos)).toString();
      t.is(written.startTimeUnixNano, expected);
      t.is(written.endTimeUnixNano, expected);
    }),
    { numRuns: 2000 },
  );
});

test("a batch hands over what it holds once and starts afresh", (t) => {
  const sink = sinkOf("deploystack-gateway");
  const batch = new SpanBatch(sink.resource, sink.instrumentationScope);
  t.is(batch.take(), undefined, "nothing to hand over");
  const made = (name: string): RecordedSpan => {
    const span = new RecordedSpan(sink, name, 1, {}, "0af7651916cd43dd8448eb211c80319c", true, undefined);
    span.end();
    return span;
  };
  const first = made("first");
  batch.add(first);
  t.is(batch.size, 1);
  const taken = batch.take()!;
  t.is(taken.count, 1);
  t.deepEqual(decode(taken.bytes), decode(ProtobufTraceSerializer.serializeRequest([first])!));
  t.is(batch.size, 0);
  t.is(batch.take(), undefined, "taken once");
  const second = made("second");
  batch.add(second);
  t.deepEqual(decode(batch.take()!.bytes), decode(ProtobufTraceSerializer.serializeRequest([second])!), "the next request holds only what came after");
});
