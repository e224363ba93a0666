/**
 * `GatewayService.GetMetrics` and `GetStats`: thin conversions from the daemon's observability (daemon/observability)
 * to proto, kept out of gateway-service.ts so that the service file only wires.
 */
import { create } from "@bufbuild/protobuf";
import { durationFromMs, durationMs } from "@bufbuild/protobuf/wkt";
import { GetMetricsResponseSchema, GetStatsResponseSchema, type GetMetricsResponse, type GetStatsRequest, type GetStatsResponse } from "../../gen/deploystack/gateway/v1/gateway_service_pb.js";
import { CallStatsSchema, ServerStatsSchema, SessionStatsSchema, ToolStatsSchema, type CallStats } from "../../gen/deploystack/gateway/v1/stats_pb.js";
import { clampWindowSeconds, type CallFigures } from "../observability/call-stats.js";
import type { Observability } from "../observability/observability.js";
import type { ServerSnapshot } from "../supervisor/types.js";
import { serverStateToProto } from "./convert.js";
import { durationFromFractionalMs } from "./proto-duration.js";

/** What the two RPCs read. */
export interface ObservabilityRpcDeps {
  readonly observability: Observability;
  /** The configured servers now. */
  servers(): readonly ServerSnapshot[];
}

/** The window when a request names none, and the tool count. */
const DEFAULT_WINDOW_SECONDS = 60;
const DEFAULT_TOOL_LIMIT = 20;

function figuresToProto(figures: CallFigures): CallStats {
  return create(CallStatsSchema, {
    calls: BigInt(figures.calls),
    errors: BigInt(figures.errors),
    callsPerSecond: figures.callsPerSecond,
    p50: durationFromFractionalMs(figures.p50Ms),
    p99: durationFromFractionalMs(figures.p99Ms),
  });
}

/** `GetMetrics`: the daemon registry's text. */
export async function getMetrics(deps: ObservabilityRpcDeps): Promise<GetMetricsResponse> {
  return create(GetMetricsResponseSchema, { text: await deps.observability.metrics.text() });
}

/** `GetStats`: per-server, per-tool and session figures over the requested window. */
export function getStats(deps: ObservabilityRpcDeps, request: GetStatsRequest): GetStatsResponse {
  const { observability } = deps;
  const windowSeconds = clampWindowSeconds(request.window ? durationMs(request.window) / 1000 : DEFAULT_WINDOW_SECONDS);
  const now = observability.wallNow();
  const servers = [...deps.servers()].sort((a, b) => a.name.localeCompare(b.name));
  return create(GetStatsResponseSchema, {
    window: durationFromMs(windowSeconds * 1000),
    servers: servers.map((server) =>
      create(ServerStatsSchema, {
        server: server.name,
        state: serverStateToProto(server.state),
        calls: figuresToProto(observability.stats.server(server.name, windowSeconds, now)),
        restarts: server.restarts,
      }),
    ),
    tools: observability.stats
      .busiestTools(windowSeconds, now, request.toolLimit === 0 ? DEFAULT_TOOL_LIMIT : Math.min(request.toolLimit, 1000))
      .map((tool) => create(ToolStatsSchema, { tool: tool.tool, server: tool.server, calls: figuresToProto(tool) })),
    sessions: observability.sessions().map((entry) => create(SessionStatsSchema, entry)),
    total: figuresToProto(observability.stats.total(windowSeconds, now)),
  });
}
