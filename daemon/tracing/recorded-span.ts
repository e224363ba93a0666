/**
 * The gateway's spans in OpenTelemetry's `ReadableSpan` shape, recorded with as little work as a span can take: the
 * SDK's own `Tracer` and `Span` cost several microseconds per span (contexts, sampler objects, attribute sanitising,
 * clock anchoring), and every traced gateway request makes one (measured with bench/ab.mjs; see docs/observability.md).
 * Around the span it is OpenTelemetry's: its W3C propagator reads a caller's context, its ratio sampler decides new
 * traces, its OTLP/HTTP export delegate sends (otel-tracer.ts). Loaded only with tracing on, like otel-tracer.ts.
 */
import { randomFillSync } from "node:crypto";
import { SpanStatusCode, TraceFlags, type Attributes, type HrTime, type SpanContext, type SpanKind, type SpanStatus } from "@opentelemetry/api";
import type { InstrumentationScope } from "@opentelemetry/core";
import type { Resource } from "@opentelemetry/resources";
import type { ReadableSpan, TimedEvent } from "@opentelemetry/sdk-trace-base";
import type { SpanAttributeValue } from "./tracer-types.js";

/** Random bytes are drawn this many at a time: one system call per ~170 spans instead of one per id. */
const RANDOM_POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let poolOffset = 0;

/** `bytes` random bytes as lowercase hex, never all zero (W3C Trace Context: an all-zero id is invalid). */
export function randomHexId(bytes: 8 | 16): string {
  for (;;) {
    if (poolOffset + bytes > pool.length) {
      pool = randomFillSync(Buffer.allocUnsafe(RANDOM_POOL_BYTES));
      poolOffset = 0;
    }
    const start = poolOffset;
    poolOffset += bytes;
    for (let index = start; index < poolOffset; index++) if (pool[index] !== 0) return pool.toString("hex", start, poolOffset);
  }
}

/** Epoch time now as OpenTelemetry's `HrTime` ([seconds, nanoseconds]), from the monotonic clock anchored at start. */
export function hrNow(): HrTime {
  const epochMs = performance.timeOrigin + performance.now();
  const seconds = Math.floor(epochMs / 1000);
  return [seconds, Math.round((epochMs - seconds * 1000) * 1e6)];
}

function hrDuration(start: HrTime, end: HrTime): HrTime {
  let seconds = end[0] - start[0];
  let nanos = end[1] - start[1];
  if (nanos < 0) {
    seconds -= 1;
    nanos += 1e9;
  }
  return [seconds, nanos];
}

/** What every span of one tracer shares. */
export interface SpanSink {
  readonly resource: Resource;
  readonly instrumentationScope: InstrumentationScope;
  /** Longest string attribute value kept (longer ones are cut): values come partly from clients. */
  readonly attributeValueLengthLimit: number;
  /** Receives each sampled span once, when it ends (it is encoded into the batch being filled). */
  ended(span: RecordedSpan): void;
}

const NO_EVENTS: TimedEvent[] = [];
const NO_LINKS: ReadableSpan["links"] = [];
const UNSET: SpanStatus = { code: SpanStatusCode.UNSET };
const ERROR: SpanStatus = { code: SpanStatusCode.ERROR };

/**
 * One span: its context, its parent's, its times and attributes. Unsampled spans are recorded the same way (they
 * still hand their context on) but never reach the sink.
 */
export class RecordedSpan implements ReadableSpan {
  readonly startTime: HrTime = hrNow();
  endTime: HrTime = [0, 0];
  duration: HrTime = [0, 0];
  ended = false;
  status: SpanStatus = UNSET;
  readonly events = NO_EVENTS;
  readonly links = NO_LINKS;
  droppedAttributesCount = 0;
  readonly droppedEventsCount = 0;
  readonly droppedLinksCount = 0;
  /**
   * The attributes' names and values, in the order they were first set (values bounded): two short arrays rather than
   * an object, as the encoder reads them on every request — walking an object's keys and loading them by name cost a
   * dictionary walk and a megamorphic load each (measured with `perf` on the daemon under load).
   */
  readonly attributeKeys: string[] = [];
  readonly attributeValues: SpanAttributeValue[] = [];
  private readonly context: SpanContext;

  constructor(
    private readonly sink: SpanSink,
    readonly name: string,
    readonly kind: SpanKind,
    attributes: Readonly<Record<string, SpanAttributeValue>>,
    traceId: string,
    sampled: boolean,
    readonly parentSpanContext: SpanContext | undefined,
  ) {
    const traceState = parentSpanContext?.traceState;
    const context: SpanContext = { traceId, spanId: randomHexId(8), traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE };
    if (traceState !== undefined) context.traceState = traceState;
    this.context = context;
    for (const key in attributes) this.setAttribute(key, attributes[key]!);
  }

  /** The attributes as an object, for readers of OpenTelemetry's `ReadableSpan` (made on each read: not the hot path). */
  get attributes(): Attributes {
    const attributes: Attributes = {};
    for (let index = 0; index < this.attributeKeys.length; index++) attributes[this.attributeKeys[index]!] = this.attributeValues[index];
    return attributes;
  }

  get resource(): Resource {
    return this.sink.resource;
  }

  get instrumentationScope(): InstrumentationScope {
    return this.sink.instrumentationScope;
  }

  spanContext(): SpanContext {
    return this.context;
  }

  /** Whether the span goes to the exporter when it ends. */
  get sampled(): boolean {
    return (this.context.traceFlags & TraceFlags.SAMPLED) !== 0;
  }

  setAttribute(key: string, value: SpanAttributeValue): void {
    if (this.ended) return;
    const limit = this.sink.attributeValueLengthLimit;
    const bounded = typeof value === "string" && value.length > limit ? value.slice(0, limit) : value;
    const keys = this.attributeKeys;
    for (let index = 0; index < keys.length; index++) {
      if (keys[index] === key) {
        this.attributeValues[index] = bounded;
        return;
      }
    }
    keys.push(key);
    this.attributeValues.push(bounded);
  }

  setError(): void {
    if (!this.ended) this.status = ERROR;
  }

  /** The W3C `traceparent` of this span. */
  traceparent(): string {
    const { traceId, spanId, traceFlags } = this.context;
    return `00-${traceId}-${spanId}-${traceFlags === TraceFlags.SAMPLED ? "01" : "00"}`;
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.endTime = hrNow();
    this.duration = hrDuration(this.startTime, this.endTime);
    if (this.sampled) this.sink.ended(this);
  }
}
