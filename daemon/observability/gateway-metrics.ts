/**
 * The daemon's Prometheus metrics (prom-client), in a registry of their own so that nothing else in the process can
 * add to what `GET /metrics` shows. Names follow the Prometheus conventions: a `deploystack_gateway_` namespace,
 * base units (`_seconds`, `_bytes`), `_total` on counters. Label values come from bounded sets only: server labels
 * from the configured servers, tool labels from the exposed catalog (anything else is `other`), methods from the
 * MCP methods the gateway forwards, so no client can grow the label space by sending names.
 *
 * The hot path looks label children up in nested maps (no key string is built per call); counter increments are
 * summed in plain numbers and handed to prom-client when scraped (its labelled `inc` hashes and validates the labels
 * on every call, ~0.2 µs, four times per call); server states and restarts are read from the supervisor when
 * scraped, at no cost per call.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { EVENT_LOOP_SAMPLE_MS } from "../../shared/process-metrics.js";
import type { CallOperation, CallOutcome, ClientEra, SessionTransportLabel } from "./call-record.js";

/** The label value for a tool outside the exposed catalog, or a server that is not configured. */
export const OTHER_LABEL = "other";

/** The server states as the `state` label values of `deploystack_gateway_server_state`. */
const SERVER_STATES = ["stopped", "starting", "running", "backoff", "failed", "idle", "unhealthy", "needs_auth"] as const;

/** The MCP methods counted by name in the upstream metrics; any other is `other`. */
const UPSTREAM_METHODS = new Set(["tools/call", "prompts/get", "resources/read", "completion/complete", "resources/subscribe", "resources/unsubscribe"]);

/** Latency buckets (seconds) for tool calls: a local tool answers in milliseconds, a remote search in seconds. */
const CALL_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
/** Latency buckets (seconds) for the gateway's own hops, which take micro- to milliseconds. */
const HOP_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1];

/** A server as the metrics read it at scrape time. */
export interface ServerView {
  readonly name: string;
  readonly state: string;
  readonly restarts: number;
}

/** Options of `createGatewayMetrics`. */
export interface GatewayMetricsOptions {
  /** The configured servers now (the supervisor's list). */
  readonly servers: () => readonly ServerView[];
  /** Whether `name` is in the exposed catalog now; other names are counted as `other`. */
  readonly knownTool: (server: string, name: string) => boolean;
  /** Collect the process metrics (CPU, memory, event loop, GC) with the `deploystack_gateway_daemon_` prefix. Default true. */
  readonly processMetrics?: boolean;
}

/** The daemon's metrics. */
export interface GatewayMetrics {
  readonly registry: Registry;
  /** One tool call, prompt get or resource read ended. */
  observeCall(operation: CallOperation, server: string | undefined, tool: string | undefined, outcome: CallOutcome, seconds: number): void;
  upstream(server: string, method: string, failed: boolean): void;
  sessionOpened(era: ClientEra, transport: SessionTransportLabel): void;
  sessionClosed(era: ClientEra, transport: SessionTransportLabel): void;
  bytes(direction: "received" | "sent", transport: SessionTransportLabel, count: number): void;
  /** A hop-timing span (shared/hop-timing.ts), in microseconds. */
  hop(span: string, micros: number): void;
  /** The text exposition format. */
  text(): Promise<string>;
}

/** A labelled counter child's increments since the last scrape. */
interface Tally {
  readonly child: Counter.Internal;
  pending: number;
}

interface CallChildren {
  readonly count: Tally;
  readonly duration: Histogram.Internal<string> | undefined;
}

