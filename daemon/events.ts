import type { TeamConfig } from "./config/types.js";
import type { ServerSnapshot, ServerState } from "./supervisor/types.js";
import type { ToolCount } from "./mcp/registry.js";

/**
 * The daemon's event feed: every state change, catalog change, team switch and config sync,
 * in domain types. The composition root publishes supervisor events here; other parts (the
 * MCP registry, the control plane) publish their own; `WatchEvents` converts and streams them.
 * One hub instead of one listener per stream on every producer keeps producers unaware of
 * how many watchers there are.
 */
export type GatewayEvent =
  | {
      readonly kind: "server_state";
      readonly time: number;
      readonly server: ServerSnapshot;
      readonly previous: ServerState;
      /** The server's tool counts by the registry's one definition (absent without an MCP engine). */
      readonly tools?: ToolCount;
    }
  | { readonly kind: "catalog"; readonly time: number; readonly serverName: string; readonly toolCount: number }
  | { readonly kind: "team_switched"; readonly time: number; readonly team: TeamConfig }
  | { readonly kind: "config_synced"; readonly time: number; readonly changes: readonly ServerChange[] }
  /** The team file was re-read and has mistakes; the running config stays (`message`: `file:line:column: field: …` lines). */
  | { readonly kind: "config_error"; readonly time: number; readonly path: string; readonly message: string };

/** What a sync did to one server (mirrors the control API's `ServerChangeKind`). */
export interface ServerChange {
  readonly serverName: string;
  readonly kind: "added" | "removed" | "changed" | "unchanged" | "invalid";
  readonly reason?: string;
}

/** A fan-out of `GatewayEvent`s to any number of listeners. */
export interface EventHub {
  publish(event: GatewayEvent): void;
  /** Calls `listener` for every event published after this call, until the returned function is called. */
  subscribe(listener: (event: GatewayEvent) => void): () => void;
}

/**
 * Creates an event hub. A listener that throws is isolated (reported through `onListenerError`)
 * so that one broken watcher can never stop the others or the producer.
 */
export function createEventHub(onListenerError: (error: unknown) => void = () => {}): EventHub {
  const listeners = new Set<(event: GatewayEvent) => void>();
  return {
    publish(event) {
      for (const listener of [...listeners]) {
        try {
          listener(event);
        } catch (error) {
          onListenerError(error);
        }
      }
    },
    subscribe(listener) {
      const entry = (event: GatewayEvent): void => listener(event);
      listeners.add(entry);
      return () => listeners.delete(entry);
    },
  };
}
