import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { ConfigSource } from "../../gen/deploystack/gateway/v1/gateway_pb.js";
import { GatewayService } from "../../gen/deploystack/gateway/v1/gateway_service_pb.js";
import { LogSource, ServerSchema, ServerState, ServerTransport, StartupMode, type Server } from "../../gen/deploystack/gateway/v1/server_pb.js";
import { ServerService } from "../../gen/deploystack/gateway/v1/server_service_pb.js";

/**
 * A small in-memory implementation of `GatewayService` and `ServerService` for the CLI's
 * unit and socket layers: real Connect routes with a fixed, inspectable state, so the
 * verbs' requests, output and error handling are tested without a daemon. Only for tests.
 */

/** The fake's state, mutable by tests. */
export interface FakeDaemonState {
  readonly servers: Map<string, Server>;
  readonly logs: string[];
  shutdownRequested: boolean;
  /** Aborted when a follow stream ends, so tests can see cancellation reach the server. */
  followEnded?: () => void;
}

/** Builds the initial state: two servers, one running, one failed. */
export function createFakeDaemonState(): FakeDaemonState {
  const servers = new Map<string, Server>();
  servers.set(
    "everything",
    create(ServerSchema, {
      name: "everything",
      state: ServerState.RUNNING,
      enabled: true,
      pid: 4242,
      restarts: 1,
      uptime: durationFromMs(303_000),
      toolCount: 16,
      transport: ServerTransport.STDIO,
      command: "node",
      args: ["everything.js", "stdio"],
      envNames: [],
      startup: StartupMode.EAGER,
      prefix: "everything",
      serverInfoName: "mcp-servers/everything",
      serverInfoVersion: "2.0.0",
      protocolVersion: "2025-11-25",
    }),
  );
  servers.set(
    "memory",
    create(ServerSchema, {
      name: "memory",
      state: ServerState.FAILED,
      enabled: true,
      restarts: 5,
      lastError: "exited with code 1\nError: boom",
      transport: ServerTransport.STDIO,
      command: "node",
      args: ["memory.js"],
      envNames: ["MEMORY_FILE_PATH"],
      startup: StartupMode.LAZY,
      prefix: "memory",
    }),
  );
  return { servers, logs: ["line one", "line two", "line three"], shutdownRequested: false };
}

function find(state: FakeDaemonState, name: string): Server {
  const server = state.servers.get(name);
  if (!server) throw new ConnectError(`server "${name}" not found`, Code.NotFound);
  return server;
}

/** Routes of the fake daemon. */
export function fakeDaemonRoutes(state: FakeDaemonState): (router: ConnectRouter) => void {
  return (router) => {
    router.service(GatewayService, {
      getStatus() {
        return {
          version: "9.9.9",
          pid: 1234,
          uptime: durationFromMs(65_000),
          team: { id: "demo", name: "Demo team", slug: "demo", role: "team_admin", isDefault: true, isCurrent: true },
          configSource: ConfigSource.FILE,
          configPath: "/etc/team.yaml",
          controlSocket: "/tmp/x/run/gateway.sock",
          mcpUrl: "http://localhost:9095/mcp",
          sseUrl: "http://localhost:9095/sse",
          frontendRunning: true,
          servers: { total: 2, running: 1, starting: 0, unhealthy: 1, stopped: 0, tools: 16 },
          sessionCount: 3,
          home: "/tmp/x",
        };
      },
      shutdown() {
        state.shutdownRequested = true;
        return {};
      },
      watchEvents() {
        throw new ConnectError("deploystack.gateway.v1.GatewayService.WatchEvents is not implemented yet", Code.Unimplemented);
      },
    });
    router.service(ServerService, {
      listServers() {
        return { servers: [...state.servers.values()], nameCollisions: [] };
      },
      getServer(request) {
        return { server: find(state, request.name) };
      },
      enableServer(request) {
        const server = find(state, request.name);
        server.enabled = true;
        server.state = ServerState.STARTING;
        return { server };
      },
      disableServer(request) {
        const server = find(state, request.name);
        server.enabled = false;
        server.state = ServerState.STOPPED;
        server.pid = 0;
        return { server };
      },
      restartServer() {
        throw new ConnectError("deploystack.gateway.v1.ServerService.RestartServer is not implemented yet", Code.Unimplemented);
      },
      async *streamServerLogs(request, context) {
        find(state, request.name);
        const lines = request.tailLines > 0 ? state.logs.slice(-request.tailLines) : state.logs;
        let index = 0;
        for (const text of lines) {
          yield { line: { time: timestampFromMs(Date.UTC(2026, 0, 1, 0, 0, index++)), source: LogSource.STDERR, text } };
        }
        if (!request.follow) return;
        yield { line: { time: timestampFromMs(Date.UTC(2026, 0, 1, 0, 1, 0)), source: LogSource.SUPERVISOR, text: "followed" } };
        await new Promise<void>((resolve) => context.signal.addEventListener("abort", () => resolve(), { once: true }));
        state.followEnded?.();
      },
    });
  };
}
