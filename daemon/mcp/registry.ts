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
 *
 * Upstreams are untrusted, so naming is sticky (exposed-names.ts): a name, resource URI or
 * URI template once given to a server's item stays with it for the life of the team (the
 * ledger, kept in the team's tool cache across restarts); a later claimant is renamed (or,
 * for a resource, not served) and the collision is reported. The access policy judges each
 * tool by its canonical and exposed names once per snapshot, so a call costs a map lookup.
 */
import { UriTemplate } from "@modelcontextprotocol/sdk/shared/uriTemplate.js";
import { GatewayError } from "../errors.js";
import type { ServerCatalog, ServerSnapshot, Supervisor } from "../supervisor/types.js";
import { serverUnavailableError } from "../supervisor/unavailable-error.js";
import type { JsonObject } from "../upstream/types.js";
import { closestMatch } from "../did-you-mean.js";
import { allowAllPolicy, type AccessDecision, type AccessPolicy } from "./access-policy.js";
import { systemClock, type Clock } from "./clock.js";
import {
  assignExposedNames,
  EMPTY_NAME_LEDGER,
  itemKey,
  retainHeld,
  wantedExposedName,
  type HeldName,
  type NameCollision,
  type NameLedger,
  type NamingCandidate,
} from "./exposed-names.js";
import { managementToolDefinition, managementToolName } from "./management-tools.js";
import type { ExposedTool } from "./exposed-tool.js";
import { createClientNameView, type ClientNameRule, type ClientNameView } from "./client-names.js";

export type { ExposedTool } from "./exposed-tool.js";

/**
 * Why a tool a server lists is not exposed. The one vocabulary of "hidden" for `dsctl tools list --all`,
 * `servers list` and `status`: a tool is counted as exposed exactly when it is in `tools()`, and every
 * other tool a known catalog lists is hidden for one of these reasons (the first that applies, in this order).
 */
export type HiddenToolReason =
  | { readonly kind: "task_only" }
  | { readonly kind: "denied"; readonly rule: string }
  | { readonly kind: "server_disabled" }
  | { readonly kind: "server_failed" };

/** A tool a server lists that clients do not see, and why. */
export interface HiddenTool {
  /** The exposed name it holds (it keeps it for when it comes back); for a task-only tool, which gets none, its canonical name. */
  readonly exposedName: string;
  readonly canonicalName: string;
  readonly server: string;
  readonly upstreamName: string;
  readonly definition: JsonObject;
  readonly reason: HiddenToolReason;
}

/**
 * A server's tools by the one definition of "tools" (see `Registry.toolCounts`): `exposed` are the ones in
 * `tools(server)` (its management tool included), `hidden` the others its catalog lists.
 */
