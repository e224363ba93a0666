/**
 * The MCP session engine: the data plane of the gateway. It owns the exposed catalog
 * (registry), the upstream routing, the client sessions fed by the frontend and
 * `dsctl stdio`, and the typed operations behind `McpService`'s unary and streaming RPCs,
 * which run on the same routing code as sessions.
 */
import { randomUUID } from "node:crypto";
import { GatewayError } from "../errors.js";
import type { Logger } from "../../shared/logger.js";
import type { ServerRoot } from "../config/types.js";
import type { ServerSnapshot, ServerState } from "../supervisor/types.js";
import { parsedResult } from "../upstream/raw-json.js";
import type { JsonObject, UpstreamConnection } from "../upstream/types.js";
import type { AccessPolicy } from "./access-policy.js";
import { systemClock, type Clock, type ClockTimer } from "./clock.js";
import { admitsLogLevel, mostVerboseLevel, type LogLevel } from "./log-levels.js";
import { runManagementAction } from "./management-tools.js";
import { createMethodTable } from "./methods.js";
import { createMcpOperations } from "./operations.js";
import { createRegistry, type CatalogKind, type ExposedPrompt, type ExposedResource, type ExposedResourceTemplate, type ExposedTool, type Registry } from "./registry.js";
import { createResourceSubscriptions } from "./resource-subscriptions.js";
import { createProfileScope, profilePrompts, profileResources, profileTools, sessionTools, type ScopeState, type SessionOperations } from "./profile-scope.js";
import { createProfileSet, type Profile, type ProfileSet } from "./profiles.js";
import { createToolIndex, type ToolIndex } from "./tool-search.js";
import { FIND_TOOLS, CALL_TOOL } from "./tool-search-tools.js";
import { createClientNamesScope } from "./client-names-scope.js";
import { gatewayEntryName } from "../../shared/client-snippets.js";
import type { ProfileConfig } from "../config/types.js";
import { ClientSession, type McpSession, type SessionFrame, type SessionHost } from "./session.js";
import { ModernChannel, type SubscriptionFilter } from "./modern-requests.js";
import { ALL_PROTOCOL_VERSIONS, META } from "../../shared/mcp-modern.js";
import { createUpstreamRouter, type Caller, type RoutableSupervisor } from "./upstream-router.js";
import { nullCallObserver, type CallObserver } from "../observability/call-observer.js";
import { CONTROL_API_CLIENT, transportLabel } from "../observability/call-record.js";
import { jsonPayloadByteLength } from "../../shared/open-session-wire/payload.js";
import { serveTraced, startMcpRequestSpan } from "../observability/tracing.js";
import { CallCancellation, type CallSignal } from "../call-signal.js";

/** The serverInfo name the gateway answers `initialize` with. */
export const GATEWAY_SERVER_NAME = "deploystack-gateway";

/** Options of `createMcpEngine`. */
export interface McpEngineOptions {
  /**
   * The supervisor. When it can install handlers itself (`ManagedSupervisor.setUpstreamHandlers`),
   * the engine's are installed on every connection before `initialize`.
   */
  readonly supervisor: RoutableSupervisor;
  /** The access policy; allow-all by default. */
  readonly policy?: AccessPolicy;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** The gateway version, for `serverInfo`. */
  readonly version: string;
  /** How long calls and lists wait for a server that is starting (default 5 s). */
  readonly acquireTimeoutMs?: number;
  /** The window in which registry changes are folded into one list_changed (default 50 ms). */
  readonly listChangedDebounceMs?: number;
  /** Expose one management tool per configured server (the team policy's `managementTools`); default false. */
  readonly managementTools?: boolean;
  /** Metrics, audit log and `dsctl top` figures (daemon/observability); default: nothing is recorded. */
  readonly observer?: CallObserver;
}

/** Options of `openSession`. */
export interface OpenSessionOptions {
  /** The id the transport gave the client, for logs. */
  readonly transportSessionId?: string;
  /** The transport's name, for logs. */
  readonly transport?: string;
  /** Receives every frame of the session, in order. */
  readonly onFrame: (frame: SessionFrame) => void;
  /**
   * The team profile the session is confined to (`/mcp/<profile>`); absent or empty: the default
   * profile. An unknown name throws `GatewayError("not_found")` and no session is opened.
   */
  readonly profile?: string;
}

