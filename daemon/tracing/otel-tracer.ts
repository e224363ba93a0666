/**
 * The OpenTelemetry implementation of `RequestTracer`: with recorded-span.ts and otlp-span-encoder.ts, the only modules
 * that use `@opentelemetry/*`, and only ever loaded by `startTracing`'s dynamic `import()` (request-tracer.ts), so a gateway
 * with tracing off loads none of it. Spans are recorded by recorded-span.ts, encoded as protobuf by
 * otlp-span-encoder.ts and sent by OpenTelemetry's OTLP/HTTP export delegate. Nothing is registered globally (no global tracer provider, propagator or context manager): the
 * gateway passes parents explicitly, so it neither takes over nor disturbs anything else in the process.
 */
import { ROOT_CONTEXT, SamplingDecision, SpanKind, TraceFlags, defaultTextMapGetter, trace, type SpanContext } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate } from "@opentelemetry/otlp-exporter-base/node-http";
import { ProtobufTraceSerializer, type IExporterMetricsHelper, type IExportTraceServiceResponse, type ISerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { TraceIdRatioBasedSampler } from "@opentelemetry/sdk-trace-base";
import { ATTR_ERROR_TYPE, ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "@opentelemetry/semantic-conventions";
import { SpanBatch } from "./otlp-span-encoder.js";
import { RecordedSpan, randomHexId, type SpanSink } from "./recorded-span.js";
import type { RequestSpan, RequestSpanKind, RequestTracer, SpanAttributeValue, TraceCarrier } from "./tracer-types.js";
import type { TracingSettings } from "./tracing-settings.js";

/** The longest a shutdown waits for the last spans to be sent. */
const SHUTDOWN_TIMEOUT_MS = 2000;

const KINDS: Record<RequestSpanKind, SpanKind> = { server: SpanKind.SERVER, client: SpanKind.CLIENT, internal: SpanKind.INTERNAL };

const propagator = new W3CTraceContextPropagator();

class OtelRequestSpan implements RequestSpan {
  constructor(readonly span: RecordedSpan) {}

  setAttribute(key: string, value: SpanAttributeValue): void {
    this.span.setAttribute(key, value);
  }

  inject(carrier: Record<string, unknown>): void {
    // tracestate only when the span has one: a stale one of the caller's must not stay.
    carrier.traceparent = this.span.traceparent();
    const traceState = this.span.spanContext().traceState?.serialize();
    if (traceState) carrier.tracestate = traceState;
    else delete carrier.tracestate;
  }

  fail(errorType: string): void {
    this.span.setAttribute(ATTR_ERROR_TYPE, errorType);
    this.span.setError();
  }

  end(): void {
    this.span.end();
  }
}

/** A batch leaves at once when it holds this many spans (OpenTelemetry's default export batch size). */
const MAX_BATCH_SPANS = 512;
/** A batch leaves at once past this size, whatever its span count. */
const MAX_BATCH_BYTES = 1024 * 1024;
/** Batches handed to the exporter and not yet settled, at most; past it new batches are dropped (and counted). */
const MAX_PENDING_EXPORTS = 8;

/** An export request encoded by otlp-span-encoder.ts. */
interface EncodedBatch {
  readonly bytes: Uint8Array;
  readonly count: number;
}

/** The request is already encoded; the collector's answer is read by OpenTelemetry's own deserializer. */
const BATCH_SERIALIZER: ISerializer<EncodedBatch, IExportTraceServiceResponse> = {
  serializeRequest: (batch) => batch.bytes,
  deserializeResponse: (bytes) => ProtobufTraceSerializer.deserializeResponse(bytes),
};

const BATCH_METRICS: IExporterMetricsHelper<EncodedBatch> = { name: "span", countItems: (batch) => batch.count };

/** A caller's context from a carrier, when its `traceparent` is valid (OpenTelemetry's W3C propagator decides). */
function remoteParent(carrier: TraceCarrier): SpanContext | undefined {
  if (carrier.traceparent === undefined) return undefined;
  return trace.getSpanContext(propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter));
}

/**
 * Creates the gateway's tracer (the daemon's: no other process makes spans), exporting to `settings.tracesUrl`
 * through OpenTelemetry's OTLP/HTTP export delegate. Spans are recorded by recorded-span.ts and encoded as they end
 * by otlp-span-encoder.ts into the batch being filled, which leaves when it is full or `settings.scheduleDelayMs`
 * after its first span (the batching rules of OpenTelemetry's batch span processor, without holding the spans
 * themselves). Sampling follows OpenTelemetry's default (`parentBased`): a span with a parent takes its parent's
 * sampled flag; a new trace is sampled by the trace-id ratio (OpenTelemetry's `TraceIdRatioBasedSampler`), every
 * trace by default.
 */
export function createOtelTracer(settings: TracingSettings, version: string): RequestTracer {
  // OpenTelemetry's OTLP/HTTP export delegate: its transport, retries with back-off, timeouts and concurrency bound.
  const exporter = createOtlpHttpExportDelegate(
    convertLegacyHttpOptions({ url: settings.tracesUrl }, "TRACES", "v1/traces", { "Content-Type": "application/x-protobuf" }),
    BATCH_SERIALIZER,
    "otlp_http_span_exporter",
    BATCH_METRICS,
    undefined,
  );
  const resource = resourceFromAttributes({
    [ATTR_SERVICE_NAME]: "deploystack-gateway",
    [ATTR_SERVICE_VERSION]: version,
  });
  const instrumentationScope = { name: "deploystack-gateway", version };
  const batch = new SpanBatch(resource, instrumentationScope);
  let timer: NodeJS.Timeout | undefined;
  let pendingExports = 0;
  let stopped = false;
  const exports = new Set<Promise<void>>();

  /** Hands the batch being filled to the exporter (dropped when too many are still on their way). */
  const flush = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    const taken = batch.take();
    if (taken === undefined || pendingExports >= MAX_PENDING_EXPORTS) return;
    pendingExports++;
    const settled = new Promise<void>((resolve) => exporter.export(taken, () => resolve()));
    exports.add(settled);
    void settled.then(() => {
      pendingExports--;
      exports.delete(settled);
    });
  };

  const sink: SpanSink = {
    resource,
    instrumentationScope,
    // Attribute values come partly from clients (names, URIs, the HTTP route): bounded, whatever a client sends.
    attributeValueLengthLimit: 1024,
    ended(span) {
      if (stopped) return;
      batch.add(span);
      if (batch.size >= MAX_BATCH_SPANS || batch.byteLength >= MAX_BATCH_BYTES) flush();
      else if (timer === undefined) {
        timer = setTimeout(flush, settings.scheduleDelayMs);
        // A batch waiting to leave never keeps the process alive: shutdown sends it.
        timer.unref();
      }
    },
  };
  const ratio = settings.sampler?.ratio ?? 1;
  const ratioSampler = ratio < 1 ? new TraceIdRatioBasedSampler(ratio) : undefined;
  const parentBased = settings.sampler?.parentBased !== false;
  const sampleNewTrace = (traceId: string): boolean =>
    ratioSampler === undefined || ratioSampler.shouldSample(ROOT_CONTEXT, traceId).decision === SamplingDecision.RECORD_AND_SAMPLED;

  return {
    startSpan(name, kind, attributes, parent) {
      const parentContext = parent === undefined ? undefined : parent instanceof OtelRequestSpan ? parent.span.spanContext() : remoteParent(parent as TraceCarrier);
      const traceId = parentContext?.traceId ?? randomHexId(16);
      const sampled =
        parentContext !== undefined && parentBased ? (parentContext.traceFlags & TraceFlags.SAMPLED) !== 0 : sampleNewTrace(traceId);
      return new OtelRequestSpan(new RecordedSpan(sink, name, KINDS[kind], attributes, traceId, sampled, parentContext));
    },
    async shutdown() {
      flush();
      stopped = true;
      let deadline: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([...exports]).then(() => exporter.shutdown()).catch(() => undefined),
        new Promise<void>((resolve) => (deadline = setTimeout(resolve, SHUTDOWN_TIMEOUT_MS))),
      ]);
      clearTimeout(deadline);
    },
  };
}
