import test from "ava";
import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { GetStatsResponseSchema, GetStatusResponseSchema } from "../../gen/deploystack/gateway/v1/gateway_service_pb.js";
import { ServerState } from "../../gen/deploystack/gateway/v1/server_pb.js";
import { TeamSchema } from "../../gen/deploystack/gateway/v1/team_pb.js";
import { fitLine, formatLatency, renderTop, type TopSnapshot } from "./top.js";

function snapshot(servers: number, tools: number): TopSnapshot {
  const calls = (n: number) => ({ calls: BigInt(n), errors: BigInt(n % 3), callsPerSecond: n / 60, p50: durationFromMs(n), p99: durationFromMs(n * 10) });
  return {
    time: Date.parse("2026-12-04T12:00:00Z"),
    status: create(GetStatusResponseSchema, { team: create(TeamSchema, { id: "demo" }) }),
    stats: create(GetStatsResponseSchema, {
      window: durationFromMs(60_000),
      servers: Array.from({ length: servers }, (_, i) => ({ server: `server-with-a-rather-long-name-${i}`, state: ServerState.RUNNING, calls: calls(i + 1), restarts: i })),
      tools: Array.from({ length: tools }, (_, i) => ({ tool: `server-${i}-a_tool_name_that_goes_on_and_on_past_any_column_${i}`, server: `server-${i}`, calls: calls(100 - i) })),
      sessions: [{ era: "legacy", transport: "streamable_http", open: 2 }],
      total: calls(500),
    }),
  };
}

test("a snapshot fits 80×24 however many servers and tools, saying how many rows were left out", (t) => {
  const lines = renderTop(snapshot(30, 40), { columns: 80, rows: 24 });
  t.true(lines.length <= 24);
  for (const line of lines) t.true(line.length <= 80, line);
  t.regex(lines[0]!, /^dsctl top — team demo · 30 servers · 2 sessions · last 60s · 12:00:00/);
  t.truthy(lines.find((line) => /^… \d+ more servers$/.test(line)));
  t.truthy(lines.find((line) => /^… \d+ more tools$/.test(line)));
  t.is(lines.at(-1), "sessions: 2 legacy streamable_http");
  t.regex(lines.find((line) => line.startsWith("SERVER"))!, /STATE\s+CALLS\/S\s+P50\s+P99\s+ERRORS\s+RESTARTS/);
});

test("a small gateway is shown whole, and a narrow terminal cuts lines instead of wrapping", (t) => {
  const lines = renderTop(snapshot(2, 1), { columns: 80, rows: 24 });
  t.false(lines.some((line) => line.includes("more")));
  t.is(lines.filter((line) => line.includes("RUNNING")).length, 2);
  const narrow = renderTop(snapshot(2, 1), { columns: 40, rows: 24 });
  for (const line of narrow) t.true(line.length <= 40, line);
  t.regex(narrow[0]!, /…$/);
});

test("latencies and control characters are shown for a terminal", (t) => {
  t.is(formatLatency(0), "-");
  t.is(formatLatency(0.42), "0.4ms");
  t.is(formatLatency(123.4), "123ms");
  t.is(formatLatency(2500), "2.5s");
  t.is(fitLine("a\x1b[2Jb", 80), "a\\x1b[2Jb");
});
