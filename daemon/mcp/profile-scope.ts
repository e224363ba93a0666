/**
 * A client session's operations, confined to its profile (profiles.ts): the shared operations
 * (operations.ts) behind a filter, so that sessions and typed RPCs still run on one routing path.
 *
 * - Lists show only the profile's servers' prompts and resources and the tools it admits.
 * - A tool, prompt or resource outside the profile is refused exactly like one that does not
 *   exist (same error, same message), whatever its state or the policy says of it: a session
 *   learns nothing about what lies beyond its profile.
 * - In a `tools: search` profile the tool list is the meta-tools (tool-search-tools.ts) plus the
 *   tools the session found; `call_tool` goes through the same confined call as a direct call
 *   (so through the policy, and with the request's progress token and cancellation), and any
 *   tool of the profile may still be called directly by name.
 */
import { GatewayError } from "../errors.js";
import type { JsonObject, UpstreamResult } from "../upstream/types.js";
import type { McpOperations } from "./operations.js";
import type { Profile } from "./profiles.js";
import type { CompletionRef, ExposedPrompt, ExposedResource, ExposedResourceTemplate, ExposedTool, Registry } from "./registry.js";
import { CALL_TOOL, callToolTarget, FIND_TOOLS, findToolsArguments, findToolsResult, SEARCH_META_TOOLS } from "./tool-search-tools.js";
import type { ToolIndex } from "./tool-search.js";
import type { Caller } from "./upstream-router.js";
import type { CallSignal } from "../call-signal.js";

/** The per-session state a scope reads; the engine owns it and swaps `profile` on a reload. */
export interface ScopeState {
  profile: Profile;
  /** Exposed names of tools this session found with `find_tools` (search mode): they join its list. */
  readonly found: Set<string>;
}

/** What a scope needs from the engine. */
export interface ProfileScopeDeps {
  readonly registry: Registry;
  readonly operations: McpOperations;
  /** The search index of a profile's visible tools (built once per catalog change). */
  readonly indexOf: (profile: Profile) => ToolIndex;
  /** The session found tools it did not know: its tool list changed. */
  readonly onFound: () => void;
}

/** A session's operations, plus the checks the method table needs beyond them. */
export interface SessionOperations extends McpOperations {
  /** Throws `not_found` (like an unknown URI) when a resource is outside the profile; for `resources/subscribe`. */
  checkResource(uri: string): void;
}

/** The meta-tools as list entries (`server` empty: they are the gateway's own). */
const META_TOOLS: readonly ExposedTool[] = SEARCH_META_TOOLS.map((definition) => ({
  exposedName: String(definition.name),
  canonicalName: String(definition.name),
  server: "",
  upstreamName: "",
  definition,
}));

const META_TOOL_NAMES = new Set(META_TOOLS.map((tool) => tool.exposedName));

/** A profile's tools among the visible (policy-allowed) ones. */
export function profileTools(registry: Registry, profile: Profile): ExposedTool[] {
  const tools = registry.tools();
  return profile.defined ? tools.filter((tool) => profile.admitsTool(tool)) : tools;
}

/** The tools a session lists: the profile's, or in search mode the meta-tools and what it found. */
export function sessionTools(registry: Registry, state: ScopeState): ExposedTool[] {
  const tools = profileTools(registry, state.profile);
  if (state.profile.mode === "all") return tools;
  // A catalog tool named like a meta-tool (a server with an empty prefix) stays reachable through call_tool only.
  return [...META_TOOLS, ...tools.filter((tool) => state.found.has(tool.exposedName) && !META_TOOL_NAMES.has(tool.exposedName))];
}

/** A profile's prompts. */
export function profilePrompts(registry: Registry, profile: Profile): ExposedPrompt[] {
  return registry.prompts().filter((prompt) => profile.admitsServer(prompt.server));
}

/** A profile's resources and templates. */
export function profileResources(registry: Registry, profile: Profile): { resources: ExposedResource[]; templates: ExposedResourceTemplate[] } {
  return {
    resources: registry.resources().filter((resource) => profile.admitsServer(resource.server)),
    templates: registry.resourceTemplates().filter((template) => profile.admitsServer(template.server)),
  };
}

/** Whatever `resolve` finds, when it finds something; errors are left to the operation, which reports them itself. */
function attempt<T>(resolve: () => T): T | undefined {
  try {
    return resolve();
  } catch {
    return undefined;
  }
}

/** Builds the confined operations of one session. */
export function createProfileScope(state: ScopeState, deps: ProfileScopeDeps): SessionOperations {
  const { registry, operations } = deps;

  /** The registry's own "unknown" errors, word for word, for what lies outside the profile. */
  const unknownTool = (name: string): GatewayError => new GatewayError("not_found", `unknown tool "${name}"`);
  const unknownPrompt = (name: string): GatewayError => new GatewayError("not_found", `unknown prompt "${name}"`);
  const unknownResource = (uri: string): GatewayError => new GatewayError("not_found", `resource "${uri}" not found`);

  function checkTool(name: string): void {
    const profile = state.profile;
    if (!profile.defined) return;
    const tool = registry.describeTool(name);
    if (tool && tool.exposedName === name && !profile.admitsTool(tool)) throw unknownTool(name);
  }
  function checkPrompt(name: string): void {
    const prompt = attempt(() => registry.resolvePrompt(name));
    if (prompt && !state.profile.admitsServer(prompt.server)) throw unknownPrompt(name);
  }
  function checkResource(uri: string): void {
    const server = attempt(() => registry.resolveResource(uri));
    if (server !== undefined && !state.profile.admitsServer(server)) throw unknownResource(uri);
  }

  function callCatalogTool(params: JsonObject, caller: Caller, signal: CallSignal): Promise<UpstreamResult> {
    checkTool(String(params.name));
    return operations.callTool(params, caller, signal);
  }

  async function findTools(params: JsonObject): Promise<UpstreamResult> {
    const { query, limit } = findToolsArguments(params);
    await operations.listTools(); // waits (bounded) for servers still starting, like a list
    const matches = deps.indexOf(state.profile).search(query, limit);
    let added = false;
    for (const { tool } of matches) {
      if (!state.found.has(tool.exposedName)) {
        state.found.add(tool.exposedName);
        added = true;
      }
    }
    if (added) deps.onFound();
    return findToolsResult(query, matches);
  }

  return {
    async listTools() {
      await operations.listTools();
      return sessionTools(registry, state);
    },
    callTool(params, caller, signal) {
      if (state.profile.mode === "search") {
        if (params.name === FIND_TOOLS) return findTools(params);
        if (params.name === CALL_TOOL) return callCatalogTool(callToolTarget(params), caller, signal);
      }
      return callCatalogTool(params, caller, signal);
    },
    async listPrompts() {
      await operations.listPrompts();
      return profilePrompts(registry, state.profile);
    },
    getPrompt(params, caller, signal) {
      checkPrompt(String(params.name));
      return operations.getPrompt(params, caller, signal);
    },
    async listResources() {
      await operations.listResources();
      return profileResources(registry, state.profile).resources;
    },
    async listResourceTemplates() {
      await operations.listResourceTemplates();
      return profileResources(registry, state.profile).templates;
    },
    readResource(params, caller, signal) {
      checkResource(String(params.uri));
      return operations.readResource(params, caller, signal);
    },
    complete(params, caller, signal) {
      const ref = params.ref as CompletionRef;
      if (ref.type === "ref/prompt") checkPrompt(ref.name);
      else checkResource(ref.uri);
      return operations.complete(params, caller, signal);
    },
    checkResource,
  };
}
