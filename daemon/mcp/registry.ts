/**
 * The exposed catalog: every tool, prompt, resource and resource template of every
 * configured server, under the names clients see, with the maps that route them back.
 *
 * It is rebuilt from the supervisor's catalogs whenever the supervisor reports a catalog,
 * state or server-set change (or a catalog is seeded from the start-up cache), and emits
 * one change event naming the kinds whose visible lists changed. Names are assigned over
 * all known catalogs, including those of disabled or failed servers, so a server going
 * away and coming back never renames anybody; those servers' items are hidden from lists
 * and resolve to an "unavailable" error naming the server.
 */
import { UriTemplate } from "@modelcontextprotocol/sdk/shared/uriTemplate.js";
import { GatewayError } from "../errors.js";
import type { ServerCatalog, ServerSnapshot, Supervisor } from "../supervisor/types.js";
import type { JsonObject } from "../upstream/types.js";
import { allowAllPolicy, type AccessPolicy } from "./access-policy.js";
import { systemClock, type Clock } from "./clock.js";
import { assignExposedNames, itemKey, type NameCollision, type NamingCandidate } from "./exposed-names.js";
import { managementToolDefinition, managementToolName } from "./management-tools.js";

/** A tool as clients see it. */
export interface ExposedTool {
  readonly exposedName: string;
  readonly server: string;
  /** The tool's name on its server; empty for a management tool, which has no upstream. */
  readonly upstreamName: string;
  /** The upstream definition, untouched except `name` (the gateway's own for a management tool). */
  readonly definition: JsonObject;
  /** The gateway's own tool managing `server` (see management-tools.ts), never forwarded. */
  readonly management?: true;
}

/** A prompt as clients see it. */
export interface ExposedPrompt {
  readonly exposedName: string;
  readonly server: string;
  readonly upstreamName: string;
  readonly definition: JsonObject;
}

/** A resource (URI kept as the server listed it). */
export interface ExposedResource {
  readonly uri: string;
  readonly server: string;
  readonly definition: JsonObject;
}

/** A resource template (URI template kept as the server listed it). */
export interface ExposedResourceTemplate {
  readonly uriTemplate: string;
  readonly server: string;
  readonly definition: JsonObject;
}

/** The list kinds that have a `notifications/<kind>/list_changed`. */
export type CatalogKind = "tools" | "prompts" | "resources";

/** A completion reference (MCP 2025-11-25 "Server Features › Utilities › Completion"). */
export type CompletionRef = { readonly type: "ref/prompt"; readonly name: string } | { readonly type: "ref/resource"; readonly uri: string };

/** Where a completion request goes, with the reference rewritten for that server. */
export interface CompletionTarget {
  readonly server: string;
  readonly ref: JsonObject;
}

/** The registry's public face. */
export interface Registry {
  /** Visible tools (server available, allowed by policy, not task-only), sorted by exposed name. */
  tools(server?: string): ExposedTool[];
  prompts(server?: string): ExposedPrompt[];
  resources(server?: string): ExposedResource[];
  resourceTemplates(server?: string): ExposedResourceTemplate[];
  /** Throws not_found (unknown), permission_denied (policy) or unavailable (server disabled or failed). */
  resolveTool(exposedName: string): ExposedTool;
  /** Throws not_found or unavailable. */
  resolvePrompt(exposedName: string): ExposedPrompt;
  /** The server for a resource URI: exact URI first, then the first matching template. Throws not_found or unavailable. */
  resolveResource(uri: string): string;
  /** Routes a completion reference. Throws not_found or unavailable. */
  resolveCompletion(ref: CompletionRef): CompletionTarget;
  /** Exposed-name collisions of tools and prompts, for `ListServers` and logs. */
  collisions(): NameCollision[];
  /**
   * Replaces every seeded catalog (the start-up cache of the current team) with `catalogs`: a seed
   * answers for a server only until it is discovered live, and seeds of another team must never
   * answer for a same-named server of this one.
   */
  replaceSeeds(catalogs: ReadonlyMap<string, ServerCatalog>): void;
  /** Whether any catalog is seeded: lists can be answered before the servers run. */
  hasSeeds(): boolean;
  /** Replaces the access policy (the team policy plugs in here). */
  setPolicy(policy: AccessPolicy): void;
  /** Turns the per-server management tools on or off (the team policy's `managementTools`). */
  setManagementTools(enabled: boolean): void;
  /** Whether `exposedName` is currently a management tool (exact, unlike the name-shape predicate). */
  isManagementTool(exposedName: string): boolean;
  /** Enabled servers still starting without any known catalog. */
  pendingServers(): string[];
  /** Resolves when no server is pending or after `timeoutMs`, whichever comes first. */
  settled(timeoutMs: number): Promise<void>;
  /** Listens for changes of the visible lists; returns the unsubscribe function. */
  onChange(listener: (kinds: ReadonlySet<CatalogKind>) => void): () => void;
  /** Stops following the supervisor. */
  close(): void;
}

