import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import type { ExecutionContext } from "ava";

/**
 * A small OTLP/HTTP trace receiver on loopback for the tracing tests: it accepts `POST /v1/traces` with
 * `application/x-protobuf`, decodes the real payload with the OTLP protobuf types that OpenTelemetry generated
 * (`@opentelemetry/otlp-transformer` 0.216's `ExportTraceServiceRequest`, installed as `otlp-proto-schema`), and keeps
 * every span in a plain shape. The raw request bodies are kept too, so a test can look for a secret in exactly what
 * left the gateway.
 */

interface ProtoAnyValue {
  stringValue?: string | null;
  boolValue?: boolean | null;
  intValue?: number | { toNumber(): number } | null;
  doubleValue?: number | null;
}
interface ProtoKeyValue {
  key: string;
  value?: ProtoAnyValue;
}
interface ProtoSpan {
  traceId: Uint8Array;
  spanId: Uint8Array;
  parentSpanId?: Uint8Array;
  traceState?: string;
  name: string;
  kind: number;
  attributes?: ProtoKeyValue[];
  status?: { code?: number };
  startTimeUnixNano?: number | { toNumber(): number } | null;
  endTimeUnixNano?: number | { toNumber(): number } | null;
}
interface ProtoRequest {
  resourceSpans?: Array<{ resource?: { attributes?: ProtoKeyValue[] }; scopeSpans?: Array<{ spans?: ProtoSpan[] }> }>;
}
interface ProtoType {
  decode(bytes: Uint8Array): unknown;
  encode(message: unknown): { finish(): Uint8Array };
  create(properties?: unknown): unknown;
}

const require = createRequire(import.meta.url);
const otlp = (require("otlp-proto-schema/build/src/generated/root.js") as {
  opentelemetry: { proto: { collector: { trace: { v1: { ExportTraceServiceRequest: ProtoType; ExportTraceServiceResponse: ProtoType } } } } };
}).opentelemetry.proto.collector.trace.v1;

/** OTLP span kinds (opentelemetry/proto/trace/v1/trace.proto `Span.SpanKind`). */
export const OTLP_SPAN_KIND = { internal: 1, server: 2, client: 3 } as const;

/** A received span, decoded. Ids are lower-case hex; `parentSpanId` is "" for a root span. */
export interface CollectedSpan {
  readonly service: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly traceState: string;
  readonly name: string;
  readonly kind: number;
  readonly attributes: Readonly<Record<string, string | number | boolean>>;
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  readonly statusCode: number;
  /** Start and end, epoch milliseconds (from the nanoseconds on the wire; a double keeps them to about a microsecond). */
  readonly startMs: number;
  readonly endMs: number;
}

/** The receiver. */
export interface OtlpCollector {
  /** The base URL, as `OTEL_EXPORTER_OTLP_ENDPOINT` takes it. */
  readonly endpoint: string;
  readonly spans: CollectedSpan[];
  /** Every accepted body, as received. */
  readonly bodies: Buffer[];
  /** Requests that were not a valid OTLP protobuf export (answered 400 and counted). */
  readonly rejected: number;
  /** Waits until `predicate` holds over the spans; false after `timeoutMs`. */
  waitFor(predicate: (spans: readonly CollectedSpan[]) => boolean, timeoutMs?: number): Promise<boolean>;
}

function hex(bytes: Uint8Array | undefined): string {
  return bytes && bytes.length > 0 ? Buffer.from(bytes).toString("hex") : "";
}

function attributeMap(list: readonly ProtoKeyValue[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of list ?? []) {
    // Decoded messages answer null (not undefined) for the members of the `value` oneof that are not set.
    if (value?.stringValue != null) out[key] = value.stringValue;
    else if (value?.boolValue != null) out[key] = value.boolValue;
    else if (value?.intValue != null) out[key] = typeof value.intValue === "number" ? value.intValue : value.intValue.toNumber();
    else if (value?.doubleValue != null) out[key] = value.doubleValue;
  }
  return out;
}

function nanosToMs(value: number | { toNumber(): number } | null | undefined): number {
  if (value == null) return 0;
  return (typeof value === "number" ? value : value.toNumber()) / 1e6;
}

function readAll(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** Starts a collector on 127.0.0.1, port 0; closed when the test ends. */
export async function startOtlpCollector(t: ExecutionContext): Promise<OtlpCollector> {
  const spans: CollectedSpan[] = [];
  const bodies: Buffer[] = [];
  let rejected = 0;
  const refuse = (res: ServerResponse, status: number): void => {
    rejected++;
    res.writeHead(status).end();
  };
  const server = createServer((req, res) => {
    void (async () => {
      const body = await readAll(req);
      if (req.method !== "POST" || req.url !== "/v1/traces") return refuse(res, 404);
      if (req.headers["content-type"] !== "application/x-protobuf") return refuse(res, 415);
      let decoded: ProtoRequest;
      try {
        decoded = otlp.ExportTraceServiceRequest.decode(body) as ProtoRequest;
      } catch {
        return refuse(res, 400);
      }
      bodies.push(body);
      for (const resourceSpans of decoded.resourceSpans ?? []) {
        const service = String(attributeMap(resourceSpans.resource?.attributes)["service.name"] ?? "");
        for (const scope of resourceSpans.scopeSpans ?? []) {
          for (const span of scope.spans ?? []) {
            spans.push({
              service,
              traceId: hex(span.traceId),
              spanId: hex(span.spanId),
              parentSpanId: hex(span.parentSpanId),
              traceState: span.traceState ?? "",
              name: span.name,
              kind: span.kind,
              startMs: nanosToMs(span.startTimeUnixNano),
              endMs: nanosToMs(span.endTimeUnixNano),
              attributes: attributeMap(span.attributes),
              statusCode: span.status?.code ?? 0,
            });
          }
        }
      }
      const answer = otlp.ExportTraceServiceResponse.encode(otlp.ExportTraceServiceResponse.create({})).finish();
      res.writeHead(200, { "Content-Type": "application/x-protobuf" }).end(Buffer.from(answer));
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    bodies,
    get rejected() {
      return rejected;
    },
    async waitFor(predicate, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(spans)) {
        if (Date.now() > deadline) return false;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return true;
    },
  };
}
