/**
 * A client session's operations under the tool names its client accepts (client-names.ts).
 *
 * It sits outermost, around the profile's confined operations (profile-scope.ts): a tool list
 * leaves under the client's names, and a call's name is turned back into the gateway name
 * before anything else sees it, so the profile, the policy, the audit log and the upstream
 * all judge and record the gateway name, exactly as for any other client. A name the client
 * was never given passes through untouched: the gateway name (what `dsctl tools list` shows)
 * works for every client, except one that equals an older tool's client name (see
 * `createClientNameView`), which keeps meaning that older tool.
 *
 * The rule is looked up per request from the client's name, so a client whose identity
 * arrives with each request (the modern era's `_meta`) is served the same way; the views are
 * the registry's, built once per catalog snapshot.
 */
import type { JsonObject } from "../upstream/types.js";
import { clientRuleFor, type ClientNameRule, type ClientNameView } from "./client-names.js";
import type { SessionOperations } from "./profile-scope.js";
import type { Registry } from "./registry.js";
import { CALL_TOOL } from "./tool-search-tools.js";
import type { Caller } from "./upstream-router.js";

/** What the client-names scope needs. */
export interface ClientNamesScopeDeps {
  readonly registry: Registry;
  /** The name of the gateway's entry in the client's config (`deploystack`, or `deploystack-<profile>`). */
  readonly entry: string;
  /** The client's `clientInfo.name` for a request (from `initialize`, or from the request itself). */
  readonly clientName: (caller: Caller | undefined) => string | undefined;
  /** Whether `call_tool` is the gateway's meta-tool for this session (a `tools: search` profile). */
  readonly searchMode: () => boolean;
}

/** Wraps a session's operations so that its client sees, and may call, tools by the names it accepts. */
export function createClientNamesScope(inner: SessionOperations, deps: ClientNamesScopeDeps): SessionOperations {
  const { registry, entry } = deps;
  let lastName: string | undefined;
  let lastRule: ClientNameRule = clientRuleFor(undefined);
  const ruleOf = (caller: Caller | undefined): ClientNameRule => {
    const name = deps.clientName(caller);
    if (name !== lastName) {
      lastName = name;
      lastRule = clientRuleFor(name);
    }
    return lastRule;
  };
  const viewOf = (caller: Caller | undefined): ClientNameView => registry.clientNames(ruleOf(caller), entry);

  /** The gateway name behind a name this client was given, else the name as it came. */
  function gatewayName(view: ClientNameView, name: unknown): unknown {
    return typeof name === "string" ? (view.exposedName(name) ?? name) : name;
  }

  function translateCall(params: JsonObject, view: ClientNameView): JsonObject {
    if (view.identity) return params;
    if (params.name === CALL_TOOL && deps.searchMode()) {
      const args = params.arguments;
      if (typeof args !== "object" || args === null || Array.isArray(args)) return params;
      const target = (args as JsonObject).name;
      const name = gatewayName(view, target);
      return name === target ? params : { ...params, arguments: { ...(args as JsonObject), name } };
    }
    const name = gatewayName(view, params.name);
    return name === params.name ? params : { ...params, name };
  }

  return {
    ...inner,
    async listTools(server, caller) {
      // Without a caller (a list the engine makes for itself), the session's client (from `initialize`) decides.
      const tools = await inner.listTools(server);
      const view = viewOf(caller);
      return view.identity ? tools : tools.map((tool) => view.tool(tool));
    },
    callTool(params, caller, signal) {
      return inner.callTool(translateCall(params, viewOf(caller)), caller, signal);
    },
  };
}
