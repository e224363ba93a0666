import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import { Client as ClientV2, StreamableHTTPClientTransport as StreamableHttpV2 } from "@modelcontextprotocol/client";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { PRIMING_HOLD_MS } from "../../frontend/session/session.js";
import type { HopTimingReport } from "../../shared/hop-timing.js";
import { normalServer, startDaemon, tempHome, waitForRunning, waitUntil } from "./helpers/daemon-process.js";

// DEPLOYSTACK_HOP_TIMING_DIR turns the hot path's in-process timers on (bench/ reads them for the per-hop breakdown):
// the daemon and the frontend it starts each write their spans' percentiles there; without it nothing is written.

function reports(dir: string): HopTimingReport[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).map((file) => JSON.parse(readFileSync(join(dir, file), "utf8")) as HopTimingReport);
}

/** A gateway with hop timing on and one server, `alpha`: the folder its figures go to and its MCP URL. */
async function startTimedGateway(t: ExecutionContext): Promise<{ dir: string; url: string }> {
  const home = tempHome(t);
  const dir = join(home, "hop-timing");
  const timed = await startDaemon(t, { home, servers: [normalServer("alpha")], env: { DEPLOYSTACK_HOP_TIMING_DIR: dir } });
  await waitForRunning(timed, ["alpha"]);
  let url = "";
  t.true(await waitUntil(async () => ((url = (await timed.clients.gateway.getStatus({})).mcpUrl), url !== ""), 60_000));
  return { dir, url };
}

test("with DEPLOYSTACK_HOP_TIMING_DIR, daemon and frontend report every hop of the calls that went through them", async (t) => {
  const calls = 20;
  const { dir, url } = await startTimedGateway(t);
  const client = new Client({ name: "e2e", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  // Every fourth call outlasts the priming hold, so its POST's SSE stream opens before the answer: its hops end
  // with the stream, and are counted like the others.
  for (let i = 0; i < calls; i++) {
    if (i % 4 === 3) await client.callTool({ name: "alpha-slow", arguments: { ms: 4 * PRIMING_HOLD_MS } });
    else await client.callTool({ name: "alpha-echo", arguments: { text: `hop ${i}` } });
  }
  await client.close();

  // Figures are written once a second while new spans arrive: a file may be one written in the middle of the calls
  // (the POSTs of initialize and its notification count too), so wait until every span has seen every call.
  const complete = (): boolean => {
    const byRole = new Map(reports(dir).map((report) => [report.role, report]));
    const daemon = byRole.get("daemon")?.spans;
    const frontend = byRole.get("frontend")?.spans;
    return [daemon?.["daemon.upstream"], daemon?.["daemon.session"], frontend?.["frontend.post"], frontend?.["frontend.daemon"]].every(
      (span) => (span?.count ?? 0) >= calls,
    );
  };
  t.true(await waitUntil(async () => complete(), 30_000), JSON.stringify(reports(dir)));
  // One more write interval: the files then hold every span of the finished calls, not a moment in between.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const byRole = new Map(reports(dir).map((report) => [report.role, report]));
  const daemonSpans = byRole.get("daemon")!.spans;
  const frontendSpans = byRole.get("frontend")!.spans;
  t.true(daemonSpans["daemon.session"]!.count >= calls);
  t.true(frontendSpans["frontend.daemon"]!.count >= calls);
  for (const span of [...Object.values(daemonSpans), ...Object.values(frontendSpans)]) {
    t.true(span!.p50 >= 0 && span!.p50 <= span!.p90 && span!.p90 <= span!.p99, JSON.stringify(span));
  }
  // Every POST's daemon round trip lies inside the POST's own span, so its percentiles cannot exceed the POST's.
  t.true(frontendSpans["frontend.daemon"]!.p50 <= frontendSpans["frontend.post"]!.p50);
  // A fifth of the POSTs waited for a slow call: their spans end with the answer, not when the stream opened.
  const slowMicros = 4 * PRIMING_HOLD_MS * 1000;
  t.true(frontendSpans["frontend.post"]!.p90 >= slowMicros, JSON.stringify(frontendSpans));
  t.true(frontendSpans["frontend.daemon"]!.p90 >= slowMicros, JSON.stringify(frontendSpans));
  t.not(byRole.get("frontend")!.pid, byRole.get("daemon")!.pid);
});

test("modern (stateless) requests are timed like legacy ones: the POST's span holds its daemon round trip", async (t) => {
  const calls = 20;
  const { dir, url } = await startTimedGateway(t);
  const client = new ClientV2({ name: "e2e-modern", version: "1.0.0" }, { versionNegotiation: { mode: { pin: "2026-07-28" } } });
  await client.connect(new StreamableHttpV2(new URL(url)));
  for (let i = 0; i < calls; i++) await client.callTool({ name: "alpha-echo", arguments: { text: `hop ${i}` } });
  await client.close();

  // Every modern POST is a request (discovery and the calls): each has both frontend spans once it is answered.
  const frontendSpans = () => reports(dir).find((report) => report.role === "frontend")?.spans;
  const daemonSpans = () => reports(dir).find((report) => report.role === "daemon")?.spans;
  const complete = (): boolean =>
    [frontendSpans()?.["frontend.post"], frontendSpans()?.["frontend.daemon"], daemonSpans()?.["daemon.session"]].every((span) => (span?.count ?? 0) >= calls);
  t.true(await waitUntil(async () => complete(), 30_000), JSON.stringify(reports(dir)));
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const frontend = frontendSpans()!;
  const daemon = daemonSpans()!;
  // Nested spans: the POST holds the daemon round trip, which holds the daemon's handling of the request.
  t.true(frontend["frontend.daemon"]!.p50 <= frontend["frontend.post"]!.p50, JSON.stringify(frontend));
  t.true(daemon["daemon.session"]!.p50 <= frontend["frontend.daemon"]!.p50, JSON.stringify({ daemon, frontend }));
});

test("without DEPLOYSTACK_HOP_TIMING_DIR nothing is timed or written", async (t) => {
  const daemon = await startDaemon(t, { servers: [normalServer("alpha")] });
  await waitForRunning(daemon, ["alpha"]);
  const entries = readdirSync(daemon.home);
  t.false(entries.some((entry) => entry.includes("hop")), entries.join(", "));
});
