/**
 * The gateway's tracing seam. Call sites on the hot path ask `activeTracer()` and do nothing when it is undefined:
 * with tracing off that is one branch per request, and OpenTelemetry is never even loaded — `startTracing` brings it
 * in with a dynamic `import()` only when an endpoint is configured (shared/tracing/tracing-settings.ts). The
 * interfaces here name no OpenTelemetry type, so that importing this module costs nothing.
 *
 * Trace context travels the MCP way (the 2026-07-28 revision's convention): as `traceparent` and `tracestate` in a
 * request's `params._meta`, which is also the shape of an HTTP header record, so one `inject`/`parent` pair serves
 * both.
 */
import type { TracingSettings } from "./tracing-settings.js";

/** An attribute value as OpenTelemetry takes it (scalars only: the gateway records no structured data). */
export type SpanAttributeValue = string | number | boolean;

/** Where a span sits towards its peer (OpenTelemetry `SpanKind`). */
export type RequestSpanKind = "server" | "client" | "internal";

/** Something carrying W3C trace context: an MCP `_meta` object or an HTTP header record. */
export type TraceCarrier = Readonly<Record<string, unknown>>;

/** One span of a request, as the gateway's code handles it. */
export interface RequestSpan {
  setAttribute(key: string, value: SpanAttributeValue): void;
  /** Writes this span's context into `carrier` as `traceparent` (and `tracestate` when there is one), replacing any. */
  inject(carrier: Record<string, unknown>): void;
  /** Marks the span failed with the semantic conventions' `error.type` (a code or a class, never a message). */
  fail(errorType: string): void;
  /** Ends the span (once; later calls are ignored). */
  end(): void;
}

/** Starts spans; the one implementation is OpenTelemetry's (otel-tracer.ts). */
export interface RequestTracer {
  /**
   * Starts a span. `parent` is another span of this process, or a carrier whose `traceparent` (when valid) makes the
   * span a child of the caller's; without either the span starts a new trace.
   */
  startSpan(name: string, kind: RequestSpanKind, attributes: Readonly<Record<string, SpanAttributeValue>>, parent?: RequestSpan | TraceCarrier): RequestSpan;
  /** Sends what is buffered and stops (bounded: never holds a shutdown for long). */
  shutdown(): Promise<void>;
}

/** Which process a tracer reports as (`service.name` is `deploystack-gateway` or `deploystack-gateway-frontend`). */
export type TracingRole = "daemon" | "frontend";

let active: RequestTracer | undefined;

/** The tracer when tracing is on; undefined (the common case) when off. */
export function activeTracer(): RequestTracer | undefined {
  return active;
}

/**
 * Turns tracing on for this process when `settings` says so, loading OpenTelemetry lazily. Resolves once spans can
 * be started; a failure to load is the caller's to log (tracing then stays off: it never stops the gateway).
 */
export async function startTracing(settings: TracingSettings | undefined, role: TracingRole, version: string): Promise<boolean> {
  if (settings === undefined || active !== undefined) return active !== undefined;
  const { createOtelTracer } = await import("./otel-tracer.js");
  active = createOtelTracer(settings, role, version);
  return true;
}

/** Flushes and stops the tracer, if any; tracing is off afterwards. */
export async function stopTracing(): Promise<void> {
  const tracer = active;
  active = undefined;
  await tracer?.shutdown();
}

/** Test seam: installs a tracer directly (unit tests of call sites); returns a function that uninstalls it. */
export function installTracerForTest(tracer: RequestTracer): () => void {
  active = tracer;
  return () => {
    if (active === tracer) active = undefined;
  };
}
