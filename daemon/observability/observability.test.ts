import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { GatewayError } from "../errors.js";
import { createMasker } from "../supervisor/masking.js";
import { RawJson } from "../upstream/raw-json.js";
import { UpstreamRpcError } from "../upstream/types.js";
import { createAuditLog, type AuditRecord } from "./audit-log.js";
import { createGatewayMetrics } from "./gateway-metrics.js";
import { callErrorCode, callOutcome, createObservability, type AuditSettings } from "./observability.js";

const SECRET = "sk-live-0123456789";

function setup(t: { teardown(fn: () => void): void }, audit: AuditSettings) {
  const dir = mkdtempSync(join(tmpdir(), "observability-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const metrics = createGatewayMetrics({
    servers: () => [{ name: "alpha", state: "running", restarts: 2 }],
    knownTool: (server, name) => server === "alpha" && name === "alpha-echo",
    processMetrics: false,
  });
  const log = createAuditLog({ path: join(dir, "audit.jsonl") });
  t.teardown(() => log.close());
  let clock = 1_000;
  const team = { id: "demo", audit };
  const observability = createObservability({
    metrics,
    audit: log,
    team: () => team,
    account: () => "dev@example.com",
    masker: () => createMasker([SECRET]),
    auditKey: () => Buffer.alloc(32, 1),
    wallClock: () => Date.parse("2026-12-04T12:00:00Z"),
    monotonic: () => clock,
  });
  const advance = (ms: number): void => void (clock += ms);
  const lines = (): AuditRecord[] => {
    log.flush();
    if (!existsSync(log.path)) return [];
    return readFileSync(log.path, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as AuditRecord);
  };
  return { observability, metrics, lines, advance };
}

test("outcomes and error codes: ok, tool_error, denied, cancelled, error; a forwarded raw result is not inspected", (t) => {
  t.is(callOutcome({ content: [] }, undefined), "ok");
  t.is(callOutcome({ isError: true }, undefined), "tool_error");
  t.is(callOutcome(new RawJson([Buffer.from('{"isError":true}')], 16), undefined), "ok");
  t.is(callOutcome(undefined, new GatewayError("permission_denied", "no")), "denied");
  t.is(callOutcome(undefined, new GatewayError("cancelled", "bye")), "cancelled");
  t.is(callOutcome(undefined, new GatewayError("unavailable", "down")), "error");
  t.is(callOutcome(undefined, new UpstreamRpcError(-32602, "bad")), "error");
  t.is(callErrorCode(new UpstreamRpcError(-32602, `bad ${SECRET}`)), "-32602");
  t.is(callErrorCode(new GatewayError("not_found", `unknown tool "${SECRET}"`)), "not_found");
  t.is(callErrorCode(new Error(SECRET)), "internal");
  t.is(callErrorCode(undefined), undefined);
});

test("one finished call feeds the metrics, the figures and one audit line; secrets a client sent are masked", async (t) => {
  const { observability, metrics, lines, advance } = setup(t, { enabled: true, arguments: "full" });
  const client = { name: `client ${SECRET}`, era: "legacy" as const, transport: "streamable_http" as const };
  let started = observability.now();
  advance(12.5);
  observability.finished("tools/call", "alpha-echo", "alpha", "alpha-echo", client, { text: SECRET, n: 1 }, started, { content: [] }, undefined);
  started = observability.now();
  advance(1);
  observability.finished("tools/call", `nope-${SECRET}`, undefined, undefined, client, {}, started, undefined, new GatewayError("not_found", "x"));
  started = observability.now();
  observability.finished("resources/read", `file:///${SECRET}`, "alpha", undefined, client, undefined, started, { contents: [] }, undefined);

  const [ok, unknown, read] = lines();
  t.deepEqual(ok, {
    time: "2026-12-04T12:00:00.000Z",
    team: "demo",
    account: "dev@example.com",
    client: { name: "client ***", era: "legacy", transport: "streamable_http" },
    operation: "tools/call",
    name: "alpha-echo",
    canonicalName: "alpha-echo",
    server: "alpha",
    outcome: "ok",
    durationMs: 12.5,
    arguments: { mode: "full", keys: ["n", "text"], values: { text: "***", n: 1 } },
  });
  t.like(unknown, { name: "nope-***", outcome: "error", errorCode: "not_found" });
  t.false("server" in unknown!);
  t.like(read, { operation: "resources/read", name: "file:///***", server: "alpha" });

  const text = await metrics.text();
  t.false(text.includes(SECRET));
  t.regex(text, /deploystack_gateway_tool_calls_total\{server="alpha",tool="alpha-echo",outcome="ok"\} 1/);
  t.regex(text, /deploystack_gateway_tool_calls_total\{server="other",tool="other",outcome="error"\} 1/);
  t.regex(text, /deploystack_gateway_resource_reads_total\{server="alpha",outcome="ok"\} 1/);
  t.regex(text, /deploystack_gateway_server_restarts_total\{server="alpha"\} 2/);
  t.regex(text, /deploystack_gateway_server_state\{server="alpha",state="running"\} 1/);
  const figures = observability.stats.server("alpha", 60, Date.parse("2026-12-04T12:00:00Z"));
  t.is(figures.calls, 2);
  t.is(figures.p99Ms, 12.5);
});

