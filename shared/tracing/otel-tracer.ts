/**
 * The OpenTelemetry implementation of `RequestTracer`: the only module that imports `@opentelemetry/*`, and only
 * ever loaded by `startTracing`'s dynamic `import()` (request-tracer.ts), so a gateway with tracing off loads none
 * of it. Spans go through a batch processor to an OTLP/HTTP exporter (protobuf). Nothing is registered globally
 * (no global tracer provider, propagator or context manager): the gateway passes parents explicitly, so it neither
 * takes over nor disturbs anything else in the process.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, defaultTextMapGetter, defaultTextMapSetter, trace, type Span, type Tracer } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, type Sampler } from "@opentelemetry/sdk-trace-base";
import { ATTR_ERROR_TYPE, ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "@opentelemetry/semantic-conventions";
import type { RequestSpan, RequestSpanKind, RequestTracer, SpanAttributeValue, TraceCarrier, TracingRole } from "./tracer-types.js";
import type { TracingSampler, TracingSettings } from "./tracing-settings.js";

/** The longest a shutdown waits for the last spans to be sent. */
const SHUTDOWN_TIMEOUT_MS = 2000;

const KINDS: Record<RequestSpanKind, SpanKind> = { server: SpanKind.SERVER, client: SpanKind.CLIENT, internal: SpanKind.INTERNAL };

const propagator = new W3CTraceContextPropagator();

class OtelRequestSpan implements RequestSpan {
  private ended = false;

  constructor(readonly span: Span) {}

  setAttribute(key: string, value: SpanAttributeValue): void {
    this.span.setAttribute(key, value);
  }

  inject(carrier: Record<string, unknown>): void {
    // The propagator writes tracestate only when the span has one: a stale one of the caller's must not stay.
    delete carrier.traceparent;
    delete carrier.tracestate;
    propagator.inject(trace.setSpan(ROOT_CONTEXT, this.span), carrier, defaultTextMapSetter);
  }

  fail(errorType: string): void {
    this.span.setAttribute(ATTR_ERROR_TYPE, errorType);
    this.span.setStatus({ code: SpanStatusCode.ERROR });
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.span.end();
  }
}

/** The SDK sampler for the settings' (default: every trace, following a caller's sampled flag). */
function samplerOf(sampler: TracingSampler | undefined): Sampler {
  const root = new TraceIdRatioBasedSampler(sampler?.ratio ?? 1);
  return sampler?.parentBased === false ? root : new ParentBasedSampler({ root });
}

/** Creates the tracer of one process, exporting to `settings.tracesUrl`. */
export function createOtelTracer(settings: TracingSettings, role: TracingRole, version: string): RequestTracer {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: role === "daemon" ? "deploystack-gateway" : "deploystack-gateway-frontend",
      [ATTR_SERVICE_VERSION]: version,
    }),
    sampler: samplerOf(settings.sampler),
    // Attribute values come partly from clients (names, URIs, the HTTP route): bounded, whatever a client sends.
    spanLimits: { attributeValueLengthLimit: 1024 },
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: settings.tracesUrl }), { scheduledDelayMillis: settings.scheduleDelayMs })],
  });
  const tracer: Tracer = provider.getTracer("deploystack-gateway", version);
  return {
    startSpan(name, kind, attributes, parent) {
      const parentContext =
        parent === undefined
          ? ROOT_CONTEXT
          : parent instanceof OtelRequestSpan
            ? trace.setSpan(ROOT_CONTEXT, parent.span)
            : propagator.extract(ROOT_CONTEXT, parent as TraceCarrier, defaultTextMapGetter);
      return new OtelRequestSpan(tracer.startSpan(name, { kind: KINDS[kind], attributes }, parentContext));
    },
    async shutdown() {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        provider.shutdown().catch(() => undefined),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, SHUTDOWN_TIMEOUT_MS))),
      ]);
      clearTimeout(timer);
    },
  };
}
