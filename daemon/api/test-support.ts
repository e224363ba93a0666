import { GatewayError } from "../errors.js";
import { createEventHub, type EventHub } from "../events.js";
import type { LogEntry, ServerLog, ServerSnapshot, Supervisor } from "../supervisor/types.js";
import type { GatewayServiceDeps, GatewayStatusView } from "./gateway-service.js";

/**
 * An in-memory stand-in for the supervisor's control surface, for the adapter tests only
 * (the real supervisor is exercised end to end in test/e2e). State changes are published on
 * `events` exactly as the composition root does with the real one.
 */
export interface FakeSupervisor extends Pick<Supervisor, "list" | "get" | "enable" | "disable" | "restart" | "log"> {
  readonly events: EventHub;
  /** Appends a line to a server's log. */
  emitLog(name: string, text: string): void;
}

function snapshotOf(name: string, enabled: boolean, pid: number): ServerSnapshot {
  return {
    name,
    state: enabled ? "running" : "stopped",
    enabled,
    pid: enabled ? pid : undefined,
    restarts: 0,
    startedAt: enabled ? Date.now() - 5000 : undefined,
    toolCount: enabled ? 3 : 0,
    command: "node",
    args: ["server.js"],
    envNames: ["API_TOKEN"],
    startup: "eager",
    prefix: name,
  };
}

/** Creates a fake supervisor with `names` all running. */
export function createFakeSupervisor(names: readonly string[]): FakeSupervisor {
  const events = createEventHub();
  const servers = new Map<string, ServerSnapshot>(names.map((name, index) => [name, snapshotOf(name, true, 1000 + index)]));
  const logs = new Map<string, LogEntry[]>(names.map((name) => [name, []]));
  const listeners = new Map<string, Set<(entry: LogEntry) => void>>(names.map((name) => [name, new Set()]));
  let nextPid = 2000;
  const get = (name: string): ServerSnapshot => {
    const server = servers.get(name);
    if (!server) throw new GatewayError("not_found", `server "${name}" not found`);
    return server;
  };
  const set = (next: ServerSnapshot): ServerSnapshot => {
    const previous = get(next.name);
    servers.set(next.name, next);
    events.publish({ kind: "server_state", time: Date.now(), server: next, previous: previous.state });
    return next;
  };
  return {
    events,
    list: () => [...servers.values()].sort((a, b) => a.name.localeCompare(b.name)),
    get,
    async enable(name) {
      return set(snapshotOf(get(name).name, true, nextPid++));
    },
    async disable(name) {
      return set(snapshotOf(get(name).name, false, 0));
    },
    async restart(name) {
      get(name);
      set({ ...get(name), state: "starting" });
      return set(snapshotOf(name, true, nextPid++));
    },
    log(name): ServerLog {
      get(name);
      const entries = logs.get(name) ?? [];
      const subscribers = listeners.get(name) ?? new Set();
      return {
        tail: (lines) => (lines ? entries.slice(-lines) : [...entries]),
        subscribe(listener) {
          subscribers.add(listener);
          return () => subscribers.delete(listener);
        },
      };
    },
    emitLog(name, text) {
      const entry: LogEntry = { time: Date.now(), source: "stderr", text };
      logs.get(name)?.push(entry);
      for (const listener of listeners.get(name) ?? []) listener(entry);
    },
  };
}

/** GatewayService deps over a fake supervisor; `shutdowns` counts Shutdown calls. */
export function fakeGatewayDeps(supervisor: FakeSupervisor, home: string): GatewayServiceDeps & { shutdowns: number } {
  const deps = {
    shutdowns: 0,
    events: supervisor.events,
    status: (): GatewayStatusView => ({
      version: "0.0.0-test",
      pid: process.pid,
      startedAt: Date.now() - 1000,
      configSource: "file",
      configPath: "/tmp/team.yaml",
      controlSocket: `${home}/run/gateway.sock`,
      frontendRunning: false,
      servers: supervisor.list(),
      sessionCount: 0,
      home,
    }),
    requestShutdown() {
      deps.shutdowns++;
    },
  };
  return deps;
}
