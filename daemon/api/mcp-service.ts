/**
 * `McpService`: the thin adapter between the control API and the MCP session engine
 * (daemon/mcp). `OpenSession` carries one MCP client session as JSON-RPC bytes both ways;
 * the typed RPCs convert to and from proto and call the engine's operations, which share
 * their routing with sessions. Domain errors are converted once (./errors.ts); JSON-RPC
 * errors of upstream servers map to the nearest Connect code with their message.
 */
import { create, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import {
  CallLogMessageSchema,
  CallProgressSchema,
  PromptSchema,
  ResourceSchema,
  ServerMessageSchema,
  SessionEndedSchema,
  SessionInitializedSchema,
  SessionTransport,
  ToolSchema,
  type Resource,
} from "../../gen/deploystack/gateway/v1/mcp_pb.js";
import {
  CallToolResponseSchema,
  GetPromptResponseSchema,
  ListPromptsResponseSchema,
  ListResourcesResponseSchema,
  ListToolsResponseSchema,
  McpService,
  OpenSessionResponseSchema,
  ReadResourceResponseSchema,
  type CallToolResponse,
  type OpenSessionRequest,
  type OpenSessionResponse,
} from "../../gen/deploystack/gateway/v1/mcp_service_pb.js";
import { hopTiming } from "../../shared/hop-timing.js";
import { jsonPayloadBytes } from "../../shared/open-session-wire/codec.js";
import { silentLogger, type Logger } from "../../shared/logger.js";
import { gatewayVersion } from "../../shared/version.js";
import type { McpWiring, McpWiringContext } from "../mcp-wiring.js";
import { GatewayError } from "../errors.js";
import { createMcpEngine, type McpEngine } from "../mcp/engine.js";
import { createTeamAccessPolicy } from "../policy/access-policy.js";
import type { ExposedResource, ExposedResourceTemplate } from "../mcp/registry.js";
import type { SessionFrame } from "../mcp/session.js";
import { UpstreamRpcError, type JsonObject } from "../upstream/types.js";
import { createAsyncQueue } from "./async-queue.js";
import { createOpenSessionFastPath } from "./open-session-fast-path.js";
import { toConnectError } from "./errors.js";

/** Options of the adapter. */
export interface McpServiceOptions {
  readonly logger?: Logger;
  /**
   * Frames a session may have queued for a client that does not read them before its stream
   * is ended (back-pressure without unbounded buffers). Default 10 000.
   */
  readonly maxQueuedFrames?: number;
}


const transportNames: Record<SessionTransport, string> = {
  [SessionTransport.UNSPECIFIED]: "unspecified",
  [SessionTransport.STREAMABLE_HTTP]: "streamable-http",
  [SessionTransport.SSE]: "sse",
  [SessionTransport.STDIO]: "stdio",
};

function frameToProto(frame: SessionFrame): OpenSessionResponse {
  switch (frame.kind) {
    case "message":
      return create(OpenSessionResponseSchema, {
        frame: {
          case: "message",
          value: create(ServerMessageSchema, {
            exchangeId: frame.exchangeId,
            json: jsonPayloadBytes(frame.json),
            exchangeComplete: frame.exchangeComplete,
          }),
        },
      });
    case "initialized":
      return create(OpenSessionResponseSchema, {
        frame: { case: "initialized", value: create(SessionInitializedSchema, { protocolVersion: frame.protocolVersion }) },
      });
    case "ended":
      return create(OpenSessionResponseSchema, { frame: { case: "ended", value: create(SessionEndedSchema, { reason: frame.reason }) } });
  }
}

/** A JSON-RPC error from a server, as the nearest Connect error (its message kept). */
function upstreamToConnect(error: UpstreamRpcError): ConnectError {
  const code =
    error.code === -32602 ? Code.InvalidArgument : error.code === -32601 ? Code.Unimplemented : error.code === -32002 ? Code.NotFound : Code.Unknown;
  return new ConnectError(error.message, code);
}

function toServiceError(error: unknown, logger: Logger, procedure: string): ConnectError {
  if (error instanceof UpstreamRpcError) return upstreamToConnect(error);
  return toConnectError(error, logger, procedure);
}

function requireText(value: string, what: string): string {
  if (value.trim() === "") throw new GatewayError("invalid_argument", `${what} is required`);
  return value;
}

function resourceToProto(entry: ExposedResource | ExposedResourceTemplate): Resource {
  return create(ResourceSchema, {
    uri: "uri" in entry ? entry.uri : entry.uriTemplate,
    server: entry.server,
    definition: entry.definition as JsonObject & { [k: string]: JsonValue },
  });
}

/** Registers `McpService` on `router` over `engine`. */
export function registerMcpService(router: ConnectRouter, engine: McpEngine, options: McpServiceOptions = {}): void {
  const logger = options.logger ?? silentLogger;
  const maxQueuedFrames = options.maxQueuedFrames ?? 10_000;

  async function* openSession(requests: AsyncIterable<OpenSessionRequest>, context: HandlerContext): AsyncIterable<OpenSessionResponse> {
    const iterator = requests[Symbol.asyncIterator]();
    const first = await iterator.next();
    if (first.done || first.value.frame.case !== "start") {
      throw new ConnectError("the first OpenSession message must be a SessionStart", Code.InvalidArgument);
    }
    const start = first.value.frame.value;
    const queue = createAsyncQueue<OpenSessionResponse>(maxQueuedFrames, context.signal);
    // Only with hop timing on: when each exchange's message was read, until its final answer is queued.
    const receivedAt = hopTiming.enabled ? new Map<bigint, number>() : undefined;
    const session = engine.openSession({
      transportSessionId: start.sessionId,
      transport: transportNames[start.transport] ?? "unspecified",
      onFrame(frame) {
        if (receivedAt && frame.kind === "message" && frame.exchangeComplete) {
          const at = receivedAt.get(frame.exchangeId);
          if (at !== undefined) {
            receivedAt.delete(frame.exchangeId);
            hopTiming.record("daemon.session", at);
          }
        }
        if (!queue.push(frameToProto(frame))) {
          queue.end(new ConnectError("the session's client fell behind; reconnect", Code.ResourceExhausted));
          queueMicrotask(() => session.close());
          return;
        }
        if (frame.kind === "ended") queue.end();
      },
    });
    // Client messages are read concurrently with the frames we send: answers may arrive in any order.
    const reading = (async () => {
      try {
        for (;;) {
          const next = await iterator.next();
          if (next.done) break;
          const frame = next.value.frame;
          if (frame.case === "message") {
            receivedAt?.set(frame.value.exchangeId, hopTiming.now());
            session.receive(frame.value.exchangeId, frame.value.json);
          } else {
            queue.end(new ConnectError("SessionStart may only be the first OpenSession message", Code.InvalidArgument));
            break;
          }
        }
      } catch (error) {
        if (!context.signal.aborted) logger.debug({ err: error, session: session.id }, "OpenSession request stream failed");
      } finally {
        // The client side ended (or went away): the session ends with it and its calls are cancelled.
        session.close();
        queue.end();
      }
    })();
    try {
      yield* queue;
    } finally {
      session.close();
      await reading.catch(() => undefined);
    }
  }

  router.service(McpService, {
    openSession,
    async listTools(req) {
      const tools = await engine.listTools(req.server === "" ? undefined : req.server);
      return create(ListToolsResponseSchema, {
        tools: tools.map((tool) =>
          create(ToolSchema, {
            name: tool.exposedName,
            server: tool.server,
            upstreamName: tool.upstreamName,
            description: typeof tool.definition.description === "string" ? tool.definition.description : "",
            definition: tool.definition as JsonObject & { [k: string]: JsonValue },
          }),
        ),
      });
    },
    async *callTool(req, context) {
      const name = requireText(req.name, "a tool name");
      const queue = createAsyncQueue<CallToolResponse>(maxQueuedFrames, context.signal);
      const push = (event: CallToolResponse["event"]): void => {
        if (!queue.push(create(CallToolResponseSchema, { event }))) {
          logger.debug({ tool: name }, "CallTool event dropped: the client is not reading");
        }
      };
      const call = engine
        .callTool(name, req.arguments ?? {}, {
          signal: context.signal,
          onProgress: (p) => push({ case: "progress", value: create(CallProgressSchema, { progress: p.progress, total: p.total, message: p.message ?? "" }) }),
          onLog: (log) =>
            push({
              case: "log",
              value: create(CallLogMessageSchema, {
                level: log.level,
                logger: log.logger ?? "",
                data: fromJson(ValueSchema, (log.data ?? null) as JsonValue),
              }),
            }),
        })
        .then(
          (result) => {
            queue.push(create(CallToolResponseSchema, { event: { case: "result", value: result as JsonObject & { [k: string]: JsonValue } } }));
            queue.end();
          },
          (error: unknown) => queue.end(toServiceError(error, logger, "McpService/CallTool")),
        );
      try {
        yield* queue;
      } finally {
        await call;
      }
    },
    async listResources(req) {
      const { resources, resourceTemplates } = await engine.listResources(req.server === "" ? undefined : req.server);
      return create(ListResourcesResponseSchema, {
        resources: resources.map(resourceToProto),
        resourceTemplates: resourceTemplates.map(resourceToProto),
      });
    },
    async readResource(req, context) {
      try {
        const result = await engine.readResource(requireText(req.uri, "a resource uri"), { signal: context.signal });
        return create(ReadResourceResponseSchema, { result: result as JsonObject & { [k: string]: JsonValue } });
      } catch (error) {
        throw toServiceError(error, logger, "McpService/ReadResource");
      }
    },
    async listPrompts(req) {
      const prompts = await engine.listPrompts(req.server === "" ? undefined : req.server);
      return create(ListPromptsResponseSchema, {
        prompts: prompts.map((prompt) =>
          create(PromptSchema, {
            name: prompt.exposedName,
            server: prompt.server,
            upstreamName: prompt.upstreamName,
            definition: prompt.definition as JsonObject & { [k: string]: JsonValue },
          }),
        ),
      });
    },
    async getPrompt(req, context) {
      try {
        const result = await engine.getPrompt(requireText(req.name, "a prompt name"), req.arguments, { signal: context.signal });
        return create(GetPromptResponseSchema, { result: result as JsonObject & { [k: string]: JsonValue } });
      } catch (error) {
        throw toServiceError(error, logger, "McpService/GetPrompt");
      }
    },
  });
}

/** `McpService`'s routes as the control API's route list takes them. */
export function mcpServiceRoutes(engine: McpEngine, options: McpServiceOptions = {}): (router: ConnectRouter) => void {
  return (router) => registerMcpService(router, engine, options);
}

/**
 * The daemon's `mcpRoutes` extension (daemon.ts `DaemonExtensions`): builds the engine over
 * the running supervisor, with the current team's access policy, and hands back its
 * routes, session count and shutdown. A team switch replaces the policy through
 * `engine.registry.setPolicy`.
 */
export function createMcpWiring(context: McpWiringContext): McpWiring {
  const engine = createMcpEngine({
    supervisor: context.supervision.supervisor,
    logger: context.logger,
    version: gatewayVersion,
    policy: createTeamAccessPolicy(context.team),
    ...(context.acquireTimeoutMs !== undefined ? { acquireTimeoutMs: context.acquireTimeoutMs } : {}),
  });
  context.signal.addEventListener("abort", () => engine.close(), { once: true });
  return {
    routes: mcpServiceRoutes(engine, { logger: context.logger }),
    socketFastPaths: [createOpenSessionFastPath(engine, { logger: context.logger })],
    sessionCount: () => engine.sessionCount(),
    close: () => engine.close(),
    registry: engine.registry,
  };
}
