import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { createFrontendMetrics } from "./frontend-metrics.js";

test("without a daemon, /metrics still serves the frontend's own metrics and says the daemon did not answer", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "frontend-metrics-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const metrics = createFrontendMetrics(join(dir, "no-daemon.sock"));
  t.teardown(() => metrics.close());
  const text = await metrics.text();
  t.regex(text, /^deploystack_gateway_frontend_daemon_up 0$/m);
  t.regex(text, /^# TYPE deploystack_gateway_frontend_process_cpu_seconds_total counter$/m);
  t.regex(text, /^deploystack_gateway_frontend_nodejs_heap_size_used_bytes \d+/m);
  t.false(text.includes("deploystack_gateway_tool_calls_total"));
});
