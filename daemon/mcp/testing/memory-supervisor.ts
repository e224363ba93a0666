/**
 * A real, in-process `Supervisor` for engine tests: each "server" is an SDK `McpServer`
 * (a genuine MCP server) connected through the SDK's linked in-memory transports to the
 * project's own `createUpstreamConnection`, with its catalog discovered and kept fresh by
 * `watchCatalog` — the same code paths production uses over stdio, minus the process.
 */
import { EventEmitter } from "node:events";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { GatewayError } from "../../errors.js";
import type { ServerConfig, ServerRoot } from "../../config/types.js";
import type {
  AcquireOptions,
  ServerCatalog,
  ServerLog,
  ServerSnapshot,
  ServerState,
  Supervisor,
  SupervisorEventMap,
} from "../../supervisor/types.js";
import { createUpstreamConnection, defaultUpstreamHandlers, type ManagedUpstreamConnection } from "../../upstream/connection.js";
import type { UpstreamHandlers } from "../../upstream/types.js";
import { watchCatalog } from "../../upstream/catalog.js";
import type { MessageTransport } from "../../upstream/message-transport.js";
import { createMasker, maskUpstreamError } from "../../supervisor/masking.js";

/** One in-memory server. */
export interface MemoryServerSpec {
  readonly name: string;
  /** Default: the name. */
  readonly prefix?: string;
  /** Builds a fresh server for every (re)start. */
  readonly create: () => McpServer;
  /** Default true. */
  readonly enabled?: boolean;
  /** The server's configured roots (`roots:` in the team file, resolved). */
  readonly roots?: readonly ServerRoot[];
  /** Secret values of the server (its `env` in a team file): masked in its error answers, as the real supervisor does. */
  readonly secrets?: readonly string[];
}

interface Slot {
  readonly spec: MemoryServerSpec;
  roots: readonly ServerRoot[] | undefined;
  state: ServerState;
  enabled: boolean;
  restarts: number;
  server?: McpServer;
  connection?: ManagedUpstreamConnection;
  catalog?: ServerCatalog;
  /** Woken on every state change. */
  readonly waiters: Set<() => void>;
}

/** The supervisor plus test controls. */
export interface MemorySupervisor extends Supervisor {
  /** The live SDK server of a slot (to send notifications from the server side). */
  server(name: string): McpServer | undefined;
  /** The live upstream connection. */
  connection(name: string): ManagedUpstreamConnection | undefined;
  /** Waits until a server's catalog was (re)discovered `count` times in total. */
  catalogCount(name: string): number;
  /**
   * Gives a server other configured roots without restarting it, and emits `servers`, as
   * `ManagedSupervisor.replaceServers` does for a config change that leaves the process alone.
   */
  setRoots(name: string, roots: readonly ServerRoot[] | undefined): void;
  /** As `ManagedSupervisor`: handlers installed on every new connection before `initialize`, and on the live ones. */
  setUpstreamHandlers(factory: (serverName: string) => UpstreamHandlers): void;
}

/** Options of `createMemorySupervisor`. */
export interface MemorySupervisorOptions {
  /**
   * Without `setUpstreamHandlers`, as a plain `Supervisor` (the engine then hooks each
   * connection itself once it is running). Default false.
   */
  readonly withoutHandlerFactory?: boolean;
}

