import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { ConfigSource } from "../../gen/deploystack/gateway/v1/gateway_pb.js";
import {
  EnableControlListenerResponseSchema,
  GatewayService,
  GetStatusResponseSchema,
  ShutdownResponseSchema,
  WatchEventsResponseSchema,
} from "../../gen/deploystack/gateway/v1/gateway_service_pb.js";
import type { TeamConfig } from "../config/types.js";
import type { EventHub, GatewayEvent } from "../events.js";
import type { ServerSnapshot } from "../supervisor/types.js";
import type { ToolCount } from "../mcp/registry.js";
import { GatewayError } from "../errors.js";
import { createAsyncQueue } from "./async-queue.js";
import { configErrorToProto, eventToProto, serverCountsToProto, teamToProto } from "./convert.js";
import { viaTcpListener } from "./listener-context.js";
import { getMetrics, getStats, type ObservabilityRpcDeps } from "./observability-rpcs.js";

/** The daemon's state as `GetStatus` reports it, in domain terms; the composition root fills it in. */
export interface GatewayStatusView {
  readonly version: string;
  readonly pid: number;
  /** Epoch ms. */
  readonly startedAt: number;
  readonly team?: TeamConfig;
  readonly configSource: "file" | "deploystack";
  readonly configPath: string;
  readonly controlSocket: string;
  /** `host:port` of the loopback TCP control listener, when enabled. */
  readonly controlAddress?: string;
  /** Known once the frontend reported the port it listens on. */
  readonly mcpUrl?: string;
  readonly sseUrl?: string;
  readonly frontendRunning: boolean;
  readonly servers: readonly ServerSnapshot[];
  /** The registry's tool counts per server (the one definition of a count); absent: the supervisor's discovered counts. */
  readonly toolCounts?: ReadonlyMap<string, ToolCount>;
  readonly sessionCount: number;
  readonly home: string;
  /** The team file's last load failure while the config loaded before keeps running. */
  readonly configError?: { readonly path: string; readonly message: string; readonly time: number };
}

/** What `GatewayService` needs from the daemon. */
export interface GatewayServiceDeps {
  status(): GatewayStatusView;
  readonly events: EventHub;
  /** Starts stopping the daemon; called after the `Shutdown` response was handed to the transport. */
  requestShutdown(): void;
  /** Metrics and call figures (`GetMetrics`, `GetStats`); absent: they answer `Unimplemented`. */
  readonly observability?: ObservabilityRpcDeps;
  /**
   * Starts the loopback TCP control listener at `address` (`HOST:PORT`; undefined: 127.0.0.1 on a port the OS
   * picks), or reports the one running. Absent: `EnableControlListener` answers `Unimplemented`.
   */
  enableControlListener?(address: string | undefined): Promise<{ readonly address: string; readonly alreadyListening: boolean }>;
}

/** How many events may wait for a slow watcher before its stream is ended. */
const watchBufferEvents = 10_000;

/** Registers `GatewayService`: status, the event stream and shutdown. */
export function gatewayServiceRoutes(deps: GatewayServiceDeps): (router: ConnectRouter) => void {
  return (router) => {
    router.service(GatewayService, {
      getStatus() {
        const view = deps.status();
        const now = Date.now();
        return create(GetStatusResponseSchema, {
          version: view.version,
          pid: view.pid,
          startTime: timestampFromMs(view.startedAt),
          uptime: durationFromMs(Math.max(0, now - view.startedAt)),
          team: view.team ? teamToProto(view.team, true) : undefined,
          configSource: view.configSource === "file" ? ConfigSource.FILE : ConfigSource.DEPLOYSTACK,
          configPath: view.configPath,
          controlSocket: view.controlSocket,
          controlAddress: view.controlAddress ?? "",
          mcpUrl: view.mcpUrl ?? "",
          sseUrl: view.sseUrl ?? "",
          frontendRunning: view.frontendRunning,
          servers: serverCountsToProto(view.servers, view.toolCounts),
          sessionCount: view.sessionCount,
          home: view.home,
          configError: view.configError ? configErrorToProto(view.configError) : undefined,
        });
      },
      async *watchEvents(_req, context) {
        const queue = createAsyncQueue<GatewayEvent>(watchBufferEvents, context.signal);
        const unsubscribe = deps.events.subscribe((event) => {
          if (!queue.push(event)) queue.end(new ConnectError("event stream fell behind; reconnect", Code.ResourceExhausted));
        });
        try {
          for await (const event of queue) yield create(WatchEventsResponseSchema, { event: eventToProto(event) });
        } finally {
          unsubscribe();
        }
      },
      async enableControlListener(req, context) {
        // A token holder on TCP must not be able to open listeners; only the socket's owner may.
        if (context.values.get(viaTcpListener)) {
          throw new GatewayError("permission_denied", "the control listener can be enabled only through the unix socket");
        }
        if (!deps.enableControlListener) throw new ConnectError("enabling the control listener is not supported here", Code.Unimplemented);
        const result = await deps.enableControlListener(req.address === "" ? undefined : req.address);
        return create(EnableControlListenerResponseSchema, result);
      },
      getMetrics() {
        if (!deps.observability) throw new ConnectError("metrics are not available here", Code.Unimplemented);
        return getMetrics(deps.observability);
      },
      getStats(req) {
        if (!deps.observability) throw new ConnectError("call statistics are not available here", Code.Unimplemented);
        return getStats(deps.observability, req);
      },
      shutdown() {
        // Let the response reach the transport before the stop sequence begins.
        setImmediate(() => deps.requestShutdown());
        return create(ShutdownResponseSchema, {});
      },
    });
  };
}