/** Creates the daemon's registry and its metrics. */
export function createGatewayMetrics(options: GatewayMetricsOptions): GatewayMetrics {
  const registry = new Registry();
  const tallies: Tally[] = [];
  const tally = (child: Counter.Internal): Tally => {
    const made: Tally = { child, pending: 0 };
    tallies.push(made);
    return made;
  };
  /** Hands every summed increment to prom-client; each tallied counter's `collect` runs it before it is read. */
  function flush(): void {
    for (const entry of tallies) {
      if (entry.pending === 0) continue;
      entry.child.inc(entry.pending);
      entry.pending = 0;
    }
  }
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: "deploystack_gateway_daemon_", eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });

  const toolCalls = new Counter({
    name: "deploystack_gateway_tool_calls_total",
    help: "Tool calls (MCP tools/call and McpService.CallTool) by server, exposed tool name and outcome.",
    labelNames: ["server", "tool", "outcome"],
    registers: [registry],
    collect: flush,
  });
  const toolCallSeconds = new Histogram({
    name: "deploystack_gateway_tool_call_duration_seconds",
    help: "Tool call latency in the gateway, from the request to its answer, by server, tool and outcome.",
    labelNames: ["server", "tool", "outcome"],
    buckets: CALL_BUCKETS,
    registers: [registry],
  });
  const promptGets = new Counter({
    name: "deploystack_gateway_prompt_gets_total",
    help: "Prompt gets (MCP prompts/get and McpService.GetPrompt) by server and outcome.",
    labelNames: ["server", "outcome"],
    registers: [registry],
    collect: flush,
  });
  const resourceReads = new Counter({
    name: "deploystack_gateway_resource_reads_total",
    help: "Resource reads (MCP resources/read and McpService.ReadResource) by server and outcome.",
    labelNames: ["server", "outcome"],
    registers: [registry],
    collect: flush,
  });
  const upstreamRequests = new Counter({
    name: "deploystack_gateway_upstream_requests_total",
    help: "Requests forwarded to MCP servers for clients, by server and method.",
    labelNames: ["server", "method"],
    registers: [registry],
    collect: flush,
  });
  const upstreamErrors = new Counter({
    name: "deploystack_gateway_upstream_errors_total",
    help: "Forwarded requests that ended with an error (a JSON-RPC error, a timeout, an unavailable server), by server and method.",
    labelNames: ["server", "method"],
    registers: [registry],
    collect: flush,
  });
  const restartsSeen = new Map<string, number>();
  const restarts = new Counter({
    name: "deploystack_gateway_server_restarts_total",
    help: "Restarts of each configured server since the daemon started.",
    labelNames: ["server"],
    registers: [registry],
    collect() {
      for (const server of options.servers()) {
        const before = restartsSeen.get(server.name) ?? 0;
        // A server replaced by a config change starts counting again: add what it counted since.
        const added = server.restarts >= before ? server.restarts - before : server.restarts;
        restartsSeen.set(server.name, server.restarts);
        this.inc({ server: server.name }, added);
      }
    },
  });
  void restarts;
  new Gauge({
    name: "deploystack_gateway_server_state",
    help: "1 for the state each configured server is in now, 0 for the others.",
    labelNames: ["server", "state"],
    registers: [registry],
    collect() {
      this.reset();
      for (const server of options.servers()) {
        for (const state of SERVER_STATES) this.set({ server: server.name, state }, server.state === state ? 1 : 0);
      }
    },
  });
  const sessionsOpen = new Gauge({
    name: "deploystack_gateway_sessions",
    help: "Open MCP client sessions by protocol era and transport.",
    labelNames: ["era", "transport"],
    registers: [registry],
  });
  const sessionsOpened = new Counter({
    name: "deploystack_gateway_sessions_opened_total",
    help: "MCP client sessions opened by protocol era and transport.",
    labelNames: ["era", "transport"],
    registers: [registry],
  });
  const receivedBytes = new Counter({
    name: "deploystack_gateway_mcp_received_bytes_total",
    help: "Bytes of MCP messages received from clients, by transport.",
    labelNames: ["transport"],
    registers: [registry],
    collect: flush,
  });
  const sentBytes = new Counter({
    name: "deploystack_gateway_mcp_sent_bytes_total",
    help: "Bytes of MCP messages sent to clients, by transport.",
    labelNames: ["transport"],
    registers: [registry],
    collect: flush,
  });
  let hopSeconds: Histogram<"span"> | undefined;

  const callChildren: Record<CallOperation, Map<string, Map<string, Map<CallOutcome, CallChildren>>>> = {
    "tools/call": new Map(),
    "prompts/get": new Map(),
    "resources/read": new Map(),
  };
  function childrenOf(operation: CallOperation, server: string, tool: string, outcome: CallOutcome): CallChildren {
    const byServer = callChildren[operation];
    let ofServer = byServer.get(server);
    if (!ofServer) byServer.set(server, (ofServer = new Map()));
    let ofTool = ofServer.get(tool);
    if (!ofTool) ofServer.set(tool, (ofTool = new Map()));
    let children = ofTool.get(outcome);
    if (!children) {
      children =
        operation === "tools/call"
          ? { count: tally(toolCalls.labels(server, tool, outcome)), duration: toolCallSeconds.labels(server, tool, outcome) }
          : { count: tally((operation === "prompts/get" ? promptGets : resourceReads).labels(server, outcome)), duration: undefined };
      ofTool.set(outcome, children);
    }
    return children;
  }
  const upstreamChildren = new Map<string, Map<string, { requests: Tally; errors: Tally }>>();
  function upstreamOf(server: string, method: string): { requests: Tally; errors: Tally } {
    let ofServer = upstreamChildren.get(server);
    if (!ofServer) upstreamChildren.set(server, (ofServer = new Map()));
    let children = ofServer.get(method);
    if (!children) ofServer.set(method, (children = { requests: tally(upstreamRequests.labels(server, method)), errors: tally(upstreamErrors.labels(server, method)) }));
    return children;
  }
  const receivedChildren = new Map<SessionTransportLabel, Tally>();
  const sentChildren = new Map<SessionTransportLabel, Tally>();
  function bytesChild(direction: "received" | "sent", transport: SessionTransportLabel): Tally {
    const children = direction === "received" ? receivedChildren : sentChildren;
    let child = children.get(transport);
    if (!child) children.set(transport, (child = tally((direction === "received" ? receivedBytes : sentBytes).labels(transport))));
    return child;
  }

  return {
    registry,
    observeCall(operation, server, tool, outcome, seconds) {
      const serverLabel = server ?? OTHER_LABEL;
      // Per-prompt and per-URI labels would be unbounded (URIs) or of little use: those count by server only.
      const toolLabel = operation === "tools/call" && server !== undefined && tool !== undefined && options.knownTool(server, tool) ? tool : OTHER_LABEL;
      const children = childrenOf(operation, serverLabel, toolLabel, outcome);
      children.count.pending++;
      children.duration?.observe(seconds);
    },
    upstream(server, method, failed) {
      const methodLabel = UPSTREAM_METHODS.has(method) ? method : OTHER_LABEL;
      const children = upstreamOf(server, methodLabel);
      children.requests.pending++;
      if (failed) children.errors.pending++;
    },
    sessionOpened(era, transport) {
      sessionsOpen.labels(era, transport).inc();
      sessionsOpened.labels(era, transport).inc();
    },
    sessionClosed(era, transport) {
      sessionsOpen.labels(era, transport).dec();
    },
    bytes(direction, transport, count) {
      if (count > 0) bytesChild(direction, transport).pending += count;
    },
    hop(span, micros) {
      hopSeconds ??= new Histogram({
        name: "deploystack_gateway_daemon_hop_duration_seconds",
        help: "The daemon's hop timings (DEPLOYSTACK_HOP_TIMING_DIR set): time spent per span of the hot path.",
        labelNames: ["span"],
        buckets: HOP_BUCKETS,
        registers: [registry],
      });
      hopSeconds.labels(span).observe(micros / 1e6);
    },
    text: () => registry.metrics(),
  };
}
