/**
 * What `GET /metrics` on the MCP port serves: the daemon's registry (fetched with `GatewayService.GetMetrics`, one
 * RPC per scrape: the frontend never imports the daemon) followed by the frontend's own (its process metrics with
 * the `deploystack_gateway_frontend_` prefix, its hop timings when those are on, and whether the daemon answered).
 * The two registries use disjoint names, so their texts concatenate into one valid exposition.
 *
 * Nothing is loaded before the first scrape (prom-client and the Connect client are imported then), so a frontend
 * that is never scraped pays nothing; with hop timing on, the registry starts at once to see every span.
 */
import type { Registry } from "prom-client";
import { hopTiming } from "../shared/hop-timing.js";
import { EVENT_LOOP_SAMPLE_MS } from "../shared/process-metrics.js";

/** The exposition's content type (Prometheus text format 0.0.4). */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** The frontend's metrics source. */
export interface FrontendMetrics {
  /** The whole exposition: the daemon's metrics, then the frontend's. */
  text(): Promise<string>;
  close(): void;
}

/** Latency buckets (seconds) of the frontend's hops. */
const HOP_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1];

interface OwnMetrics {
  readonly registry: Registry;
  setDaemonUp(up: boolean): void;
}

async function createOwnMetrics(): Promise<OwnMetrics> {
  const { collectDefaultMetrics, Gauge, Histogram, Registry } = await import("prom-client");
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "deploystack_gateway_frontend_", eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  const daemonUp = new Gauge({
    name: "deploystack_gateway_frontend_daemon_up",
    help: "1 when the daemon answered the frontend's last metrics request, else 0 (its metrics are then missing).",
    registers: [registry],
  });
  if (hopTiming.enabled) {
    const hops = new Histogram({
      name: "deploystack_gateway_frontend_hop_duration_seconds",
      help: "The frontend's hop timings (DEPLOYSTACK_HOP_TIMING_DIR set): time spent per span of the hot path.",
      labelNames: ["span"],
      buckets: HOP_BUCKETS,
      registers: [registry],
    });
    hopTiming.onRecord((span, micros) => hops.labels(span).observe(micros / 1e6));
  }
  return { registry, setDaemonUp: (up) => daemonUp.set(up ? 1 : 0) };
}

/** How long a scrape waits for the daemon's part. */
const DAEMON_TIMEOUT_MS = 5_000;

/** Creates the metrics source over the daemon's control socket. */
export function createFrontendMetrics(controlSocket: string): FrontendMetrics {
  let own: Promise<OwnMetrics> | undefined;
  let closeDaemon: (() => void) | undefined;
  let daemonText: (() => Promise<string>) | undefined;
  if (hopTiming.enabled) own = createOwnMetrics();

  async function daemonClient(): Promise<() => Promise<string>> {
    if (daemonText) return daemonText;
    const [{ createClient }, { createConnectTransport, Http2SessionManager }, { connect }, { GatewayService }] = await Promise.all([
      import("@connectrpc/connect"),
      import("@connectrpc/connect-node"),
      import("node:net"),
      import("../gen/deploystack/gateway/v1/gateway_service_pb.js"),
    ]);
    const sessionManager = new Http2SessionManager("http://localhost", {}, { createConnection: () => connect(controlSocket) });
    const client = createClient(GatewayService, createConnectTransport({ httpVersion: "2", baseUrl: "http://localhost", sessionManager }));
    closeDaemon = () => sessionManager.abort();
    daemonText = async () => (await client.getMetrics({}, { timeoutMs: DAEMON_TIMEOUT_MS })).text;
    return daemonText;
  }

  return {
    async text() {
      own ??= createOwnMetrics();
      const metrics = await own;
      let daemon = "";
      try {
        daemon = await (await daemonClient())();
        metrics.setDaemonUp(true);
      } catch {
        metrics.setDaemonUp(false);
      }
      const mine = await metrics.registry.metrics();
      return daemon === "" ? mine : `${daemon.endsWith("\n") ? daemon : `${daemon}\n`}${mine}`;
    },
    close: () => closeDaemon?.(),
  };
}