test("with the audit off nothing is written, and the metrics and figures still count", async (t) => {
  const { observability, metrics, lines } = setup(t, { enabled: false, arguments: "none" });
  observability.finished("tools/call", "alpha-echo", "alpha", "alpha-echo", undefined, {}, observability.now(), { content: [] }, undefined);
  t.deepEqual(lines(), []);
  t.regex(await metrics.text(), /deploystack_gateway_tool_calls_total\{server="alpha",tool="alpha-echo",outcome="ok"\} 1/);
  t.is(observability.stats.total(60, Date.parse("2026-12-04T12:00:00Z")).calls, 1);
});

test("sessions are counted by era and transport while open", (t) => {
  const { observability } = setup(t, { enabled: true, arguments: "none" });
  observability.sessionOpened("legacy", "sse");
  observability.sessionOpened("legacy", "sse");
  observability.sessionOpened("legacy", "stdio");
  observability.sessionClosed("legacy", "stdio");
  t.deepEqual(observability.sessions(), [{ era: "legacy", transport: "sse", open: 2 }]);
});

test("an audit line keeps its field order (time, team, account, client, operation, name, canonicalName, server, outcome, durationMs, errorCode, arguments)", (t) => {
  const { observability, lines } = setup(t, { enabled: true, arguments: "keys" });
  const started = observability.now();
  observability.finished("tools/call", "alpha-echo", "alpha", "echo", { name: "ide", era: "legacy", transport: "sse" }, { b: 1, a: 2 }, started, undefined, new GatewayError("unavailable", "down"));
  observability.finished("prompts/get", "greet", "alpha", undefined, undefined, undefined, started, { messages: [] }, undefined);
  const [full, bare] = lines();
  t.deepEqual(Object.keys(full!), ["time", "team", "account", "client", "operation", "name", "canonicalName", "server", "outcome", "durationMs", "errorCode", "arguments"]);
  t.deepEqual(Object.keys(full!.client), ["name", "era", "transport"]);
  t.deepEqual(full!.arguments, { mode: "keys", keys: ["a", "b"] });
  t.deepEqual(Object.keys(bare!), ["time", "team", "account", "client", "operation", "name", "server", "outcome", "durationMs", "arguments"]);
  t.deepEqual(bare!.client, { transport: "unspecified" });
});

test("counters summed between scrapes: each scrape shows every increment once, whichever counter is read first", async (t) => {
  const metrics = createGatewayMetrics({ servers: () => [], knownTool: () => true, processMetrics: false });
  for (let index = 0; index < 3; index++) metrics.observeCall("tools/call", "alpha", "echo", "ok", 0.002);
  metrics.upstream("alpha", "tools/call", false);
  metrics.upstream("alpha", "tools/call", true);
  metrics.bytes("received", "sse", 100);
  metrics.bytes("received", "sse", 20);
  metrics.bytes("sent", "sse", 0);
  let text = await metrics.text();
  t.regex(text, /deploystack_gateway_tool_calls_total\{server="alpha",tool="echo",outcome="ok"\} 3\n/);
  t.regex(text, /deploystack_gateway_tool_call_duration_seconds_count\{server="alpha",tool="echo",outcome="ok"\} 3\n/);
  t.regex(text, /deploystack_gateway_upstream_requests_total\{server="alpha",method="tools\/call"\} 2\n/);
  t.regex(text, /deploystack_gateway_upstream_errors_total\{server="alpha",method="tools\/call"\} 1\n/);
  t.regex(text, /deploystack_gateway_mcp_received_bytes_total\{transport="sse"\} 120\n/);
  t.notRegex(text, /deploystack_gateway_mcp_sent_bytes_total\{/);
  t.is(await metrics.text(), text, "a scrape with nothing new in between shows the same counts");
  metrics.observeCall("tools/call", "alpha", "echo", "ok", 0.002);
  metrics.bytes("sent", "sse", 7);
  t.is((await metrics.registry.getSingleMetric("deploystack_gateway_mcp_sent_bytes_total")!.get()).values[0]?.value, 7);
  text = await metrics.text();
  t.regex(text, /deploystack_gateway_tool_calls_total\{server="alpha",tool="echo",outcome="ok"\} 4\n/);
  t.regex(text, /deploystack_gateway_mcp_sent_bytes_total\{transport="sse"\} 7\n/);
});
