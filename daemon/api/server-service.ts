import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import {
  DisableServerResponseSchema,
  EnableServerResponseSchema,
  GetServerResponseSchema,
  ListServersResponseSchema,
  RestartServerResponseSchema,
  ServerService,
  StreamServerLogsResponseSchema,
} from "../../gen/deploystack/gateway/v1/server_service_pb.js";
import { NameCollisionSchema } from "../../gen/deploystack/gateway/v1/server_pb.js";
import { GatewayError } from "../errors.js";
import type { LogEntry, Supervisor } from "../supervisor/types.js";
import { createAsyncQueue } from "./async-queue.js";
import { logEntryToProto, serverToProto } from "./convert.js";

/** Two exposed names that collided and how the registry resolved it (domain shape of `NameCollision`). */
export interface NameCollisionInfo {
  readonly wantedName: string;
  readonly keptServer: string;
  readonly renamedServer: string;
  readonly renamedItem: string;
  readonly assignedName: string;
}

/** What `ServerService` needs: the supervisor, and the registry's collisions once the MCP engine exists. */
export interface ServerServiceDeps {
  readonly supervisor: Pick<Supervisor, "list" | "get" | "enable" | "disable" | "restart" | "log">;
  readonly nameCollisions?: () => readonly NameCollisionInfo[];
}

/** How many followed log lines may wait for a slow client before its stream is ended. */
const followBufferLines = 10_000;

function requireName(name: string): string {
  if (name.trim() === "") throw new GatewayError("invalid_argument", "a server name is required");
  return name;
}

/**
 * Registers `ServerService`: a thin adapter over the supervisor. Domain errors bubble up and
 * are converted once by the error interceptor (./errors.ts).
 */
export function serverServiceRoutes(deps: ServerServiceDeps): (router: ConnectRouter) => void {
  const { supervisor } = deps;
  return (router) => {
    router.service(ServerService, {
      listServers() {
        const now = Date.now();
        return create(ListServersResponseSchema, {
          servers: supervisor.list().map((snapshot) => serverToProto(snapshot, now)),
          nameCollisions: (deps.nameCollisions?.() ?? []).map((collision) => create(NameCollisionSchema, collision)),
        });
      },
      getServer(req) {
        return create(GetServerResponseSchema, { server: serverToProto(supervisor.get(requireName(req.name))) });
      },
      async enableServer(req) {
        return create(EnableServerResponseSchema, { server: serverToProto(await supervisor.enable(requireName(req.name))) });
      },
      async disableServer(req) {
        return create(DisableServerResponseSchema, { server: serverToProto(await supervisor.disable(requireName(req.name))) });
      },
      async restartServer(req) {
        return create(RestartServerResponseSchema, { server: serverToProto(await supervisor.restart(requireName(req.name))) });
      },
      async *streamServerLogs(req, context) {
        const log = supervisor.log(requireName(req.name));
        const queue = createAsyncQueue<LogEntry>(followBufferLines, context.signal);
        // Subscribing and taking the tail in the same tick leaves neither a gap nor a duplicate.
        const unsubscribe = req.follow
          ? log.subscribe((entry) => {
              if (!queue.push(entry)) {
                queue.end(new ConnectError(`log stream of server "${req.name}" fell behind; reconnect`, Code.ResourceExhausted));
              }
            })
          : undefined;
        try {
          for (const entry of log.tail(req.tailLines)) {
            yield create(StreamServerLogsResponseSchema, { line: logEntryToProto(entry) });
          }
          if (!unsubscribe) return;
          for await (const entry of queue) {
            yield create(StreamServerLogsResponseSchema, { line: logEntryToProto(entry) });
          }
        } finally {
          unsubscribe?.();
        }
      },
    });
  };
}