/** Options of `createRegistry`. */
export interface RegistryOptions {
  readonly supervisor: Supervisor;
  readonly policy?: AccessPolicy;
  readonly clock?: Clock;
  /** Expose one management tool per configured server; default false. */
  readonly managementTools?: boolean;
}

interface Snapshot {
  readonly tools: Map<string, ExposedTool>;
  readonly prompts: Map<string, ExposedPrompt>;
  readonly resources: Map<string, ExposedResource>;
  readonly templates: { readonly entry: ExposedResourceTemplate; readonly matcher: UriTemplate | undefined }[];
  readonly collisions: NameCollision[];
  readonly available: ReadonlyMap<string, ServerSnapshot>;
  readonly unavailable: ReadonlyMap<string, ServerSnapshot>;
  /** The lists clients see, computed once per snapshot (lists are served often; the policy is applied here). */
  readonly visible: VisibleLists;
  readonly signatures: Record<CatalogKind, string>;
}

interface VisibleLists {
  readonly tools: readonly ExposedTool[];
  readonly prompts: readonly ExposedPrompt[];
  readonly resources: readonly ExposedResource[];
  readonly templates: readonly ExposedResourceTemplate[];
}

type SnapshotParts = Omit<Snapshot, "signatures" | "visible">;

function ofServer<T extends { readonly server: string }>(items: readonly T[], server: string | undefined): T[] {
  return server === undefined ? items.slice() : items.filter((item) => item.server === server);
}

/** Tools that only work as MCP tasks (experimental in 2025-11-25) are not exposed until tasks are supported. */
function isTaskOnly(tool: JsonObject): boolean {
  const execution = tool.execution;
  return typeof execution === "object" && execution !== null && (execution as JsonObject).taskSupport === "required";
}

function nameOf(item: JsonObject): string | undefined {
  return typeof item.name === "string" ? item.name : undefined;
}

function isAvailable(snapshot: ServerSnapshot): boolean {
  return snapshot.enabled && snapshot.state !== "failed";
}

function unavailableError(snapshot: ServerSnapshot): GatewayError {
  if (!snapshot.enabled) return new GatewayError("unavailable", `server "${snapshot.name}" is disabled`);
  return new GatewayError("unavailable", `server "${snapshot.name}" has failed${snapshot.lastError ? `: ${snapshot.lastError}` : ""}`);
}

function compileTemplate(template: string): UriTemplate | undefined {
  try {
    return new UriTemplate(template);
  } catch {
    return undefined;
  }
}

