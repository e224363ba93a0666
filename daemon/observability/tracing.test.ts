import test from "ava";
import { randomBytes } from "node:crypto";
import { silentLogger } from "../../shared/logger.js";
import { startTracing, stopTracing } from "../tracing/request-tracer.js";
import { OTLP_SPAN_KIND, startOtlpCollector, type CollectedSpan } from "../../test/e2e/helpers/otlp-collector.js";
import { createMcpEngine } from "../mcp/engine.js";
import { createMemorySupervisor } from "../mcp/testing/memory-supervisor.js";
import { RawSession } from "../mcp/testing/session-harness.js";
import { createProbe, createTestServer } from "../mcp/testing/test-server.js";

/**
 * The daemon's spans on the real engine (in-memory servers) with the real OpenTelemetry SDK exporting to a real
 * OTLP/HTTP receiver on loopback: what the end-to-end test does not reach — cancellation, requests the engine answers
 * itself, concurrent sessions, and typed RPCs. Serial: the tracer is one per process.
 */

function describeSpans(spans: readonly CollectedSpan[]): string {
  return JSON.stringify(spans.map((s) => ({ name: s.name, kind: s.kind, id: s.spanId, parent: s.parentSpanId, attributes: s.attributes })), null, 1);
}

function traceparent(): { header: string; traceId: string; spanId: string } {
  const traceId = randomBytes(16).toString("hex");
  const spanId = randomBytes(8).toString("hex");
  return { header: `00-${traceId}-${spanId}-01`, traceId, spanId };
}

test.serial("engine spans: cancellation, lists, concurrent sessions and typed calls", async (t) => {
  const collector = await startOtlpCollector(t);
  t.true(await startTracing({ tracesUrl: `${collector.endpoint}/v1/traces`, scheduleDelayMs: 50 }, "9.9.9"));
  t.teardown(() => stopTracing());
  const probe = createProbe();
  const supervisor = createMemorySupervisor([{ name: "alpha", create: () => createTestServer("alpha", probe) }]);
  await supervisor.start();
  const engine = createMcpEngine({ supervisor, logger: silentLogger, version: "9.9.9", acquireTimeoutMs: 2_000 });
  t.teardown(async () => {
    engine.close();
    await supervisor.shutdown();
  });
  const one = new RawSession(engine);
  await one.initialize(1);
  const two = new RawSession(engine);
  await two.initialize(1);

  // A cancelled call: the request's span says so.
  const cancelled = traceparent();
  one.send(10, { jsonrpc: "2.0", id: 5, method: "tools/call", params: { name: "alpha-slow", arguments: { ms: 60_000 }, _meta: { traceparent: cancelled.header } } });
  await one.until(() => probe.running === 1);
  one.send(11, { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 5 } });

  // Two sessions at once: each call's spans stay in its own client's trace.
  const first = traceparent();
  const second = traceparent();
  await Promise.all([
    one.request(12, 6, "tools/call", { name: "alpha-echo", arguments: { text: "a" }, _meta: { traceparent: first.header } }),
    two.request(12, 6, "tools/call", { name: "alpha-echo", arguments: { text: "b" }, _meta: { traceparent: second.header } }),
  ]);

  // A list the engine answers from its catalog: a span of its own, naming no server.
  const listed = traceparent();
  await one.request(13, 7, "tools/list", { _meta: { traceparent: listed.header } });

  // A client's absurd tool name: refused as unknown, and only a bounded piece of it is recorded.
  const huge = traceparent();
  await one.request(14, 8, "tools/call", { name: "x".repeat(100_000), arguments: {}, _meta: { traceparent: huge.header } });

  // A typed RPC (the control API's CallTool) carries no client trace context and is not traced.
  const spansBefore = () => collector.spans.filter((s) => s.name.includes("alpha-echo")).length;
  await engine.callTool("alpha-echo", { text: "typed" });

  const done = await collector.waitFor(
    (spans) =>
      [cancelled, first, second].every((trace) => spans.some((s) => s.traceId === trace.traceId)) &&
      spans.some((s) => s.traceId === listed.traceId) &&
      spans.some((s) => s.traceId === huge.traceId),
  );
  t.true(done, describeSpans(collector.spans));

  // One span per request, the client's span its parent.
  const cancelSpans = collector.spans.filter((s) => s.traceId === cancelled.traceId);
  t.deepEqual(cancelSpans.map((s) => [s.name, s.kind, s.parentSpanId]), [["tools/call alpha-slow", OTLP_SPAN_KIND.server, cancelled.spanId]]);
  t.is(cancelSpans[0]?.attributes["deploystack.outcome"], "cancelled");
  t.is(cancelSpans[0]?.attributes["error.type"], "cancelled");
  t.is(cancelSpans[0]?.attributes["deploystack.server.name"], "alpha");

  for (const trace of [first, second]) {
    const spans = collector.spans.filter((s) => s.traceId === trace.traceId);
    t.deepEqual(spans.map((s) => [s.name, s.kind, s.parentSpanId]), [["tools/call alpha-echo", OTLP_SPAN_KIND.server, trace.spanId]]);
    t.is(spans[0]?.attributes["deploystack.outcome"], "ok");
  }

  const list = collector.spans.filter((s) => s.traceId === listed.traceId);
  t.deepEqual(list.map((s) => [s.name, s.kind, s.parentSpanId]), [["tools/list", OTLP_SPAN_KIND.server, listed.spanId]]);
  t.false("deploystack.server.name" in (list[0]?.attributes ?? {}), "answered from the catalog: no server was asked");
  t.is(list[0]?.attributes["mcp.protocol.version"], "2025-11-25");

  const hugeSpan = collector.spans.find((s) => s.traceId === huge.traceId)!;
  t.true(hugeSpan.name.length < 300, `${hugeSpan.name.length}`);
  t.true(String(hugeSpan.attributes["gen_ai.tool.name"]).length <= 1024);
  t.is(hugeSpan.attributes["deploystack.outcome"], "error");

  // The typed call's spans would have been exported with the others (same batch schedule): there are none.
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.is(spansBefore(), 2, "one span for each of the two sessions' echo calls, none for the typed call");
});
