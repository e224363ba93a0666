/**
 * `McpService`: the thin adapter between the control API and the MCP session engine
 * (daemon/mcp). `OpenSession` carries one MCP client session as JSON-RPC bytes both ways:
 * connect-node's handler here converts proto frames and feeds the one session loop
 * (open-session-loop.ts), as the unix socket's fast path does. The typed RPCs convert to and
 * from proto and call the engine's operations, which share their routing with sessions.
 * Domain errors are converted once (./errors.ts); JSON-RPC errors of upstream servers map to
 * the nearest Connect code with their message.
 */
import { create, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import { codeFromString, codeToString } from "@connectrpc/connect/protocol-connect";
import {
  CallLogMessageSchema,
  CallProgressSchema,
  PromptSchema,
  ResourceSchema,
  ServerMessageSchema,
  SessionEndedSchema,
  SessionInitializedSchema,
  ToolSchema,
  type Tool,
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
import { messageFrame, messageTraceContext, type OpenSessionRequestFrame } from "../../shared/open-session-wire/codec.js";
import type { ConnectWireCode } from "../../shared/open-session-wire/envelope.js";
import { jsonPayloadByteLength, jsonPayloadBytes } from "../../shared/open-session-wire/payload.js";
import { silentLogger, type Logger } from "../../shared/logger.js";
import { gatewayVersion } from "../../shared/version.js";
import type { McpWiring, McpWiringContext } from "../mcp-wiring.js";
import { GatewayError } from "../errors.js";
import { createMcpEngine, type McpEngine } from "../mcp/engine.js";
import { createTeamAccessPolicy } from "../policy/access-policy.js";
import type { ExposedResource, ExposedResourceTemplate, ExposedTool, HiddenTool } from "../mcp/registry.js";
import { hiddenReasonToText } from "./convert.js";
import { createProfileSet } from "../mcp/profiles.js";
import type { SessionFrame } from "../mcp/session.js";
import { UpstreamRpcError, type JsonObject } from "../upstream/types.js";
import { createAsyncQueue } from "./async-queue.js";
import { createOpenSessionFastPath } from "./open-session-fast-path.js";
import { createOpenSessionLoops, type OpenSessionFailure, type OpenSessionLoop, type OpenSessionSink } from "./open-session-loop.js";
import { toConnectError } from "./errors.js";

/** Options of the adapter. */
export interface McpServiceOptions {
  readonly logger?: Logger;
  /**
   * `OpenSession`'s loops, when the caller shares them with the fast path; by default made
   * here over the engine (open-session-loop.ts: the start rule, back-pressure, hop timing).
   */
  readonly openSessionLoop?: (sink: OpenSessionSink) => OpenSessionLoop;
  /**
   * Events a `CallTool` stream may have queued for a client that does not read them; later
   * progress and log events are dropped (the result always gets through). Default 10 000.
   */
  readonly maxQueuedCallEvents?: number;
}

/** A proto request frame as the session loop takes it (the fast path decodes to the same). */
function frameFromProto(request: OpenSessionRequest): OpenSessionRequestFrame {
  const frame = request.frame;
  switch (frame.case) {
    case "start":
      return {
        kind: "start",
        sessionId: frame.value.sessionId,
        transport: frame.value.transport,
        ...(frame.value.profile !== "" ? { profile: frame.value.profile } : {}),
        ...(frame.value.stateless ? { stateless: true } : {}),
      };
    case "message":
      return messageFrame(frame.value.exchangeId, frame.value.json, messageTraceContext(frame.value.traceparent, frame.value.tracestate));
    default:
      return { kind: "empty" };
  }
}

/** The loop's failure as connect-node throws it. */
function failureToConnect(failure: OpenSessionFailure): ConnectError {
  return new ConnectError(failure.message, codeFromString(failure.code) ?? Code.Unknown);
}

/** An error from connect-node's reading of the request stream, as a loop failure. */
function failureFromConnect(error: unknown): OpenSessionFailure {
  const connectError = ConnectError.from(error);
  return { code: codeToString(connectError.code) as ConnectWireCode, message: connectError.rawMessage };
}

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
  const openSessionLoop = options.openSessionLoop ?? createOpenSessionLoops(engine, { logger });
  const maxQueuedCallEvents = options.maxQueuedCallEvents ?? 10_000;

  /**
   * connect-node's carrier of `OpenSession`: frames from the request iterable into the loop, the
   * loop's frames into the response iterable. The bytes waiting in that queue are the client's
   * unread bytes the loop's back-pressure rule measures.
   */
  async function* openSession(requests: AsyncIterable<OpenSessionRequest>, context: HandlerContext): AsyncIterable<OpenSessionResponse> {
    const queue = createAsyncQueue<{ readonly response: OpenSessionResponse; readonly bytes: number }>(Number.MAX_SAFE_INTEGER, context.signal);
    let queuedBytes = 0;
    const loop = openSessionLoop({
      write(frame) {
        const bytes = frame.kind === "message" ? jsonPayloadByteLength(frame.json) + 16 : 64;
        if (queue.push({ response: frameToProto(frame), bytes })) queuedBytes += bytes;
      },
      queuedBytes: () => queuedBytes,
      end: (failure) => queue.end(failure && failureToConnect(failure)),
    });
    // Client frames are read concurrently with the frames we send: answers may arrive in any order.
    // Not awaited: once the loop has ended the stream, the response must not wait for the client's
    // next frame; this reading ends by itself when the stream closes. Read by hand rather than with
    // `for await`: leaving that loop calls the iterator's `return`, which destroys the node request;
    // connect-node takes the request's `close` for the client going away and aborts the call, and the
    // answers still queued and the stream's `resource_exhausted` would be dropped for a clean end.
    void (async () => {
      const frames = requests[Symbol.asyncIterator]();
      try {
        for (let next = await frames.next(); next.done !== true; next = await frames.next()) {
          loop.receive(frameFromProto(next.value));
          if (loop.finished) return;
        }
        loop.inputEnded();
      } catch (error) {
        // The client went away (the call was cancelled) or sent what connect-node cannot read.
        if (context.signal.aborted) loop.abort();
        else loop.fail(failureFromConnect(error));
      }
    })();
    try {
      for await (const { response, bytes } of queue) {
        queuedBytes -= bytes;
        yield response;
      }
    } finally {
      loop.abort();
    }
  }

  router.service(McpService, {
    openSession,
    async listTools(req) {
      const server = req.server === "" ? undefined : req.server;
      const tools = await engine.listTools(server);
      // A renamed tool says what it wanted, so `tools list` explains the name it got.
      const wanted = new Map(
        engine.registry
          .collisions()
          .filter((collision) => collision.assignedName !== "")
          .map((collision) => [`${collision.renamedServer}\0${collision.renamedItem}\0${collision.assignedName}`, collision.wantedName]),
      );
      const toProto = (tool: ExposedTool | HiddenTool, hiddenReason: string): Tool =>
        create(ToolSchema, {
          name: tool.exposedName,
          server: tool.server,
          upstreamName: tool.upstreamName,
          description: typeof tool.definition.description === "string" ? tool.definition.description : "",
          definition: tool.definition as JsonObject & { [k: string]: JsonValue },
          hiddenReason,
          wantedName: wanted.get(`${tool.server}\0${tool.upstreamName}\0${tool.exposedName}`) ?? "",
        });
      const hidden = req.includeHidden ? engine.registry.hiddenTools(server) : [];
      const exposed = tools.map((tool) => toProto(tool, ""));
      const explained = hidden.map((tool) => toProto(tool, hiddenReasonToText(tool.reason)));
      if (req.profile === "") return create(ListToolsResponseSchema, { tools: [...exposed, ...explained] });
      // A profile narrows the team's tools (profiles.ts); its unknown-name error (with "did you mean") is the paths' one.
      const profile = createProfileSet(
        engine
          .listProfiles()
          .filter((summary) => summary.profile.defined)
          .map((summary) => summary.profile.config),
      ).resolve(req.profile);
      const outside = `not in profile "${profile.name}"`;
      return create(ListToolsResponseSchema, {
        tools: [
          ...exposed.filter((_, index) => profile.admitsTool(tools[index]!)),
          ...(req.includeHidden ? exposed.filter((_, index) => !profile.admitsTool(tools[index]!)).map((tool) => create(ToolSchema, { ...tool, hiddenReason: outside })) : []),
          ...explained,
        ],
      });
    },
    async *callTool(req, context) {
      const name = requireText(req.name, "a tool name");
      const queue = createAsyncQueue<CallToolResponse>(maxQueuedCallEvents, context.signal);
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
    ...(context.observer ? { observer: context.observer } : {}),
  });
  context.signal.addEventListener("abort", () => engine.close(), { once: true });
  // One loop for OpenSession, whichever carrier a stream arrives on.
  const openSessionLoop = createOpenSessionLoops(engine, { logger: context.logger });
  return {
    routes: mcpServiceRoutes(engine, { logger: context.logger, openSessionLoop }),
    socketFastPaths: [createOpenSessionFastPath(openSessionLoop)],
    sessionCount: () => engine.sessionCount(),
    close: () => engine.close(),
    registry: engine.registry,
    profiles: engine,
  };
}
