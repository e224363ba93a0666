/**
 * The MCP methods a client session may call after `initialize`, with their parameter
 * checks (-32602 on bad params, MCP 2025-11-25 "Base Protocol › Error Handling"), each
 * delegating to the shared operations. Lists are answered whole: the gateway never issues
 * a cursor, so any cursor a client sends is invalid ("Utilities › Pagination": invalid
 * cursors SHOULD be -32602).
 */
import type { JsonObject, UpstreamResult } from "../upstream/types.js";
import { JsonRpcErrorCode, McpRpcError } from "./json-rpc.js";
import { isLogLevel, type LogLevel } from "./log-levels.js";
import type { SessionOperations } from "./profile-scope.js";
import type { ResourceSubscriptions } from "./resource-subscriptions.js";
import type { Caller } from "./upstream-router.js";
import type { CallSignal } from "../call-signal.js";

/** What a method handler gets. */
export interface MethodContext {
  readonly sessionId: string;
  readonly params: JsonObject;
  readonly caller: Caller;
  readonly signal: CallSignal;
}

/** A method handler. */
export type MethodHandler = (context: MethodContext) => Promise<UpstreamResult>;

/** What the method table needs from the engine. */
export interface MethodDeps {
  /** A session's operations, confined to its profile (profile-scope.ts). */
  readonly operationsFor: (sessionId: string) => SessionOperations;
  readonly subscriptions: ResourceSubscriptions;
  setLogLevel(sessionId: string, level: LogLevel): void;
}

function invalidParams(message: string): McpRpcError {
  return new McpRpcError(JsonRpcErrorCode.invalidParams, `invalid params: ${message}`);
}

function requireString(params: JsonObject, field: string): string {
  const value = params[field];
  if (typeof value !== "string") throw invalidParams(`"${field}" must be a string`);
  return value;
}

function optionalObject(params: JsonObject, field: string): void {
  const value = params[field];
  if (value !== undefined && (typeof value !== "object" || value === null || Array.isArray(value))) {
    throw invalidParams(`"${field}" must be an object`);
  }
}

function rejectCursor(params: JsonObject): void {
  if (params.cursor === undefined) return;
  if (typeof params.cursor !== "string") throw invalidParams('"cursor" must be a string');
  throw invalidParams(`unknown cursor ${JSON.stringify(params.cursor)}`);
}

function checkCompletion(params: JsonObject): void {
  const ref = params.ref as JsonObject | undefined;
  if (typeof ref !== "object" || ref === null || Array.isArray(ref)) throw invalidParams('"ref" must be an object');
  if (ref.type === "ref/prompt") requireString(ref, "name");
  else if (ref.type === "ref/resource") requireString(ref, "uri");
  else throw invalidParams('"ref.type" must be "ref/prompt" or "ref/resource"');
  const argument = params.argument as JsonObject | undefined;
  if (typeof argument !== "object" || argument === null || Array.isArray(argument)) throw invalidParams('"argument" must be an object');
  requireString(argument, "name");
  requireString(argument, "value");
}

/** Builds the method table. */
export function createMethodTable({ operationsFor, subscriptions, setLogLevel }: MethodDeps): ReadonlyMap<string, MethodHandler> {
  const table: Record<string, MethodHandler> = {
    "tools/list": async ({ sessionId, params, caller }) => {
      rejectCursor(params);
      // The caller names the client (per request in the modern era): the list is under its names.
      return { tools: (await operationsFor(sessionId).listTools(undefined, caller)).map((t) => t.definition) };
    },
    "tools/call": ({ sessionId, params, caller, signal }) => {
      requireString(params, "name");
      optionalObject(params, "arguments");
      return operationsFor(sessionId).callTool(params, caller, signal);
    },
    "prompts/list": async ({ sessionId, params }) => {
      rejectCursor(params);
      return { prompts: (await operationsFor(sessionId).listPrompts()).map((p) => p.definition) };
    },
    "prompts/get": ({ sessionId, params, caller, signal }) => {
      requireString(params, "name");
      optionalObject(params, "arguments");
      return operationsFor(sessionId).getPrompt(params, caller, signal);
    },
    "resources/list": async ({ sessionId, params }) => {
      rejectCursor(params);
      return { resources: (await operationsFor(sessionId).listResources()).map((r) => r.definition) };
    },
    "resources/templates/list": async ({ sessionId, params }) => {
      rejectCursor(params);
      return { resourceTemplates: (await operationsFor(sessionId).listResourceTemplates()).map((r) => r.definition) };
    },
    "resources/read": ({ sessionId, params, caller, signal }) => {
      requireString(params, "uri");
      return operationsFor(sessionId).readResource(params, caller, signal);
    },
    "resources/subscribe": async ({ sessionId, params, signal }) => {
      const uri = requireString(params, "uri");
      operationsFor(sessionId).checkResource(uri);
      await subscriptions.subscribe(sessionId, uri, signal);
      return {};
    },
    "resources/unsubscribe": async ({ sessionId, params }) => {
      subscriptions.unsubscribe(sessionId, requireString(params, "uri"));
      return {};
    },
    "completion/complete": ({ sessionId, params, caller, signal }) => {
      checkCompletion(params);
      return operationsFor(sessionId).complete(params, caller, signal);
    },
    "logging/setLevel": async ({ sessionId, params }) => {
      if (!isLogLevel(params.level)) throw invalidParams('"level" must be a log level (debug … emergency)');
      setLogLevel(sessionId, params.level);
      return {};
    },
  };
  return new Map(Object.entries(table));
}