export interface ToolCount {
  readonly exposed: number;
  readonly hidden: number;
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
  /** The tools of known catalogs that `tools()` leaves out, with the reason, sorted by server then name. */
  hiddenTools(server?: string): HiddenTool[];
  /**
   * Exposed and hidden tools per server, the single source of every tool count the gateway reports
   * (`GetStatus`, `ListServers`, `WatchEvents`), so counts always agree with `tools()` and `hiddenTools()`.
   * A server with no known catalog has none of either.
   */
  toolCounts(): ReadonlyMap<string, ToolCount>;
  /** Throws not_found (unknown), permission_denied (policy) or unavailable (server disabled or failed). */
  resolveTool(exposedName: string): ExposedTool;
  /** Throws not_found or unavailable. */
  resolvePrompt(exposedName: string): ExposedPrompt;
  /** The server for a resource URI: exact URI first, then the first matching template. Throws not_found or unavailable. */
  resolveResource(uri: string): string;
  /** Routes a completion reference. Throws not_found or unavailable. */
  resolveCompletion(ref: CompletionRef): CompletionTarget;
  /** Collisions of tool and prompt names, resource URIs and URI templates, for `ListServers` and logs. */
  collisions(): NameCollision[];
  /**
   * The tool names a client with `rule`, whose config names the gateway `entry`, sees (client-names.ts):
   * built once per snapshot, rule and entry, so lists and calls only look names up.
   */
  clientNames(rule: ClientNameRule, entry: string): ClientNameView;
  /**
   * Replaces every seeded catalog (the start-up cache of the current team) with `catalogs`: a seed
   * answers for a server only until it is discovered live, and seeds of another team must never
   * answer for a same-named server of this one. `names`, when given, replaces the name ledger
   * (the team's held names from the same cache); without it the held names stay.
   */
  replaceSeeds(catalogs: ReadonlyMap<string, ServerCatalog>, names?: NameLedger): void;
  /** Every name held now, for the tool cache. */
  names(): NameLedger;
  /** Listens for changes of the held names (to save them); returns the unsubscribe function. */
  onNamesChanged(listener: (names: NameLedger) => void): () => void;
  /**
   * A tool by its exposed name, else by its canonical name (`dsctl policy explain` accepts
   * either), whatever the policy and the server's state say; undefined when no server lists it.
   */
  describeTool(name: string): ExposedTool | undefined;
  /** The known exposed tool name closest to a misspelt one, for a "did you mean" hint. */
  suggestTool(name: string): string | undefined;
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
  /** The policy's decision per exposed tool name, made once per snapshot (calls only look it up). */
  readonly decisions: Map<string, AccessDecision>;
  readonly names: NameLedger;
  readonly prompts: Map<string, ExposedPrompt>;
  readonly resources: Map<string, ExposedResource>;
  readonly templates: { readonly entry: ExposedResourceTemplate; readonly matcher: UriTemplate | undefined }[];
  readonly collisions: NameCollision[];
  readonly available: ReadonlyMap<string, ServerSnapshot>;
  readonly unavailable: ReadonlyMap<string, ServerSnapshot>;
  /** The lists clients see, computed once per snapshot (lists are served often; the policy is applied here). */
  readonly visible: VisibleLists;
  /** Tools known but not in `visible.tools`, with why. */
  readonly hidden: readonly HiddenTool[];
  readonly toolCounts: ReadonlyMap<string, ToolCount>;
  readonly signatures: Record<CatalogKind, string>;
  /** Client name views made for this snapshot, by rule id and entry (filled on first use). */
  readonly clientViews: Map<string, ClientNameView>;
}

interface VisibleLists {
  readonly tools: readonly ExposedTool[];
  readonly prompts: readonly ExposedPrompt[];
  readonly resources: readonly ExposedResource[];
  readonly templates: readonly ExposedResourceTemplate[];
}

type SnapshotParts = Omit<Snapshot, "signatures" | "visible" | "clientViews" | "hidden" | "toolCounts">;

/** A task-only tool: listed by its server but given no name (see `isTaskOnly`). */
interface TaskOnlyTool {
  readonly server: string;
  readonly canonicalName: string;
  readonly upstreamName: string;
  readonly definition: JsonObject;
}

function byServerThenName(a: HiddenTool, b: HiddenTool): number {
  if (a.server !== b.server) return a.server < b.server ? -1 : 1;
  return a.exposedName < b.exposedName ? -1 : a.exposedName > b.exposedName ? 1 : 0;
}

/**
 * Why each named tool not in `visible` is hidden (the policy first: it would stay hidden with the server up),
 * plus the task-only tools; and the counts per server that follow from the same two lists.
 */
function hiddenAndCounts(snap: SnapshotParts, visible: readonly ExposedTool[], taskOnly: readonly TaskOnlyTool[]): Pick<Snapshot, "hidden" | "toolCounts"> {
  const shown = new Set(visible.map((tool) => tool.exposedName));
  const hidden: HiddenTool[] = taskOnly.map((tool) => ({ ...tool, exposedName: tool.canonicalName, reason: { kind: "task_only" } }));
  for (const tool of snap.tools.values()) {
    if (shown.has(tool.exposedName)) continue;
    const decision = snap.decisions.get(tool.exposedName);
    const reason: HiddenToolReason =
      decision !== undefined && !decision.allowed
        ? { kind: "denied", rule: decision.rule }
        : snap.unavailable.get(tool.server)?.enabled === false
          ? { kind: "server_disabled" }
          : { kind: "server_failed" };
    hidden.push({ exposedName: tool.exposedName, canonicalName: tool.canonicalName, server: tool.server, upstreamName: tool.upstreamName, definition: tool.definition, reason });
  }
  hidden.sort(byServerThenName);
  const counts = new Map<string, { exposed: number; hidden: number }>();
  const countOf = (server: string): { exposed: number; hidden: number } => {
    let count = counts.get(server);
    if (count === undefined) counts.set(server, (count = { exposed: 0, hidden: 0 }));
    return count;
  };
  for (const tool of visible) countOf(tool.server).exposed++;
  for (const tool of hidden) countOf(tool.server).hidden++;
  return { hidden, toolCounts: counts };
}

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

