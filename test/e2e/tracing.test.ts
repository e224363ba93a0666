import test, { type ExecutionContext } from "ava";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { fixtureServer, repoRoot, startDaemon, waitForRunning, waitUntil, type DaemonProcess, type TeamServer } from "./helpers/daemon-process.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { connectGatewayClient } from "./helpers/mcp-clients.js";
import { META } from "../../shared/mcp-modern.js";
import { MODERN_PROTOCOL_VERSIONS } from "../../shared/mcp-protocol-versions.js";
import { OTLP_SPAN_KIND, startOtlpCollector, type CollectedSpan } from "./helpers/otlp-collector.js";

/**
 * Traces end to end: a real daemon (behind its frontend) exporting to a real OTLP/HTTP receiver on loopback (protobuf
 * bodies decoded with OpenTelemetry's generated types), a real SDK client that sends the 2026-07-28 `_meta.traceparent`,
 * and a server that answers with the `_meta` it received. Also: no secret in any exported byte, and with tracing off
 * no span and no OpenTelemetry module in the daemon.
 */

const canary = `trace-canary-${randomBytes(12).toString("hex")}`;

const servers: TeamServer[] = [
  { name: "meta", args: [fixtureServer("meta-echo-server.mjs")] },
  { name: "leaker", args: [fixtureServer("secret-leaker.mjs")], env: { LEAKER_SECRET: canary } },
];

const hookImport = `--import=${pathToFileURL(join(repoRoot, "test/e2e/helpers/record-module-loads.mjs")).href}`;

/** An empty file for the module-load recorder, removed when the test ends. */
function loadsFile(t: ExecutionContext, label: string): string {
  const folder = mkdtempSync(join(tmpdir(), `dsgw-loads-${label}-`));
  t.teardown(() => rmSync(folder, { recursive: true, force: true }));
  const file = join(folder, "loads.txt");
  writeFileSync(file, "");
  return file;
}

/** The MCP URL once the frontend answers. */
async function mcpUrlOf(daemon: DaemonProcess): Promise<string> {
  let url = "";
  const ok = await waitUntil(async () => {
    const status = await daemon.clients.gateway.getStatus({});
    if (!status.frontendRunning || !status.mcpUrl) return false;
    const response = await fetch(new URL("/healthz", status.mcpUrl)).catch(() => undefined);
    await response?.arrayBuffer();
    if (response?.status !== 200) return false;
    url = status.mcpUrl;
    return true;
  }, 90_000);
  if (!ok) throw new Error(`the frontend did not come up.\nstderr:\n${daemon.stderr()}`);
  return url;
}

function resultText(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  return content.map((item) => item.text ?? "").join("");
}

/** The OTel SDK's traceparent (version 00, 32 hex trace id, 16 hex span id, flags). */
function parseTraceparent(value: unknown): { traceId: string; spanId: string; flags: string } {
  const match = typeof value === "string" ? /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(value) : null;
  if (!match) throw new Error(`not a traceparent: ${JSON.stringify(value)}`);
  return { traceId: match[1]!, spanId: match[2]!, flags: match[3]! };
}

/** Every form of the canary a careless exporter could carry. */
function canaryForms(): string[] {
  const bytes = Buffer.from(canary);
  return [canary, bytes.toString("base64"), bytes.toString("base64url"), bytes.toString("hex"), encodeURIComponent(canary), canary.toUpperCase()];
}

function describeSpans(spans: readonly CollectedSpan[]): string {
  return JSON.stringify(spans.map((s) => ({ service: s.service, name: s.name, kind: s.kind, id: s.spanId, parent: s.parentSpanId, trace: s.traceId })), null, 1);
}

