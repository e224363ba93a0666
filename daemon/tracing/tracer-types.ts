/**
 * The tracing seam's types, apart from its state (request-tracer.ts) so that the OpenTelemetry implementation
 * (otel-tracer.ts), which request-tracer.ts loads with a dynamic `import()`, can implement them without an import
 * circle. No OpenTelemetry type appears here: callers stay free of it.
 */

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