/** Sent to MCP clients: the server's name, state and where to look, never its stderr (`lastError`). */
function unavailableError(snapshot: ServerSnapshot): GatewayError {
  return serverUnavailableError(snapshot);
}

/** A server listing a resource URI or URI template. */
interface UriClaim {
  readonly uri: string;
  readonly server: string;
  readonly definition: JsonObject;
}

/** Who serves which URI (or template) after `claimUris`. */
interface UriOwners {
  /** The claims served, oldest holder first (template matching tries them in this order). */
  readonly granted: readonly UriClaim[];
  readonly held: readonly HeldName[];
  readonly collisions: readonly NameCollision[];
  /** URIs held before this round (already served). */
  readonly heldBefore: ReadonlySet<string>;
}

/**
 * Resource URIs and URI templates are not renamed (clients use them as they are), so a
 * claim on one that another server holds is refused and reported, never granted: the first
 * holder keeps it, stickily, like an exposed name. `servedElsewhere` names another server
 * that already serves a new URI in some other way (through a template it held before).
 */
function claimUris(
  claims: readonly UriClaim[],
  held: readonly HeldName[],
  servedElsewhere?: (claim: UriClaim) => string | undefined,
): UriOwners {
  const owners = new Map<string, HeldName>();
  // Held URIs of servers not configured right now (a team switch under way) still block others.
  for (const entry of held) if (!owners.has(entry.exposedName)) owners.set(entry.exposedName, entry);
  const heldBefore = new Set(owners.keys());
  const granted = new Map<string, UriClaim>();
  const collisions: NameCollision[] = [];
  const seen = new Set<string>();
  for (const claim of claims) {
    const key = itemKey(claim.server, claim.uri);
    if (seen.has(key)) continue;
    seen.add(key);
    const holder = owners.get(claim.uri)?.server ?? servedElsewhere?.(claim);
    if (holder === undefined) owners.set(claim.uri, { exposedName: claim.uri, server: claim.server, upstreamName: claim.uri });
    if (holder === undefined || holder === claim.server) granted.set(claim.uri, claim);
    else collisions.push({ wantedName: claim.uri, keptServer: holder, renamedServer: claim.server, renamedItem: claim.uri, assignedName: "" });
  }
  const ordered = [...owners.values()].flatMap((entry) => {
    const claim = granted.get(entry.exposedName);
    return claim ? [claim] : [];
  });
  const present = new Set(ordered.map((claim) => itemKey(claim.server, claim.uri)));
  return { granted: ordered, held: retainHeld([...owners.values()], present), collisions, heldBefore };
}

function sameHeld(a: readonly HeldName[], b: readonly HeldName[]): boolean {
  return (
    a.length === b.length &&
    a.every((x, i) => x.exposedName === b[i]!.exposedName && x.server === b[i]!.server && x.upstreamName === b[i]!.upstreamName && x.keptServer === b[i]!.keptServer)
  );
}

function sameLedger(a: NameLedger, b: NameLedger): boolean {
  return (
    sameHeld(a.tools, b.tools) &&
    sameHeld(a.prompts, b.prompts) &&
    sameHeld(a.resources, b.resources) &&
    sameHeld(a.resourceTemplates, b.resourceTemplates)
  );
}

function compileTemplate(template: string): UriTemplate | undefined {
  try {
    return new UriTemplate(template);
  } catch {
    return undefined;
  }
}

