import test from "ava";
import { randomBytes } from "node:crypto";
import { startOtlpCollector } from "../../test/e2e/helpers/otlp-collector.js";
import { activeTracer, startTracing, stopTracing } from "./request-tracer.js";

/**
 * The OpenTelemetry tracer against a real OTLP/HTTP receiver: parents from a carrier or a span, what `inject` writes,
 * and the sampler (a caller's sampled flag decides under `parentBased`; new traces take the ratio). Serial: one
 * tracer per process.
 */

test.serial("parentbased ratio 0: a sampled caller's trace is recorded, a new trace is not but still propagates", async (t) => {
  const collector = await startOtlpCollector(t);
  await startTracing({ tracesUrl: `${collector.endpoint}/v1/traces`, scheduleDelayMs: 20, sampler: { ratio: 0, parentBased: true } }, "daemon", "1");
  t.teardown(() => stopTracing());
  const tracer = activeTracer()!;
  const traceId = randomBytes(16).toString("hex");
  const sampled = tracer.startSpan("joined", "server", { k: "v" }, { traceparent: `00-${traceId}-${randomBytes(8).toString("hex")}-01`, tracestate: "a=1" });
  const child = tracer.startSpan("child", "client", {}, sampled);
  const carrier: Record<string, unknown> = { traceparent: "stale", tracestate: "stale=1", other: "kept" };
  child.inject(carrier);
  t.regex(String(carrier.traceparent), new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
  t.is(carrier.tracestate, "a=1");
  t.is(carrier.other, "kept");
  child.end();
  sampled.end();

  const fresh = tracer.startSpan("new", "server", {});
  const freshCarrier: Record<string, unknown> = { tracestate: "stale=1" };
  fresh.inject(freshCarrier);
  t.regex(String(freshCarrier.traceparent), /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/, "not sampled, still handed on");
  t.is(freshCarrier.tracestate, undefined, "no stale tracestate survives");
  fresh.end();

  t.true(await collector.waitFor((spans) => spans.length >= 2));
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.deepEqual(collector.spans.map((s) => s.name).sort(), ["child", "joined"]);
  t.is(collector.spans.find((s) => s.name === "child")?.parentSpanId, collector.spans.find((s) => s.name === "joined")?.spanId);
  t.is(collector.spans.find((s) => s.name === "joined")?.service, "deploystack-gateway");
});

test.serial("a span ends once; a second end exports nothing more", async (t) => {
  const collector = await startOtlpCollector(t);
  await startTracing({ tracesUrl: `${collector.endpoint}/v1/traces`, scheduleDelayMs: 20 }, "frontend", "1");
  t.teardown(() => stopTracing());
  const span = activeTracer()!.startSpan("once", "internal", {});
  span.fail("boom");
  span.end();
  span.end();
  await stopTracing();
  t.deepEqual(collector.spans.map((s) => [s.name, s.service, s.statusCode, s.attributes["error.type"]]), [["once", "deploystack-gateway-frontend", 2, "boom"]]);
});