/** The engine's profiles as the control plane and `TeamService.ListProfiles` use them. */
export type ProfileCatalog = Pick<McpEngine, "setProfiles" | "listProfiles">;

/** A profile as `dsctl profiles list` shows it. */
export interface ProfileSummary {
  readonly profile: Profile;
  /** The tools of the profile's catalog a client can reach now (after the policy), meta-tools not counted. */
  readonly toolCount: number;
  /** Open sessions on the profile. */
  readonly sessionCount: number;
}

/** Progress of a typed tool call (MCP `notifications/progress` without the token). */
export interface ToolCallProgress {
  readonly progress: number;
  readonly total?: number;
  readonly message?: string;
}

/** A log message of the called tool's server while a typed call ran. */
export interface ToolCallLog {
  readonly level: string;
  readonly logger?: string;
  readonly data: unknown;
}

/** Options of a typed call. */
export interface TypedCallOptions {
  /** Aborting cancels the call upstream. */
  readonly signal?: CallSignal;
}

/** Options of a typed tool call. */
export interface CallToolOptions extends TypedCallOptions {
  readonly onProgress?: (progress: ToolCallProgress) => void;
  /** Log messages the server sends while the call runs (stdio carries no request association: best effort). */
  readonly onLog?: (log: ToolCallLog) => void;
}

/** The engine. */
export interface McpEngine {
  /** Starts a client session; every frame goes to `options.onFrame`. */
  openSession(options: OpenSessionOptions): McpSession;
  /**
   * Opens a stream of stateless modern requests (`SessionStart.stateless`, modern-requests.ts): each message is a
   * request of its own, answered on its exchange. Confined to `options.profile` like a session.
   */
  openStatelessChannel(options: OpenSessionOptions): McpSession;
  /** Visible tools, sorted by exposed name, optionally of one server. */
  listTools(server?: string): Promise<ExposedTool[]>;
  /** Calls an exposed tool; resolves with the `CallToolResult` untouched. Rejects with `GatewayError` or `UpstreamRpcError`. */
  callTool(name: string, args: JsonObject | undefined, options?: CallToolOptions): Promise<JsonObject>;
  listResources(server?: string): Promise<{ resources: ExposedResource[]; resourceTemplates: ExposedResourceTemplate[] }>;
  readResource(uri: string, options?: TypedCallOptions): Promise<JsonObject>;
  listPrompts(server?: string): Promise<ExposedPrompt[]>;
  getPrompt(name: string, args: Readonly<Record<string, string>>, options?: TypedCallOptions): Promise<JsonObject>;
  /** The exposed catalog (the control plane seeds it and swaps its policy). */
  readonly registry: Registry;
  /**
   * Turns the management tools (`<server>-manage`, see management-tools.ts) on or off, e.g.
   * from the team policy's `managementTools` on start-up and on a team switch; sessions are
   * told the tool list changed.
   */
  setManagementTools(enabled: boolean): void;
  /**
   * Whether an exposed name is currently a management tool, exactly; a fit for the team
   * policy's `isManagementTool` option (bound, may be passed as is).
   */
  isManagementTool(exposedName: string): boolean;
  /**
   * Puts the current team's profiles in force (on start-up, team switch and reload): new sessions
   * get them at once; an open session keeps its profile by name, with the new definition, and is
   * told of any list that changed for it; a session whose profile is gone is ended.
   */
  setProfiles(profiles: readonly ProfileConfig[]): void;
  /** The profiles in force (the bare path's first), with their tool counts. */
  listProfiles(): ProfileSummary[];
  /** Open client sessions. */
  sessionCount(): number;
  /** Ends every session (with an `ended` frame) and stops following the supervisor. */
  close(reason?: string): void;
}

const CAPABILITIES: JsonObject = {
  tools: { listChanged: true },
  resources: { subscribe: true, listChanged: true },
  prompts: { listChanged: true },
  completions: {},
  logging: {},
};

/** The `subscriptions/listen` filter flag of each list kind. */
const LIST_CHANGED_FILTER = { tools: "toolsListChanged", prompts: "promptsListChanged", resources: "resourcesListChanged" } as const;