/**
 * Every tool name of a snapshot, oldest first, for client name views (client-names.ts): the
 * gateway's management tools, then the held names in the order they were given, then any other.
 */
function namesByAge(snapshot: Snapshot): string[] {
  const management = [...snapshot.tools.values()].filter((tool) => tool.management === true).map((tool) => tool.exposedName).sort();
  const held = snapshot.names.tools.map((entry) => entry.exposedName).filter((name) => snapshot.tools.has(name));
  const rest = [...snapshot.tools.keys()].sort();
  return [...management, ...held, ...rest];
}

/** Builds the registry and starts following the supervisor's events. */
export function createRegistry(options: RegistryOptions): Registry {
  const { supervisor } = options;
  const clock = options.clock ?? systemClock;
  let policy = options.policy ?? allowAllPolicy;
  let managementTools = options.managementTools ?? false;
  let seeds: ReadonlyMap<string, ServerCatalog> = new Map();
  let ledger: NameLedger = EMPTY_NAME_LEDGER;
  const listeners = new Set<(kinds: ReadonlySet<CatalogKind>) => void>();
  const nameListeners = new Set<(names: NameLedger) => void>();
  const settleWaiters = new Set<() => void>();

  function catalogOf(name: string): ServerCatalog | undefined {
    // The supervisor's catalog is the live one (it is cleared when a server's command, args or
    // env change); a seed answers only until the first discovery.
    return supervisor.catalog(name) ?? seeds.get(name);
  }

  function build(): Snapshot {
    const servers = [...supervisor.list()].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
    const prefixes = new Map(servers.map((server) => [server.name, server.prefix]));
    const available = new Map<string, ServerSnapshot>();
    const unavailable = new Map<string, ServerSnapshot>();
    const toolDefs = new Map<string, JsonObject>();
    const promptDefs = new Map<string, JsonObject>();
    const toolCandidates: NamingCandidate[] = [];
    const promptCandidates: NamingCandidate[] = [];
    const resourceClaims: UriClaim[] = [];
    const templateClaims: UriClaim[] = [];
    const taskOnly: TaskOnlyTool[] = [];
    for (const server of servers) {
      (isAvailable(server) ? available : unavailable).set(server.name, server);
      const catalog = catalogOf(server.name);
      if (!catalog) continue;
      for (const tool of catalog.tools) {
        const name = nameOf(tool);
        if (name === undefined) continue;
        if (isTaskOnly(tool)) {
          taskOnly.push({ server: server.name, canonicalName: wantedExposedName(server.prefix, name), upstreamName: name, definition: tool });
          continue;
        }
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
        if (typeof resource.uri === "string") resourceClaims.push({ uri: resource.uri, server: server.name, definition: resource });
      }
      for (const template of catalog.resourceTemplates) {
        if (typeof template.uriTemplate === "string") templateClaims.push({ uri: template.uriTemplate, server: server.name, definition: template });
      }
    }
    // Management tools keep their names: a server tool that wants one is renamed (and reported).
    const reserved = new Map<string, string>();
    if (managementTools) for (const server of servers) reserved.set(managementToolName(server.name), server.name);
    const toolNames = assignExposedNames(toolCandidates, { held: ledger.tools, prefixes, reserved });
    const promptNames = assignExposedNames(promptCandidates, { held: ledger.prompts, prefixes });
    const templateOwners = claimUris(templateClaims, ledger.resourceTemplates);
    const templates: Snapshot["templates"] = templateOwners.granted.map((claim) => ({
      entry: { uriTemplate: claim.uri, server: claim.server, definition: claim.definition },
      matcher: compileTemplate(claim.uri),
    }));
    // A new URI another server already serves through a template it held before is not taken over either.
    const servedByTemplate = (claim: UriClaim): string | undefined =>
      templates.find((t) => t.entry.server !== claim.server && templateOwners.heldBefore.has(t.entry.uriTemplate) && t.matcher?.match(claim.uri) != null)?.entry.server;
    const resourceOwners = claimUris(resourceClaims, ledger.resources, servedByTemplate);
    const resources = new Map<string, ExposedResource>();
    for (const claim of resourceOwners.granted) resources.set(claim.uri, { uri: claim.uri, server: claim.server, definition: claim.definition });

    const tools = new Map<string, ExposedTool>();
    const decisions = new Map<string, AccessDecision>();
    for (const [exposedName, server] of reserved) {
      tools.set(exposedName, {
        exposedName,
        canonicalName: exposedName,
        server,
        upstreamName: "",
        definition: managementToolDefinition(server, exposedName),
        management: true,
      });
      decisions.set(exposedName, policy.decide({ exposedName, canonicalName: exposedName, management: true }));
    }
    for (const [exposedName, target] of toolNames.byExposedName) {
      const upstream = toolDefs.get(itemKey(target.server, target.upstreamName)) as JsonObject;
      const canonicalName = wantedExposedName(prefixes.get(target.server) ?? "", target.upstreamName);
      tools.set(exposedName, { exposedName, canonicalName, ...target, definition: { ...upstream, name: exposedName } });
      decisions.set(exposedName, policy.decide({ exposedName, canonicalName }));
    }
    const prompts = new Map<string, ExposedPrompt>();
    for (const [exposedName, target] of promptNames.byExposedName) {
      const upstream = promptDefs.get(itemKey(target.server, target.upstreamName)) as JsonObject;
      prompts.set(exposedName, { exposedName, ...target, definition: { ...upstream, name: exposedName } });
    }
    const partial = {
      tools,
      decisions,
      names: { tools: toolNames.held, prompts: promptNames.held, resources: resourceOwners.held, resourceTemplates: templateOwners.held },
      prompts,
      resources,
      templates,
      collisions: [...toolNames.collisions, ...promptNames.collisions, ...templateOwners.collisions, ...resourceOwners.collisions],
      available,
      unavailable,
    };
    const visible: VisibleLists = {
      tools: visibleTools(partial),
      prompts: visiblePrompts(partial),
      resources: visibleResources(partial),
      templates: visibleTemplates(partial),
    };
    return { ...partial, visible, ...hiddenAndCounts(partial, visible.tools, taskOnly), signatures: signaturesOf(visible), clientViews: new Map() };
  }

  function visibleTools(snap: SnapshotParts): ExposedTool[] {
    return [...snap.tools.values()]
      .filter((t) => (t.management === true || snap.available.has(t.server)) && snap.decisions.get(t.exposedName)?.allowed === true)
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
  ledger = current.names;

  function refresh(): void {
    const next = build();
    const changed = new Set<CatalogKind>();
    for (const kind of ["tools", "prompts", "resources"] as const) {
      if (next.signatures[kind] !== current.signatures[kind]) changed.add(kind);
    }
    current = next;
    if (!sameLedger(ledger, next.names)) {
      ledger = next.names;
      for (const listener of [...nameListeners]) listener(ledger);
    }
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
    hiddenTools: (server) => ofServer(current.hidden, server),
    toolCounts: () => current.toolCounts,
    resolveTool(exposedName) {
      const tool = current.tools.get(exposedName);
      if (!tool) throw new GatewayError("not_found", `unknown tool "${exposedName}"`);
      const decision = current.decisions.get(exposedName)!;
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
    clientNames(rule, entry) {
      const key = `${rule.id}\u0000${entry}`;
      let view = current.clientViews.get(key);
      if (view === undefined) {
        view = createClientNameView(rule, entry, namesByAge(current));
        current.clientViews.set(key, view);
      }
      return view;
    },
    replaceSeeds(catalogs, names) {
      seeds = new Map(catalogs);
      if (names) ledger = names;
      refresh();
    },
    names: () => ledger,
    onNamesChanged(listener) {
      nameListeners.add(listener);
      return () => nameListeners.delete(listener);
    },
    describeTool(name) {
      const exact = current.tools.get(name);
      if (exact) return exact;
      for (const tool of current.tools.values()) if (tool.canonicalName === name) return tool;
      return undefined;
    },
    suggestTool: (name) => closestMatch(name, current.tools.keys(), Math.max(2, Math.floor(name.length / 5))),
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
      nameListeners.clear();
    },
  };
}