test("tracing on: one daemon span per MCP request joins the client's trace and is the parent the server gets", async (t) => {
  const collector = await startOtlpCollector(t);
  const loads = loadsFile(t, "on");
  const daemon = await startDaemon(t, {
    servers,
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "",
      OTEL_SDK_DISABLED: "",
      OTEL_TRACES_EXPORTER: "",
      OTEL_BSP_SCHEDULE_DELAY: "100",
      NODE_OPTIONS: hookImport,
      RECORD_MODULE_LOADS: loads,
    },
  });
  await waitForRunning(daemon, ["meta", "leaker"]);
  const mcpUrl = await mcpUrlOf(daemon);
  const client = await connectGatewayClient({ mcpUrl, sseUrl: "" }, "streamable", { name: "trace-client" });
  t.teardown(() => client.close());

  const clientTraceId = randomBytes(16).toString("hex");
  const clientSpanId = randomBytes(8).toString("hex");
  const result = await client.client.callTool({
    name: "meta-echo_meta",
    arguments: {},
    _meta: { traceparent: `00-${clientTraceId}-${clientSpanId}-01`, tracestate: "vendor=opaque", "example.com/other": "kept" },
  });
  const received = JSON.parse(resultText(result)) as Record<string, unknown>;
  const upstream = parseTraceparent(received.traceparent);
  t.is(upstream.traceId, clientTraceId, "the server's request belongs to the client's trace");
  t.is(upstream.flags, "01");
  t.not(upstream.spanId, clientSpanId, "the gateway put its own span between the client and the server");
  t.is(received.tracestate, "vendor=opaque", "the client's tracestate travels on");
  t.is(received["example.com/other"], "kept", "other _meta keys pass through");

  t.true(await collector.waitFor((spans) => spans.some((s) => s.spanId === upstream.spanId)), describeSpans(collector.spans));
  // The request's one span: the client's span its parent, the server's request its child.
  const inTrace = collector.spans.filter((s) => s.traceId === clientTraceId);
  t.is(inTrace.length, 1, describeSpans(inTrace));
  const span = inTrace[0]!;
  t.is(span.spanId, upstream.spanId);
  t.is(span.parentSpanId, clientSpanId);
  t.is(span.service, "deploystack-gateway");
  t.is(span.kind, OTLP_SPAN_KIND.server);
  t.is(span.name, "tools/call meta-echo_meta");
  t.is(span.traceState, "vendor=opaque");
  t.is(span.attributes["mcp.method.name"], "tools/call");
  t.is(span.attributes["gen_ai.tool.name"], "meta-echo_meta");
  t.is(span.attributes["gen_ai.operation.name"], "execute_tool");
  t.is(span.attributes["deploystack.tool.canonical_name"], "meta-echo_meta");
  t.is(span.attributes["deploystack.server.name"], "meta");
  t.is(span.attributes["deploystack.outcome"], "ok");
  t.is(typeof span.attributes["mcp.protocol.version"], "string");

  // A request without any trace context starts a trace of the gateway's own, still handed on to the server.
  const fresh = JSON.parse(resultText(await client.client.callTool({ name: "meta-echo_meta", arguments: {} }))) as Record<string, unknown>;
  const freshParent = parseTraceparent(fresh.traceparent);
  t.not(freshParent.traceId, clientTraceId);
  t.true(await collector.waitFor((spans) => spans.some((s) => s.spanId === freshParent.spanId)));
  t.is(collector.spans.find((s) => s.spanId === freshParent.spanId)?.parentSpanId, "", "the gateway's span is the root");

  // A tool error and a prompt are traced with their outcome and target.
  await client.client.callTool({ name: "meta-fail", arguments: {} });
  const prompt = await client.client.getPrompt({ name: "meta-meta_prompt" });
  const promptMeta = JSON.parse((prompt.messages[0]!.content as { text: string }).text) as Record<string, unknown>;
  const promptParent = parseTraceparent(promptMeta.traceparent);
  t.true(
    await collector.waitFor((spans) => spans.some((s) => s.name === "tools/call meta-fail") && spans.some((s) => s.spanId === promptParent.spanId)),
    describeSpans(collector.spans),
  );
  const failed = collector.spans.find((s) => s.name === "tools/call meta-fail")!;
  t.is(failed.attributes["deploystack.outcome"], "tool_error");
  t.is(failed.attributes["error.type"], "tool_error");
  t.is(failed.statusCode, 2);
  const promptSpan = collector.spans.find((s) => s.spanId === promptParent.spanId)!;
  t.is(promptSpan.name, "prompts/get meta-meta_prompt");
  t.is(promptSpan.attributes["gen_ai.prompt.name"], "meta-meta_prompt");
  t.is(promptSpan.attributes["deploystack.server.name"], "meta");

  // An unknown tool: the span carries the JSON-RPC code and names no server (none was asked).
  await t.throwsAsync(client.client.callTool({ name: "meta-nope", arguments: {} }));
  t.true(await collector.waitFor((spans) => spans.some((s) => s.name === "tools/call meta-nope")));
  const unknown = collector.spans.find((s) => s.name === "tools/call meta-nope")!;
  t.is(unknown.attributes["deploystack.outcome"], "error");
  t.is(unknown.attributes["rpc.response.status_code"], "-32602");
  t.false("deploystack.server.name" in unknown.attributes);

  // A canary: the secret is in the arguments, in a server's error and in a result; none of it is in any span.
  await client.client.callTool({ name: "leaker-leak_result", arguments: { note: canary } }).catch(() => undefined);
  await client.client.callTool({ name: "leaker-leak_error", arguments: { note: canary } }).catch(() => undefined);
  t.true(
    await collector.waitFor((spans) => ["tools/call leaker-leak_result", "tools/call leaker-leak_error"].every((name) => spans.some((s) => s.name === name))),
    describeSpans(collector.spans),
  );
  // The misbehaving server's JSON-RPC error: the span failed with its code, its message nowhere.
  const leak = collector.spans.find((s) => s.name === "tools/call leaker-leak_error")!;
  t.is(leak.attributes["deploystack.outcome"], "error");
  t.is(leak.attributes["rpc.response.status_code"], "-32603");
  t.is(leak.attributes["error.type"], "-32603");
  t.is(leak.statusCode, 2);
  // A server that dies in the middle of a call: the call's span still ends, failed.
  await t.throwsAsync(client.client.callTool({ name: "leaker-crash", arguments: {} }));
  t.true(await collector.waitFor((spans) => spans.some((s) => s.name === "tools/call leaker-crash")), describeSpans(collector.spans));
  const crash = collector.spans.find((s) => s.name === "tools/call leaker-crash")!;
  t.is(crash.attributes["deploystack.outcome"], "error");
  t.is(crash.statusCode, 2);

  t.true(collector.bodies.length > 0);
  const exported = Buffer.concat(collector.bodies).toString("latin1");
  for (const form of canaryForms()) t.false(exported.includes(form), `the canary (${form.slice(0, 12)}…) is in an exported span`);
  t.is(collector.rejected, 0, "every export was a valid OTLP protobuf request");

  // No `_meta` context: the W3C traceparent HTTP header (and its tracestate), which the frontend hands on, is joined.
  const headerTraceId = randomBytes(16).toString("hex");
  const headerSpanId = randomBytes(8).toString("hex");
  const headerClient = new Client({ name: "header-client", version: "1.0.0" });
  await headerClient.connect(
    new StreamableHTTPClientTransport(new URL(mcpUrl), { requestInit: { headers: { traceparent: `00-${headerTraceId}-${headerSpanId}-01`, tracestate: "hdr=1" } } }),
  );
  t.teardown(() => headerClient.close());
  const viaHeader = JSON.parse(resultText(await headerClient.callTool({ name: "meta-echo_meta", arguments: {} }))) as Record<string, unknown>;
  const headerParent = parseTraceparent(viaHeader.traceparent);
  t.is(headerParent.traceId, headerTraceId);
  t.is(viaHeader.tracestate, "hdr=1");
  t.true(await collector.waitFor((spans) => spans.some((s) => s.spanId === headerParent.spanId)));
  t.is(collector.spans.find((s) => s.spanId === headerParent.spanId)?.parentSpanId, headerSpanId);
  // Both: the request's own `_meta` wins over the header (the MCP convention is the more precise one).
  const metaTraceId = randomBytes(16).toString("hex");
  const viaBoth = JSON.parse(
    resultText(await headerClient.callTool({ name: "meta-echo_meta", arguments: {}, _meta: { traceparent: `00-${metaTraceId}-${randomBytes(8).toString("hex")}-01` } })),
  ) as Record<string, unknown>;
  t.is(parseTraceparent(viaBoth.traceparent).traceId, metaTraceId);
  t.is(viaBoth.tracestate, undefined, "the header's tracestate does not go with another trace");

  // Legacy HTTP+SSE: the POST's message reaches the daemon the same way.
  const sseTraceId = randomBytes(16).toString("hex");
  const sse = await connectGatewayClient({ mcpUrl, sseUrl: mcpUrl.replace(/\/mcp$/, "/sse") }, "sse", { name: "sse-client" });
  t.teardown(() => sse.close());
  const viaSse = JSON.parse(
    resultText(await sse.client.callTool({ name: "meta-echo_meta", arguments: {}, _meta: { traceparent: `00-${sseTraceId}-${randomBytes(8).toString("hex")}-01` } })),
  ) as Record<string, unknown>;
  t.is(parseTraceparent(viaSse.traceparent).traceId, sseTraceId);
  t.true(await collector.waitFor((spans) => spans.some((s) => s.traceId === sseTraceId && s.name === "tools/call meta-echo_meta")), describeSpans(collector.spans));

  // A modern (2026-07-28) request, no session: one span the same way, with the request's protocol version.
  const modernTraceId = randomBytes(16).toString("hex");
  const modernSpanId = randomBytes(8).toString("hex");
  const modern = MODERN_PROTOCOL_VERSIONS[0]!;
  const modernAnswer = await fetch(mcpUrl, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", "mcp-protocol-version": modern, "mcp-method": "tools/call", "mcp-name": "meta-echo_meta" },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: {
        name: "meta-echo_meta",
        arguments: {},
        _meta: {
          [META.protocolVersion]: modern,
          [META.clientCapabilities]: {},
          [META.clientInfo]: { name: "modern-trace-client", version: "1.0.0" },
          traceparent: `00-${modernTraceId}-${modernSpanId}-01`,
        },
      },
    }),
  });
  t.is(modernAnswer.status, 200);
  const viaModern = JSON.parse(resultText(((await modernAnswer.json()) as { result: unknown }).result)) as Record<string, unknown>;
  const modernParent = parseTraceparent(viaModern.traceparent);
  t.is(modernParent.traceId, modernTraceId);
  t.true(await collector.waitFor((spans) => spans.some((s) => s.spanId === modernParent.spanId)), describeSpans(collector.spans));
  const modernSpan = collector.spans.find((s) => s.spanId === modernParent.spanId);
  t.is(modernSpan?.parentSpanId, modernSpanId);
  t.is(modernSpan?.attributes["mcp.protocol.version"], modern);

  // A client's malformed trace context is ignored (a new trace), never an error; an oversized tracestate is not carried on.
  const malformed = JSON.parse(
    resultText(await client.client.callTool({ name: "meta-echo_meta", arguments: {}, _meta: { traceparent: "00-zz-not-a-trace", tracestate: `k=${"v".repeat(10_000)}` } })),
  ) as Record<string, unknown>;
  parseTraceparent(malformed.traceparent);
  t.true(typeof malformed.tracestate !== "string" || malformed.tracestate.length <= 512);
  const badType = JSON.parse(resultText(await client.client.callTool({ name: "meta-echo_meta", arguments: {}, _meta: { traceparent: 42 } }))) as Record<string, unknown>;
  parseTraceparent(badType.traceparent);

  // Only the daemon makes spans: the frontend exports nothing.
  t.false(collector.spans.some((s) => s.service !== "deploystack-gateway"), describeSpans(collector.spans.filter((s) => s.service !== "deploystack-gateway")));
  // The loads recorder sees OpenTelemetry when it is on: the check of the test below is not vacuous.
  t.true(readFileSync(loads, "utf8").includes("/node_modules/@opentelemetry/"));
});