/** A found-tools set that keeps nothing: a stateless channel's scope remembers no client's searches. */
class NothingRemembered extends Set<string> {
  override add(): this {
    return this;
  }
}

/** The caller of typed RPCs that take no progress or log messages. */
const TYPED_CALLER: Caller = { capabilities: {}, client: CONTROL_API_CLIENT };

function optionalNumber(value: unknown): number | undefined {
  return typeof value === "number" ? value : undefined;
}

/** Creates the engine and starts following the supervisor. */
export function createMcpEngine(options: McpEngineOptions): McpEngine {
  const { supervisor, version } = options;
  const logger = options.logger.child({ component: "mcp" });
  const clock = options.clock ?? systemClock;
  const acquireTimeoutMs = options.acquireTimeoutMs ?? 5_000;
  const debounceMs = options.listChangedDebounceMs ?? 50;
  const sessions = new Map<string, ClientSession>();
  const observer = options.observer ?? nullCallObserver;
  let forwardedLevel: LogLevel | undefined;

  const registry = createRegistry({
    supervisor,
    clock,
    managementTools: options.managementTools ?? false,
    ...(options.policy ? { policy: options.policy } : {}),
  });

  function applyLevel(connection: UpstreamConnection, level: LogLevel): void {
    if (!connection.identity.capabilities.logging) return;
    connection.request("logging/setLevel", { level }).catch((error: unknown) => {
      logger.debug({ server: connection.serverName, err: error }, "logging/setLevel upstream failed");
    });
  }

  const router = createUpstreamRouter({
    supervisor,
    logger,
    acquireTimeoutMs,
    // Held calls (multi round-trip requests of modern clients on legacy servers) expire on the engine's clock.
    clock,
    hooks: {
      onLog(server, params) {
        for (const session of sessions.values()) {
          if (!session.initialized || !admitsLogLevel(session.logLevel, params.level)) continue;
          // A server's log messages reach only the sessions whose profile serves it.
          if (scopes.get(session.id)?.profile.admitsServer(server) !== false) session.notify("notifications/message", params);
        }
      },
      onResourceUpdated(server, params) {
        if (typeof params.uri !== "string") return;
        for (const id of subscriptions.subscribers(server, params.uri)) {
          const session = sessions.get(id);
          if (session) session.notify("notifications/resources/updated", params);
          else listeners.get(id)?.deliver("notifications/resources/updated", params);
        }
      },
      configuredRoots: (server) => configuredRoots(server).map((root) => ({ uri: root.uri, name: root.name })),
      onConnection(connection) {
        subscriptions.resubscribe(connection);
        if (forwardedLevel) applyLevel(connection, forwardedLevel);
      },
    },
  });
  const subscriptions = createResourceSubscriptions({ registry, router, logger });
  const operations = createMcpOperations({
    registry,
    router,
    waitMs: acquireTimeoutMs,
    manage: (server, args) => runManagementAction(supervisor, server, args),
    observer,
  });

  /** Servers get the most verbose level any session asked for, so that every session can be served by filtering. */
  function setLogLevel(sessionId: string, level: LogLevel): void {
    const session = sessions.get(sessionId);
    if (session) session.logLevel = level;
    refreshForwardedLevel();
  }
  function refreshForwardedLevel(): void {
    const wanted = mostVerboseLevel([...sessions.values()].flatMap((s) => (s.logLevel ? [s.logLevel] : [])));
    if (wanted === undefined || wanted === forwardedLevel) return;
    forwardedLevel = wanted;
    for (const connection of router.connections()) applyLevel(connection, wanted);
  }

  /**
   * Profiles: each session has a scope (its profile and, in search mode, the tools it found);
   * its operations are the shared ones confined to it (profile-scope.ts).
   */
  let profiles: ProfileSet = createProfileSet();
  interface SessionScope extends ScopeState {
    readonly operations: SessionOperations;
    /** Per list kind, the signature of what this session was last shown (to confine list_changed). */
    readonly seen: Partial<Record<CatalogKind, string>>;
  }
  const scopes = new Map<string, SessionScope>();
  /** Open `subscriptions/listen` requests of modern clients, by listener id (also their resource-subscription key). */
  interface Listener {
    readonly scope: SessionScope;
    readonly filter: SubscriptionFilter;
    readonly seen: Partial<Record<CatalogKind, string>>;
    deliver(method: string, params: JsonObject | undefined): void;
  }
  const listeners = new Map<string, Listener>();
  const modernChannels = new Map<string, ModernChannel>();
  /** Bumped whenever any visible list or the profiles change: memoized views and indexes are keyed by it. */
  let generation = 0;
  const indexes = new WeakMap<Profile, { generation: number; index: ToolIndex }>();
  /** A profile's search index, rebuilt only after its catalog may have changed. */
  const indexOf = (profile: Profile): ToolIndex => {
    const cached = indexes.get(profile);
    if (cached && cached.generation === generation) return cached.index;
    const index = createToolIndex(profileTools(registry, profile));
    indexes.set(profile, { generation, index });
    return index;
  };
  let signatureCache = new Map<string, string>();
  let signatureGeneration = -1;
  /** What a session's list of one kind looks like now, memoized per profile (and found set) and generation. */
  const signatureOf = (scope: ScopeState, kind: CatalogKind): string => {
    if (signatureGeneration !== generation) {
      signatureCache = new Map();
      signatureGeneration = generation;
    }
    const found = kind === "tools" && scope.profile.mode === "search" ? [...scope.found].sort().join(",") : "";
    const key = `${kind}\0${scope.profile.name}\0${scope.profile.mode}\0${found}`;
    let signature = signatureCache.get(key);
    if (signature === undefined) {
      const { profile } = scope;
      signature =
        kind === "tools"
          ? JSON.stringify(sessionTools(registry, scope).map((t) => t.definition))
          : kind === "prompts"
            ? JSON.stringify(profilePrompts(registry, profile).map((p) => p.definition))
            : JSON.stringify(Object.values(profileResources(registry, profile)).map((list) => list.map((r) => r.definition)));
      signatureCache.set(key, signature);
    }
    return signature;
  };
  const operationsFor = (sessionId: string): SessionOperations => {
    const scope = scopes.get(sessionId);
    if (!scope) throw new GatewayError("unavailable", "the session is closed");
    return scope.operations;
  };

  const methods = createMethodTable({ operationsFor, subscriptions, setLogLevel });
  const canonicalNameOf = (exposedName: string): string | undefined => registry.describeTool(exposedName)?.canonicalName;

  let pendingKinds = new Set<CatalogKind>();
  let debounceTimer: ClockTimer | undefined;
  const flushListChanged = (): void => {
    debounceTimer = undefined;
    const kinds = pendingKinds;
    pendingKinds = new Set();
    for (const session of sessions.values()) {
      const scope = scopes.get(session.id);
      if (!scope) continue;
      for (const kind of kinds) {
        // Confined: a session hears of a change only when its own list (profile, found tools) changed.
        const signature = signatureOf(scope, kind);
        if (scope.seen[kind] === signature) continue;
        scope.seen[kind] = signature;
        if (session.initialized) session.notify(`notifications/${kind}/list_changed`);
      }
    }
    // Modern listeners (`subscriptions/listen`): the kinds each asked for, confined the same way.
    for (const listener of listeners.values()) {
      for (const kind of kinds) {
        if (listener.filter[LIST_CHANGED_FILTER[kind]] !== true) continue;
        const signature = signatureOf(listener.scope, kind);
        if (listener.seen[kind] === signature) continue;
        listener.seen[kind] = signature;
        listener.deliver(`notifications/${kind}/list_changed`, undefined);
      }
    }
  };
  /** Folds list changes into the next debounced list_changed round. */
  const scheduleListChanged = (kinds: Iterable<CatalogKind>): void => {
    generation++;
    for (const kind of kinds) pendingKinds.add(kind);
    debounceTimer ??= clock.setTimeout(flushListChanged, debounceMs);
  };
  let reportedCollisions = new Set<string>();
  /** Collisions are logged once each, when they appear (they are also listed by `ListServers`). */
  const logCollisions = (): void => {
    const current = new Set<string>();
    for (const collision of registry.collisions()) {
      const key = JSON.stringify(collision);
      current.add(key);
      if (!reportedCollisions.has(key)) logger.warn({ ...collision }, "exposed name collision resolved");
    }
    reportedCollisions = current;
  };
  logCollisions();
  const stopFollowingRegistry = registry.onChange((kinds) => {
    logCollisions();
    scheduleListChanged(kinds);
  });

  /** A server's configured roots; none for a server the supervisor no longer knows. */
  function configuredRoots(server: string): readonly ServerRoot[] {
    try {
      return supervisor.config(server).roots ?? [];
    } catch {
      return [];
    }
  }
  /**
   * A config change may give a server other roots without restarting it (the supervisor restarts
   * a server only when its process would change): it is told with `notifications/roots/list_changed`
   * (MCP 2025-11-25 "Client Features › Roots"). Checked on `servers` and on every state event,
   * since the supervisor applies a server's new config after announcing the new set.
   */
  const rootsSeen = new Map<string, string>();
  function checkRoots(server: string): void {
    const key = JSON.stringify(configuredRoots(server));
    const before = rootsSeen.get(server);
    rootsSeen.set(server, key);
    if (before !== undefined && before !== key) router.connection(server)?.notify("notifications/roots/list_changed");
  }
  const onServers = (): void => {
    const names = new Set(supervisor.list().map((server) => server.name));
    for (const name of rootsSeen.keys()) if (!names.has(name)) rootsSeen.delete(name);
    for (const name of names) checkRoots(name);
  };
  onServers();
  supervisor.on("servers", onServers);

  const onState = (snapshot: ServerSnapshot, _previous: ServerState): void => {
    if (snapshot.state === "running") router.attach(snapshot.name);
    checkRoots(snapshot.name);
  };
  supervisor.on("state", onState);
  for (const server of supervisor.list()) if (server.state === "running") router.attach(server.name);

  function instructions(profile: Profile | undefined): string {
    const names = supervisor.list().filter((s) => s.enabled && (profile?.admitsServer(s.name) ?? true)).map((s) => s.name);
    const scope = profile?.defined ? ` (profile "${profile.name}")` : "";
    const base =
      `DeployStack Gateway${scope}: one MCP endpoint for your team's servers (${names.join(", ") || "none configured"}). ` +
      "Tools and prompts are named <prefix>-<name>, where the prefix is normally the server's name; resources keep their URIs.";
    if (profile?.mode !== "search") return base;
    return (
      `${base} This endpoint lists no tools up front: call ${FIND_TOOLS} with a few words about the task to find tools ` +
      `(names, descriptions, input schemas), then call one with ${CALL_TOOL} (or by its name once your tool list shows it).`
    );
  }

  const host: SessionHost = {
    initializeResult: (protocolVersion, session) => ({
      protocolVersion,
      capabilities: CAPABILITIES,
      serverInfo: { name: GATEWAY_SERVER_NAME, title: "DeployStack Gateway", version },
      instructions: instructions(scopes.get(session.id)?.profile),
    }),
    hasMethod: (method) => methods.has(method),
    handle(session, method, params, caller, signal, trace) {
      const handler = methods.get(method);
      if (!handler) return Promise.reject(new Error(`no handler for ${method}`));
      // Tracing (off: one branch): the request's span, which the upstream request's span and `_meta` descend from.
      const span = startMcpRequestSpan(method, params, session.protocolVersion, canonicalNameOf, trace);
      if (span === undefined) return handler({ sessionId: session.id, params: params ?? {}, caller, signal });
      return serveTraced(span, method, params, caller, (traced) => handler({ sessionId: session.id, params: params ?? {}, caller: traced, signal }));
    },
    clientNotification(_session, method) {
      // Any server may be told that some client's roots changed: the notification carries nothing
      // (the client's params are not passed on), and a server that then asks `roots/list` gets a
      // client's roots only during a call of that client on it.
      if (method === "notifications/roots/list_changed") {
        for (const connection of router.connections()) connection.notify("notifications/roots/list_changed");
      }
    },
    received: (session, bytes) => observer.bytes("received", session.transport, bytes),
    sessionClosed(session) {
      observer.sessionClosed("legacy", session.transport);
      sessions.delete(session.id);
      scopes.delete(session.id);
      subscriptions.dropSession(session.id);
      refreshForwardedLevel();
      logger.debug({ session: session.id }, "session closed");
    },
  };

  function typedSignal(signal: CallSignal | undefined): CallSignal {
    return signal ?? new CallCancellation();
  }

  return {
    openSession({ transportSessionId, transport, onFrame, profile: profileName }) {
      const profile = profiles.resolve(profileName);
      const id = `${transportSessionId ? transportSessionId.slice(0, 16) : "session"}-${randomUUID()}`;
      const state: ScopeState = { profile, found: new Set() };
      const scope: SessionScope = Object.assign(state, {
        // Outermost: the client's tool names (client-names.ts), for the entry name the snippets give this path.
        operations: createClientNamesScope(
          createProfileScope(state, { registry, operations, indexOf, onFound: () => scheduleListChanged(["tools"]) }),
          {
            registry,
            entry: gatewayEntryName(profileName || undefined),
            clientName: (caller) => (caller?.client ?? sessions.get(id)?.client)?.name,
            searchMode: () => state.profile.mode === "search",
          },
        ),
        seen: {},
      });
      for (const kind of ["tools", "prompts", "resources"] as const) scope.seen[kind] = signatureOf(scope, kind);
      scopes.set(id, scope);
      const label = transportLabel(transport);
      const emit = (frame: SessionFrame): void => {
        if (frame.kind === "message") observer.bytes("sent", label, jsonPayloadByteLength(frame.json));
        onFrame(frame);
      };
      const session = new ClientSession(id, host, emit, label);
      sessions.set(id, session);
      observer.sessionOpened("legacy", label);
      logger.debug({ session: id, transport }, "session opened");
      return session;
    },
    openStatelessChannel({ transportSessionId, transport, onFrame, profile: profileName }) {
      const profile = profiles.resolve(profileName);
      const id = `${transportSessionId ? transportSessionId.slice(0, 16) : "stateless"}-${randomUUID()}`;
      // Stateless: tools found in search mode are not remembered for anyone (the stream is shared by every modern
      // client of the frontend); a modern client calls them through call_tool.
      const state: ScopeState = { profile, found: new NothingRemembered() };
      const scope: SessionScope = Object.assign(state, {
        operations: createClientNamesScope(createProfileScope(state, { registry, operations, indexOf, onFound: () => undefined }), {
          registry,
          entry: gatewayEntryName(profileName || undefined),
          clientName: (caller) => caller?.client?.name,
          searchMode: () => state.profile.mode === "search",
        }),
        seen: {},
      });
      scopes.set(id, scope);
      const label = transportLabel(transport);
      const channel = new ModernChannel({
        id,
        transport: label,
        emit: (frame) => {
          if (frame.kind === "message") observer.bytes("sent", label, jsonPayloadByteLength(frame.json));
          onFrame(frame);
        },
        host: {
          discover: () => ({
            supportedVersions: [...ALL_PROTOCOL_VERSIONS],
            capabilities: CAPABILITIES,
            _meta: { [META.serverInfo]: { name: GATEWAY_SERVER_NAME, title: "DeployStack Gateway", version } },
            instructions: instructions(scope.profile),
          }),
          hasMethod: (method) => methods.has(method),
          handle(method, params, caller, protocolVersion, signal, trace) {
            const handler = methods.get(method);
            if (!handler) return Promise.reject(new Error(`no handler for ${method}`));
            const span = startMcpRequestSpan(method, params, protocolVersion, canonicalNameOf, trace);
            if (span === undefined) return handler({ sessionId: id, params, caller, signal });
            return serveTraced(span, method, params, caller, (traced) => handler({ sessionId: id, params, caller: traced, signal }));
          },
          async listen(listenerId, filter, deliver, signal) {
            const honoured: { -readonly [K in keyof SubscriptionFilter]: SubscriptionFilter[K] } = {};
            for (const key of Object.values(LIST_CHANGED_FILTER)) if (filter[key]) honoured[key] = true;
            const listener: Listener = { scope, filter: honoured, seen: {}, deliver };
            for (const kind of ["tools", "prompts", "resources"] as const) listener.seen[kind] = signatureOf(scope, kind);
            listeners.set(listenerId, listener);
            signal.addEventListener("abort", () => {
              listeners.delete(listenerId);
              subscriptions.dropSession(listenerId);
            }, { once: true });
            // A resource is honoured when it is in the profile and its server took the subscription upstream.
            const uris: string[] = [];
            await Promise.all(
              (filter.resourceSubscriptions ?? []).map(async (uri) => {
                try {
                  scope.operations.checkResource(uri);
                  await subscriptions.subscribe(listenerId, uri, signal);
                  uris.push(uri);
                } catch (error) {
                  logger.debug({ uri, err: error }, "a listen request's resource subscription cannot be honoured");
                }
              }),
            );
            if (filter.resourceSubscriptions !== undefined) {
              const order = filter.resourceSubscriptions;
              honoured.resourceSubscriptions = uris.sort((a, b) => order.indexOf(a) - order.indexOf(b));
            }
            return honoured;
          },
          closed() {
            scopes.delete(id);
            modernChannels.delete(id);
          },
        },
      });
      // Not a session (modern clients have none): the session gauges count legacy sessions only.
      modernChannels.set(id, channel);
      logger.debug({ channel: id, transport }, "stateless channel opened");
      return channel;
    },
    listTools: (server) => operations.listTools(server),
    callTool(name, args, callOptions = {}) {
      const caller: Caller = {
        capabilities: {},
        client: CONTROL_API_CLIENT,
        onProgress: (p) =>
          callOptions.onProgress?.({
            progress: optionalNumber(p.progress) ?? 0,
            ...(optionalNumber(p.total) !== undefined ? { total: p.total as number } : {}),
            ...(typeof p.message === "string" ? { message: p.message } : {}),
          }),
        onLog: (p) =>
          callOptions.onLog?.({ level: String(p.level), ...(typeof p.logger === "string" ? { logger: p.logger } : {}), data: p.data }),
      };
      const params: JsonObject = { name, arguments: args ?? {} };
      if (callOptions.onProgress) params._meta = { progressToken: "progress" };
      return operations.callTool(params, caller, typedSignal(callOptions.signal)).then(parsedResult);
    },
    async listResources(server) {
      const [resources, resourceTemplates] = await Promise.all([operations.listResources(server), operations.listResourceTemplates(server)]);
      return { resources, resourceTemplates };
    },
    readResource: (uri, callOptions = {}) =>
      operations.readResource({ uri }, TYPED_CALLER, typedSignal(callOptions.signal)).then(parsedResult),
    listPrompts: (server) => operations.listPrompts(server),
    getPrompt: (name, args, callOptions = {}) =>
      operations.getPrompt({ name, arguments: { ...args } }, TYPED_CALLER, typedSignal(callOptions.signal)).then(parsedResult),
    registry,
    setManagementTools: (enabled) => registry.setManagementTools(enabled),
    isManagementTool: (exposedName) => registry.isManagementTool(exposedName),
    setProfiles(configs) {
      profiles = createProfileSet(configs);
      for (const [id, scope] of [...scopes]) {
        const next = profiles.find(scope.profile.name);
        if (next) scope.profile = next;
        else (sessions.get(id) ?? modernChannels.get(id))?.end(`profile "${scope.profile.name}" no longer exists in the team`);
      }
      scheduleListChanged(["tools", "prompts", "resources"]);
    },
    listProfiles() {
      const open = new Map<string, number>();
      for (const scope of scopes.values()) open.set(scope.profile.name, (open.get(scope.profile.name) ?? 0) + 1);
      return profiles.list().map((profile) => ({
        profile,
        toolCount: profileTools(registry, profile).length,
        sessionCount: open.get(profile.name) ?? 0,
      }));
    },
    sessionCount: () => sessions.size,
    close(reason = "the gateway is shutting down") {
      for (const session of [...sessions.values()]) session.end(reason);
      for (const channel of [...modernChannels.values()]) channel.end(reason);
      if (debounceTimer !== undefined) clock.clearTimeout(debounceTimer);
      debounceTimer = undefined;
      stopFollowingRegistry();
      supervisor.off("state", onState);
      supervisor.off("servers", onServers);
      registry.close();
      router.close();
    },
  };
}