/** Creates and starts nothing yet; call `start()`. */
export function createMemorySupervisor(specs: readonly MemoryServerSpec[], options: MemorySupervisorOptions = {}): MemorySupervisor {
  const events = new EventEmitter();
  let handlersFor = (_serverName: string): UpstreamHandlers => defaultUpstreamHandlers;
  const slots = new Map<string, Slot>();
  const catalogCounts = new Map<string, number>();
  for (const spec of [...specs].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    slots.set(spec.name, { spec, roots: spec.roots, state: "stopped", enabled: spec.enabled ?? true, restarts: 0, waiters: new Set() });
  }

  function slot(name: string): Slot {
    const found = slots.get(name);
    if (!found) throw new GatewayError("not_found", `server "${name}" not found`);
    return found;
  }

  function snapshot(s: Slot): ServerSnapshot {
    return {
      name: s.spec.name,
      state: s.state,
      enabled: s.enabled,
      restarts: s.restarts,
      toolCount: s.catalog?.tools.length ?? 0,
      command: "memory",
      args: [],
      envNames: [],
      startup: "eager",
      prefix: s.spec.prefix ?? s.spec.name,
      ...(s.connection ? { identity: s.connection.identity } : {}),
    };
  }

  function setState(s: Slot, state: ServerState): void {
    const previous = s.state;
    s.state = state;
    for (const wake of [...s.waiters]) wake();
    events.emit("state", snapshot(s), previous);
  }

  async function startSlot(s: Slot): Promise<void> {
    setState(s, "starting");
    const mask = createMasker(s.spec.secrets ?? []);
    const server = s.spec.create();
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    const connection = await createUpstreamConnection({
      serverName: s.spec.name,
      transport: clientSide as unknown as MessageTransport,
      handlers: handlersFor(s.spec.name),
      maskError: (error) => maskUpstreamError(mask, error),
    });
    s.server = server;
    s.connection = connection;
    const watcher = watchCatalog(connection, {
      onCatalog: (catalog) => {
        s.catalog = catalog;
        catalogCounts.set(s.spec.name, (catalogCounts.get(s.spec.name) ?? 0) + 1);
        events.emit("catalog", s.spec.name, catalog);
      },
    });
    await watcher.ready;
    setState(s, "running");
  }

  async function stopSlot(s: Slot, state: ServerState): Promise<void> {
    const { connection, server } = s;
    s.connection = undefined;
    s.server = undefined;
    await connection?.close();
    await server?.close();
    setState(s, state);
  }

  const supervisor: MemorySupervisor = {
    async start() {
      await Promise.all([...slots.values()].filter((s) => s.enabled).map(startSlot));
    },
    list: () => [...slots.values()].map(snapshot),
    get: (name) => snapshot(slot(name)),
    async enable(name) {
      const s = slot(name);
      s.enabled = true;
      if (s.state !== "running") await startSlot(s);
      return snapshot(s);
    },
    async disable(name) {
      const s = slot(name);
      s.enabled = false;
      await stopSlot(s, "stopped");
      return snapshot(s);
    },
    async restart(name) {
      const s = slot(name);
      await stopSlot(s, "stopped");
      s.restarts = 0;
      await startSlot(s);
      return snapshot(s);
    },
    async acquire(name, options: AcquireOptions = {}) {
      const s = slot(name);
      const deadline = Date.now() + (options.timeoutMs ?? 5_000);
      for (;;) {
        if (!s.enabled) throw new GatewayError("unavailable", `server "${name}" is disabled`);
        if (s.state === "failed") throw new GatewayError("unavailable", `server "${name}" has failed`);
        if (s.state === "running" && s.connection && !s.connection.closed.aborted) return s.connection;
        if (options.signal?.aborted) throw new GatewayError("cancelled", "acquire cancelled");
        const left = deadline - Date.now();
        if (left <= 0) throw new GatewayError("unavailable", `server "${name}" is not ready`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, left);
          function done(): void {
            clearTimeout(timer);
            s.waiters.delete(done);
            resolve();
          }
          s.waiters.add(done);
          options.signal?.addEventListener("abort", done, { once: true });
        });
      }
    },
    catalog: (name) => slots.get(name)?.catalog,
    log(): ServerLog {
      return { tail: () => [], subscribe: () => () => {} };
    },
    config(name): ServerConfig {
      const s = slot(name);
      return {
        name,
        command: "memory",
        args: [],
        env: {},
        enabled: s.enabled,
        startup: "eager",
        idleTimeoutMs: 0,
        startupTimeoutMs: 0,
        prefix: s.spec.prefix ?? name,
        ...(s.roots ? { roots: s.roots } : {}),
      };
    },
    setRoots(name, roots) {
      slot(name).roots = roots;
      events.emit("servers");
    },
    async replaceServers() {
      throw new GatewayError("unimplemented", "not supported by the memory supervisor");
    },
    async shutdown() {
      await Promise.all([...slots.values()].map((s) => stopSlot(s, "stopped")));
    },
    on<K extends keyof SupervisorEventMap>(event: K, listener: (...args: SupervisorEventMap[K]) => void) {
      events.on(event, listener as (...args: unknown[]) => void);
      return this;
    },
    off<K extends keyof SupervisorEventMap>(event: K, listener: (...args: SupervisorEventMap[K]) => void) {
      events.off(event, listener as (...args: unknown[]) => void);
      return this;
    },
    server: (name) => slots.get(name)?.server,
    connection: (name) => slots.get(name)?.connection,
    catalogCount: (name) => catalogCounts.get(name) ?? 0,
    setUpstreamHandlers(factory) {
      handlersFor = factory;
      for (const s of slots.values()) s.connection?.setHandlers(factory(s.spec.name));
    },
  };
  if (options.withoutHandlerFactory) {
    const plain: Partial<MemorySupervisor> = supervisor;
    delete plain.setUpstreamHandlers;
  }
  return supervisor;
}