test("tracing off: a client's trace context reaches the server untouched, nothing is exported and OpenTelemetry is never loaded", async (t) => {
  const collector = await startOtlpCollector(t);
  const loads = loadsFile(t, "off");
  const daemon = await startDaemon(t, {
    servers,
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: "",
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "",
      NODE_OPTIONS: hookImport,
      RECORD_MODULE_LOADS: loads,
    },
  });
  await waitForRunning(daemon, ["meta"]);
  const mcpUrl = await mcpUrlOf(daemon);
  const client = await connectGatewayClient({ mcpUrl, sseUrl: "" }, "streamable", { name: "untraced-client" });
  t.teardown(() => client.close());
  const traceparent = `00-${randomBytes(16).toString("hex")}-${randomBytes(8).toString("hex")}-01`;
  const result = await client.client.callTool({ name: "meta-echo_meta", arguments: {}, _meta: { traceparent, tracestate: "vendor=opaque" } });
  const received = JSON.parse(resultText(result)) as Record<string, unknown>;
  t.is(received.traceparent, traceparent, "passed through as the client sent it");
  t.is(received.tracestate, "vendor=opaque");
  const bare = JSON.parse(resultText(await client.client.callTool({ name: "meta-echo_meta", arguments: {} }))) as Record<string, unknown> | null;
  t.is(bare?.traceparent, undefined, "no trace context is made up");

  // Give a would-be exporter well past its schedule (the on test's spans arrive within 100 ms of the calls).
  await new Promise((resolve) => setTimeout(resolve, 1500));
  t.is(collector.spans.length, 0);
  t.is(collector.bodies.length, 0);
  const loaded = readFileSync(loads, "utf8");
  t.true(loaded.includes("/dist/daemon/main.js"), "the recorder saw the daemon's own modules");
  t.true(loaded.includes("/dist/daemon/tracing/request-tracer.js"), "the tracing seam itself is loaded");
  t.false(loaded.includes("/@opentelemetry/"), loaded.split("\n").filter((line) => line.includes("opentelemetry")).join("\n"));
  t.false(loaded.includes("/dist/daemon/tracing/otel-tracer.js"));
  t.regex(daemon.stderr(), /daemon started/);
  t.notRegex(daemon.stderr(), /tracing on/);
});
