import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import {
  DisableServerResponseSchema,
  EnableServerResponseSchema,
  GetServerResponseSchema,
  ListServersResponseSchema,
  LoginServerResponseSchema,
  LogoutServerResponseSchema,
  RestartServerResponseSchema,
  ServerService,
  StreamServerLogsResponseSchema,
} from "../../gen/deploystack/gateway/v1/server_service_pb.js";
import { NameCollisionSchema, type Server } from "../../gen/deploystack/gateway/v1/server_pb.js";
import { GatewayError } from "../errors.js";
import type { ServerSignIn } from "../oauth/server-sign-in.js";
import type { LogEntry, ServerSnapshot, Supervisor } from "../supervisor/types.js";
import { invalidServerError, invalidServerSnapshot, withInvalidServers } from "../control-plane/invalid-servers.js";
import type { InvalidServer } from "../control-plane/server-diff.js";
import { createAsyncQueue } from "./async-queue.js";
import { logEntryToProto, serverToProto as snapshotToProto } from "./convert.js";
import type { ToolCount } from "../mcp/registry.js";

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
  /** The registry's tool counts per server (the one definition of a count); absent: the supervisor's discovered counts. */
  readonly toolCounts?: () => ReadonlyMap<string, ToolCount>;
  /** Servers the control plane lists but never starts (cloud `invalid`), shown with state `INVALID` and their reason. */
  readonly invalidServers?: () => readonly InvalidServer[];
  /** Sign-in to remote servers with OAuth; absent: `LoginServer`/`LogoutServer` answer failed precondition. */
  readonly signIn?: ServerSignIn;
}

/** The longest server sign-in a client may ask for (the browser step is interactive, but not forever). */
const maxLoginTimeoutMs = 60 * 60_000;

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
  /** An invalid server by name, unless a supervised server has that name (supervised servers win, as in the list). */
  const invalidNamed = (name: string): InvalidServer | undefined => {
    const invalid = deps.invalidServers?.().find((server) => server.name === name);
    if (invalid === undefined || supervisor.list().some((server) => server.name === name)) return undefined;
    return invalid;
  };
  /** Actions on an invalid server are refused with its reason, not with "not found". */
  const supervised = (name: string): string => {
    const invalid = invalidNamed(requireName(name));
    if (invalid) throw invalidServerError(invalid);
    return name;
  };
  /** A server with the registry's counts; `counts` taken once per answer so a list is one consistent view. */
  const serverToProto = (snapshot: ServerSnapshot, now?: number, counts = deps.toolCounts?.()): Server =>
    snapshotToProto(snapshot, now, counts ? (counts.get(snapshot.name) ?? { exposed: 0, hidden: 0 }) : undefined);
  return (router) => {
    router.service(ServerService, {
      listServers() {
        const now = Date.now();
        const counts = deps.toolCounts?.();
        return create(ListServersResponseSchema, {
          servers: withInvalidServers(supervisor.list(), deps.invalidServers?.() ?? []).map((snapshot) => serverToProto(snapshot, now, counts)),
          nameCollisions: (deps.nameCollisions?.() ?? []).map((collision) => create(NameCollisionSchema, collision)),
        });
      },
      getServer(req) {
        const invalid = invalidNamed(requireName(req.name));
        return create(GetServerResponseSchema, { server: serverToProto(invalid ? invalidServerSnapshot(invalid) : supervisor.get(req.name)) });
      },
      async enableServer(req) {
        return create(EnableServerResponseSchema, { server: serverToProto(await supervisor.enable(supervised(req.name))) });
      },
      async disableServer(req) {
        return create(DisableServerResponseSchema, { server: serverToProto(await supervisor.disable(supervised(req.name))) });
      },
      async restartServer(req) {
        return create(RestartServerResponseSchema, { server: serverToProto(await supervisor.restart(supervised(req.name))) });
      },
      async *loginServer(req, context) {
        const name = supervised(req.name);
        if (!deps.signIn) throw new GatewayError("failed_precondition", "server sign-in is not available in this daemon");
        let timeoutMs: number | undefined;
        if (req.timeout) {
          timeoutMs = Number(req.timeout.seconds) * 1000 + Math.floor(req.timeout.nanos / 1e6);
          if (!(timeoutMs > 0) || timeoutMs > maxLoginTimeoutMs) {
            throw new GatewayError("invalid_argument", `the login timeout must be between 1 ms and ${maxLoginTimeoutMs / 60_000} minutes`);
          }
        }
        const attempt = await deps.signIn.begin(name, { timeoutMs, signal: context.signal });
        try {
          yield create(LoginServerResponseSchema, { step: { case: "authorizationUrl", value: attempt.authorizationUrl } });
          const { issuer } = await attempt.done;
          yield create(LoginServerResponseSchema, { step: { case: "succeeded", value: { server: serverToProto(supervisor.get(name)), issuer } } });
        } finally {
          attempt.cancel();
        }
      },
      async logoutServer(req) {
        const name = supervised(req.name);
        if (!deps.signIn) throw new GatewayError("failed_precondition", "server sign-in is not available in this daemon");
        const removed = await deps.signIn.logout(name);
        return create(LogoutServerResponseSchema, { server: serverToProto(supervisor.get(name)), removed });
      },
      async *streamServerLogs(req, context) {
        const log = supervisor.log(supervised(req.name));
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
