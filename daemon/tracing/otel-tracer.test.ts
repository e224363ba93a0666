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
  await startTracing({ tracesUrl: `${collector.endpoint}/v1/traces`, scheduleDelayMs: 20, sampler: { ratio: 0, parentBased: true } }, "1");
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

  // Malformed carriers (as hostile clients send them): a new trace each, never the caller's ids.
  const joinedTwice = `00-${traceId}-${randomBytes(8).toString("hex")}-01, 00-${traceId}-${randomBytes(8).toString("hex")}-01`;
  for (const traceparent of [joinedTwice, "00-zz-not-a-trace", `00-${traceId}-${"0".repeat(16)}-01`, `ff-${traceId}-${randomBytes(8).toString("hex")}-01`]) {
    const orphan = tracer.startSpan("orphan", "server", {}, { traceparent });
    const orphanCarrier: Record<string, unknown> = {};
    orphan.inject(orphanCarrier);
    t.notRegex(String(orphanCarrier.traceparent), new RegExp(traceId), traceparent);
  }

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
  await startTracing({ tracesUrl: `${collector.endpoint}/v1/traces`, scheduleDelayMs: 20 }, "1");
  t.teardown(() => stopTracing());
  const span = activeTracer()!.startSpan("once", "internal", {});
  span.fail("boom");
  span.end();
  span.end();
  await stopTracing();
  t.deepEqual(collector.spans.map((s) => [s.name, s.service, s.statusCode, s.attributes["error.type"]]), [["once", "deploystack-gateway", 2, "boom"]]);
});

test.serial("times, ids and limits: a span's times bracket its work, ids are W3C-valid, long attribute values are cut", async (t) => {
  const collector = await startOtlpCollector(t);
  await startTracing({ tracesUrl: `${collector.endpoint}/v1/traces`, scheduleDelayMs: 20 }, "1");
  t.teardown(() => stopTracing());
  // The tracer's clock: the monotonic one anchored at start (recorded-span.ts `hrNow`), as OpenTelemetry's is. Read
  // against Date.now() instead, the two drift apart over a long-lived test process (CI once saw more than 5 ms).
  const epochNow = (): number => performance.timeOrigin + performance.now();
  const before = epochNow();
  const span = activeTracer()!.startSpan("timed", "client", { long: "x".repeat(5000), short: "kept", n: 7, flag: true });
  await new Promise((resolve) => setTimeout(resolve, 30));
  span.setAttribute("late", "y".repeat(3000));
  span.end();
  const after = epochNow();
  await stopTracing();
  const [exported] = collector.spans;
  t.truthy(exported);
  t.regex(exported!.traceId, /^(?!0{32})[0-9a-f]{32}$/);
  t.regex(exported!.spanId, /^(?!0{16})[0-9a-f]{16}$/);
  t.is(exported!.parentSpanId, "");
  t.is(exported!.kind, 3);
  // One clock, so the bounds only allow for rounding to the exported nanoseconds and back to milliseconds.
  t.true(exported!.startMs >= before - 1 && exported!.startMs <= after + 1, `start ${exported!.startMs} in [${before}, ${after}]`);
  t.true(exported!.endMs - exported!.startMs >= 25, `lasted ${exported!.endMs - exported!.startMs} ms`);
  t.true(exported!.endMs <= after + 1, `end ${exported!.endMs} after ${after}`);
  t.deepEqual(exported!.attributes, { long: "x".repeat(1024), short: "kept", n: 7, flag: true, late: "y".repeat(1024) });
});

test.serial("ratio sampling of new traces decides as OpenTelemetry's TraceIdRatioBasedSampler does", async (t) => {
  const { TraceIdRatioBasedSampler } = await import("@opentelemetry/sdk-trace-base");
  const { ROOT_CONTEXT, SamplingDecision } = await import("@opentelemetry/api");
  const collector = await startOtlpCollector(t);
  // parentBased false: a caller's trace id is judged by the ratio like a new one, so the ids are the test's to choose.
  await startTracing({ tracesUrl: `${collector.endpoint}/v1/traces`, scheduleDelayMs: 20, sampler: { ratio: 0.4, parentBased: false } }, "1");
  t.teardown(() => stopTracing());
  const library = new TraceIdRatioBasedSampler(0.4);
  let expected = 0;
  for (let index = 0; index < 200; index++) {
    const traceId = randomBytes(16).toString("hex");
    const wanted = library.shouldSample(ROOT_CONTEXT, traceId).decision === SamplingDecision.RECORD_AND_SAMPLED;
    if (wanted) expected++;
    const span = activeTracer()!.startSpan(wanted ? "in" : "out", "server", {}, { traceparent: `00-${traceId}-${randomBytes(8).toString("hex")}-01` });
    const carrier: Record<string, unknown> = {};
    span.inject(carrier);
    t.is(String(carrier.traceparent).slice(-2), wanted ? "01" : "00");
    span.end();
  }
  await stopTracing();
  t.true(expected > 40 && expected < 120, `${expected} of 200 sampled`);
  t.is(collector.spans.length, expected);
  t.true(collector.spans.every((span) => span.name === "in"));
});