/** Builds the registry and starts following the supervisor's events. */
export function createRegistry(options: RegistryOptions): Registry {
  const { supervisor } = options;
  const clock = options.clock ?? systemClock;
  let policy = options.policy ?? allowAllPolicy;
  let managementTools = options.managementTools ?? false;
  let seeds: ReadonlyMap<string, ServerCatalog> = new Map();
  const listeners = new Set<(kinds: ReadonlySet<CatalogKind>) => void>();
  const settleWaiters = new Set<() => void>();

  function catalogOf(name: string): ServerCatalog | undefined {
    // The supervisor's catalog is the live one (it is cleared when a server's command, args or
    // env change); a seed answers only until the first discovery.
    return supervisor.catalog(name) ?? seeds.get(name);
  }

  function build(): Snapshot {
    const servers = supervisor.list();
    const available = new Map<string, ServerSnapshot>();
    const unavailable = new Map<string, ServerSnapshot>();
    const toolDefs = new Map<string, JsonObject>();
    const promptDefs = new Map<string, JsonObject>();
    const toolCandidates: NamingCandidate[] = [];
    const promptCandidates: NamingCandidate[] = [];
    const resources = new Map<string, ExposedResource>();
    const templates: Snapshot["templates"] = [];
    for (const server of servers) {
      (isAvailable(server) ? available : unavailable).set(server.name, server);
      const catalog = catalogOf(server.name);
      if (!catalog) continue;
      for (const tool of catalog.tools) {
        const name = nameOf(tool);
        if (name === undefined || isTaskOnly(tool)) continue;
        toolCandidates.push({ server: server.name, prefix: server.prefix, upstreamName: name });
        toolDefs.set(itemKey(server.name, name), tool);
      }
      for (const prompt of catalog.prompts) {
        const name = nameOf(prompt);
        if (name === undefined) continue;
        promptCandidates.push({ server: server.name, prefix: server.prefix, upstreamName: name });
        promptDefs.set(itemKey(server.name, name), prompt);
      }
      for (const resource of catalog.resources) {
        if (typeof resource.uri !== "string" || resources.has(resource.uri)) continue;
        resources.set(resource.uri, { uri: resource.uri, server: server.name, definition: resource });
      }
      for (const template of catalog.resourceTemplates) {
        if (typeof template.uriTemplate !== "string") continue;
        templates.push({
          entry: { uriTemplate: template.uriTemplate, server: server.name, definition: template },
          matcher: compileTemplate(template.uriTemplate),
        });
      }
    }
    // Management tools keep their names: a server tool that wants one is renamed (and reported).
    const reserved = new Map<string, string>();
    if (managementTools) for (const server of servers) reserved.set(managementToolName(server.name), server.name);
    const toolNames = assignExposedNames(toolCandidates, reserved);
    const promptNames = assignExposedNames(promptCandidates);
    const tools = new Map<string, ExposedTool>();
    for (const [exposedName, server] of reserved) {
      tools.set(exposedName, { exposedName, server, upstreamName: "", definition: managementToolDefinition(server, exposedName), management: true });
    }
    for (const [exposedName, target] of toolNames.byExposedName) {
      const upstream = toolDefs.get(itemKey(target.server, target.upstreamName)) as JsonObject;
      tools.set(exposedName, { exposedName, ...target, definition: { ...upstream, name: exposedName } });
    }
    const prompts = new Map<string, ExposedPrompt>();
    for (const [exposedName, target] of promptNames.byExposedName) {
      const upstream = promptDefs.get(itemKey(target.server, target.upstreamName)) as JsonObject;
      prompts.set(exposedName, { exposedName, ...target, definition: { ...upstream, name: exposedName } });
    }
    const partial = {
      tools,
      prompts,
      resources,
      templates,
      collisions: [...toolNames.collisions, ...promptNames.collisions],
      available,
      unavailable,
    };
    const visible: VisibleLists = {
      tools: visibleTools(partial),
      prompts: visiblePrompts(partial),
      resources: visibleResources(partial),
      templates: visibleTemplates(partial),
    };
    return { ...partial, visible, signatures: signaturesOf(visible) };
  }

  function visibleTools(snap: SnapshotParts): ExposedTool[] {
    return [...snap.tools.values()]
      .filter((t) => (t.management === true || snap.available.has(t.server)) && policy.decide(t.exposedName).allowed)
      .sort((a, b) => (a.exposedName < b.exposedName ? -1 : a.exposedName > b.exposedName ? 1 : 0));
  }
  function visiblePrompts(snap: SnapshotParts): ExposedPrompt[] {
    return [...snap.prompts.values()]
      .filter((p) => snap.available.has(p.server))
      .sort((a, b) => (a.exposedName < b.exposedName ? -1 : a.exposedName > b.exposedName ? 1 : 0));
  }
  function visibleResources(snap: SnapshotParts): ExposedResource[] {
    return [...snap.resources.values()].filter((r) => snap.available.has(r.server));
  }
  function visibleTemplates(snap: SnapshotParts): ExposedResourceTemplate[] {
    return snap.templates
      .map((t) => t.entry)
      .filter((t) => snap.available.has(t.server));
  }
  function signaturesOf(visible: VisibleLists): Record<CatalogKind, string> {
    return {
      tools: JSON.stringify(visible.tools.map((t) => t.definition)),
      prompts: JSON.stringify(visible.prompts.map((p) => p.definition)),
      resources: JSON.stringify([visible.resources.map((r) => r.definition), visible.templates.map((t) => t.definition)]),
    };
  }

  let current = build();

  function refresh(): void {
    const next = build();
    const changed = new Set<CatalogKind>();
    for (const kind of ["tools", "prompts", "resources"] as const) {
      if (next.signatures[kind] !== current.signatures[kind]) changed.add(kind);
    }
    current = next;
    if (pendingServers().length === 0) {
      for (const wake of [...settleWaiters]) wake();
    }
    if (changed.size === 0) return;
    for (const listener of [...listeners]) listener(changed);
  }

  function pendingServers(): string[] {
    return [...current.available.values()]
      .filter((s) => (s.state === "starting" || s.state === "backoff") && catalogOf(s.name) === undefined)
      .map((s) => s.name);
  }

  const onCatalog = (): void => refresh();
  const onState = (): void => refresh();
  const onServers = (): void => refresh();
  supervisor.on("catalog", onCatalog);
  supervisor.on("state", onState);
  supervisor.on("servers", onServers);

  function availableServer(name: string): void {
    if (current.available.has(name)) return;
    const snapshot = current.unavailable.get(name);
    if (snapshot) throw unavailableError(snapshot);
    throw new GatewayError("not_found", `server "${name}" not found`);
  }

  function resolveResource(uri: string): string {
    const exact = current.resources.get(uri);
    if (exact) {
      availableServer(exact.server);
      return exact.server;
    }
    let unavailableMatch: string | undefined;
    for (const { entry, matcher } of current.templates) {
      if (!matcher || matcher.match(uri) === null) continue;
      if (current.available.has(entry.server)) return entry.server;
      unavailableMatch ??= entry.server;
    }
    if (unavailableMatch !== undefined) availableServer(unavailableMatch);
    throw new GatewayError("not_found", `resource "${uri}" not found`);
  }

  return {
    tools: (server) => ofServer(current.visible.tools, server),
    prompts: (server) => ofServer(current.visible.prompts, server),
    resources: (server) => ofServer(current.visible.resources, server),
    resourceTemplates: (server) => ofServer(current.visible.templates, server),
    resolveTool(exposedName) {
      const tool = current.tools.get(exposedName);
      if (!tool) throw new GatewayError("not_found", `unknown tool "${exposedName}"`);
      const decision = policy.decide(exposedName);
      if (!decision.allowed) {
        throw new GatewayError("permission_denied", `tool "${exposedName}" is not allowed by the team policy (${decision.rule})`);
      }
      // A management tool works on a disabled or failed server: enabling it is the point.
      if (!tool.management) availableServer(tool.server);
      return tool;
    },
    resolvePrompt(exposedName) {
      const prompt = current.prompts.get(exposedName);
      if (!prompt) throw new GatewayError("not_found", `unknown prompt "${exposedName}"`);
      availableServer(prompt.server);
      return prompt;
    },
    resolveResource,
    resolveCompletion(ref) {
      if (ref.type === "ref/prompt") {
        const prompt = this.resolvePrompt(ref.name);
        return { server: prompt.server, ref: { type: "ref/prompt", name: prompt.upstreamName } };
      }
      const template = current.templates.find((t) => t.entry.uriTemplate === ref.uri);
      if (template) {
        availableServer(template.entry.server);
        return { server: template.entry.server, ref: { type: "ref/resource", uri: ref.uri } };
      }
      return { server: resolveResource(ref.uri), ref: { type: "ref/resource", uri: ref.uri } };
    },
    collisions: () => [...current.collisions],
    replaceSeeds(catalogs) {
      seeds = new Map(catalogs);
      refresh();
    },
    hasSeeds: () => seeds.size > 0,
    setPolicy(next) {
      policy = next;
      refresh();
    },
    setManagementTools(enabled) {
      if (enabled === managementTools) return;
      managementTools = enabled;
      refresh();
    },
    isManagementTool: (exposedName) => current.tools.get(exposedName)?.management === true,
    pendingServers,
    settled(timeoutMs) {
      if (pendingServers().length === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const wake = (): void => {
          clock.clearTimeout(timer);
          settleWaiters.delete(wake);
          resolve();
        };
        const timer = clock.setTimeout(wake, timeoutMs);
        settleWaiters.add(wake);
      });
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      supervisor.off("catalog", onCatalog);
      supervisor.off("state", onState);
      supervisor.off("servers", onServers);
      for (const wake of [...settleWaiters]) wake();
      listeners.clear();
    },
  };
}
