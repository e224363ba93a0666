/**
 * The MCP operations of the gateway, shared by client sessions and the typed RPCs so that
 * both run on exactly the same routing: resolve an exposed name or URI through the
 * registry, then forward to the server through the upstream router. Parameters other than
 * the routed name pass through untouched, and so do results (as `RawJson` when the caller
 * forwards them and they are large: see `Caller.forwardsResults`).
 */
import { GatewayError } from "../errors.js";
import type { JsonObject, UpstreamResult } from "../upstream/types.js";
import type { CompletionRef, ExposedPrompt, ExposedResource, ExposedResourceTemplate, ExposedTool, Registry } from "./registry.js";
import type { Caller, UpstreamRouter } from "./upstream-router.js";
import { nullCallObserver, type CallObserver } from "../observability/call-observer.js";
import { tracedUpstreamParams } from "../observability/tracing.js";
import type { CallSignal } from "../call-signal.js";

/** The operations. */
export interface McpOperations {
  /**
   * Visible tools, after waiting (bounded) for servers that are still starting. `caller`, when given, is who asks:
   * a session's operations list under that client's names (client-names-scope.ts); the shared operations ignore it.
   */
  listTools(server?: string, caller?: Caller): Promise<ExposedTool[]>;
  /** `tools/call` with `params.name` an exposed name. */
  callTool(params: JsonObject, caller: Caller, signal: CallSignal): Promise<UpstreamResult>;
  listPrompts(server?: string): Promise<ExposedPrompt[]>;
  /** `prompts/get` with `params.name` an exposed name. */
  getPrompt(params: JsonObject, caller: Caller, signal: CallSignal): Promise<UpstreamResult>;
  listResources(server?: string): Promise<ExposedResource[]>;
  listResourceTemplates(server?: string): Promise<ExposedResourceTemplate[]>;
  /** `resources/read`, routed by URI. */
  readResource(params: JsonObject, caller: Caller, signal: CallSignal): Promise<UpstreamResult>;
  /** `completion/complete`, routed by its reference. */
  complete(params: JsonObject, caller: Caller, signal: CallSignal): Promise<UpstreamResult>;
}

/** Options of `createMcpOperations`. */
export interface McpOperationsOptions {
  readonly registry: Registry;
  readonly router: UpstreamRouter;
  /** How long lists and name resolution wait for servers that are still starting. */
  readonly waitMs: number;
  /** Runs a management tool's action on its server (see management-tools.ts). */
  readonly manage: (server: string, args: unknown) => Promise<JsonObject>;
  /**
   * The one instrumentation point of tool calls, prompt gets and resource reads (metrics, audit log, `dsctl top`):
   * told once when each ends, whichever way. Default: nothing is recorded.
   */
  readonly observer?: CallObserver;
}

/** Creates the operations over a registry and a router. */
export function createMcpOperations({ registry, router, waitMs, manage, observer = nullCallObserver }: McpOperationsOptions): McpOperations {
  /**
   * The hot path's first try: the resolved value, or undefined when `resolveWaiting` must decide (it resolves again,
   * a pure lookup): a known name costs no async function, closure promise or extra microtask turn per call.
   */
  function resolveNow<T>(resolve: () => T): T | undefined {
    try {
      return resolve();
    } catch {
      return undefined;
    }
  }

  /** Resolves, and when the name is unknown while servers are still starting, waits for them once and retries. */
  async function resolveWaiting<T>(resolve: () => T): Promise<T> {
    try {
      return resolve();
    } catch (error) {
      if (!(error instanceof GatewayError) || error.kind !== "not_found" || registry.pendingServers().length === 0) throw error;
      await registry.settled(waitMs);
      return resolve();
    }
  }

  /** Forwards to a server and counts the request (and its failure) by method. */
  async function forward(server: string, method: string, params: JsonObject, caller: Caller, signal: CallSignal): Promise<UpstreamResult> {
    // Traced callers only (tracing on): the server gets the request's span as the parent in `_meta`.
    const sent = caller.trace === undefined ? params : tracedUpstreamParams(caller, server, params);
    let result: UpstreamResult;
    try {
      result = await router.forward(server, method, sent, caller, signal);
    } catch (error) {
      observer.upstream(server, method, true);
      throw error;
    }
    observer.upstream(server, method, false);
    return result;
  }

  async function settledThen<T>(list: () => T): Promise<T> {
    await registry.settled(waitMs);
    return list();
  }

  return {
    listTools: (server) => settledThen(() => registry.tools(server)),
    async callTool(params, caller, signal) {
      const name = String(params.name);
      const startedAt = observer.now();
      let tool: ExposedTool | undefined;
      let result: UpstreamResult;
      try {
        tool = resolveNow(() => registry.resolveTool(name)) ?? (await resolveWaiting(() => registry.resolveTool(name)));
        if (tool.management) {
          result = await manage(tool.server, params.arguments);
        } else {
          // The gateway does not advertise `tasks` (experimental in 2025-11-25): a task request
          // is served as a normal call, so the server never creates a task nobody can poll.
          // One copy of the params: `task: undefined` is left out when the request is written.
          const forwarded = params.task === undefined ? { ...params, name: tool.upstreamName } : { ...params, name: tool.upstreamName, task: undefined };
          result = await forward(tool.server, "tools/call", forwarded, caller, signal);
        }
      } catch (error) {
        // A refused tool exists: the audit names its server and canonical name all the same.
        const known = tool ?? (error instanceof GatewayError && error.kind === "permission_denied" ? registry.describeTool(name) : undefined);
        observer.finished("tools/call", name, known?.server, known?.canonicalName, caller.client, params.arguments, startedAt, undefined, error);
        throw error;
      }
      observer.finished("tools/call", name, tool.server, tool.canonicalName, caller.client, params.arguments, startedAt, result, undefined);
      return result;
    },
    listPrompts: (server) => settledThen(() => registry.prompts(server)),
    async getPrompt(params, caller, signal) {
      const name = String(params.name);
      const startedAt = observer.now();
      let prompt: ExposedPrompt | undefined;
      let result: UpstreamResult;
      try {
        prompt = await resolveWaiting(() => registry.resolvePrompt(name));
        result = await forward(prompt.server, "prompts/get", { ...params, name: prompt.upstreamName }, caller, signal);
      } catch (error) {
        observer.finished("prompts/get", name, prompt?.server, undefined, caller.client, params.arguments, startedAt, undefined, error);
        throw error;
      }
      observer.finished("prompts/get", name, prompt.server, undefined, caller.client, params.arguments, startedAt, result, undefined);
      return result;
    },
    listResources: (server) => settledThen(() => registry.resources(server)),
    listResourceTemplates: (server) => settledThen(() => registry.resourceTemplates(server)),
    async readResource(params, caller, signal) {
      const uri = String(params.uri);
      const startedAt = observer.now();
      let server: string | undefined;
      let result: UpstreamResult;
      try {
        server = await resolveWaiting(() => registry.resolveResource(uri));
        result = await forward(server, "resources/read", params, caller, signal);
      } catch (error) {
        observer.finished("resources/read", uri, server, undefined, caller.client, undefined, startedAt, undefined, error);
        throw error;
      }
      observer.finished("resources/read", uri, server, undefined, caller.client, undefined, startedAt, result, undefined);
      return result;
    },
    async complete(params, caller, signal) {
      const target = await resolveWaiting(() => registry.resolveCompletion(params.ref as CompletionRef));
      return forward(target.server, "completion/complete", { ...params, ref: target.ref }, caller, signal);
    },
  };
}
