/**
 * The gateway's tracing seam. Call sites on the hot path ask `activeTracer()` and do nothing when it is undefined:
 * with tracing off that is one branch per request, and OpenTelemetry is never even loaded — `startTracing` brings it
 * in with a dynamic `import()` only when an endpoint is configured (tracing-settings.ts). The interfaces here name
 * no OpenTelemetry type, so that importing this module costs nothing.
 *
 * Trace context travels the MCP way (the 2026-07-28 revision's convention): as `traceparent` and `tracestate` in a
 * request's `params._meta`, which is also the shape of an HTTP header record, so one `inject`/`parent` pair serves
 * both.
 */
import type { RequestTracer } from "./tracer-types.js";
import type { TracingSettings } from "./tracing-settings.js";

export type { RequestSpan, RequestSpanKind, RequestTracer, SpanAttributeValue, TraceCarrier } from "./tracer-types.js";

let active: RequestTracer | undefined;

/** The tracer when tracing is on; undefined (the common case) when off. */
export function activeTracer(): RequestTracer | undefined {
  return active;
}

/**
 * Turns tracing on for this process when `settings` says so, loading OpenTelemetry lazily. Resolves once spans can
 * be started; a failure to load is the caller's to log (tracing then stays off: it never stops the gateway).
 */
export async function startTracing(settings: TracingSettings | undefined, version: string): Promise<boolean> {
  if (settings === undefined || active !== undefined) return active !== undefined;
  const { createOtelTracer } = await import("./otel-tracer.js");
  active = createOtelTracer(settings, version);
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
