import { GatewayError } from "../errors.js";
import type { Logger } from "../../shared/logger.js";
import { META } from "./modern-era.js";
import { UpstreamRpcError, type JsonObject } from "./types.js";
import type { CallSignal } from "../call-signal.js";

/**
 * A modern server's change notifications ("Patterns › Subscriptions"): they flow only on
 * `subscriptions/listen` requests, which replace `resources/subscribe` and the legacy
 * connection-wide list_changed notifications. This module gives the rest of the gateway the
 * legacy face it already follows:
 * - one listen for the list changes the server's capabilities declare (`tools`, `prompts`,
 *   `resources` with `listChanged`), opened as soon as the connection is up, so the catalog
 *   watcher and the engine see `notifications/…/list_changed` as they do from a legacy server;
 * - one listen per subscribed resource URI, opened by `resources/subscribe` and cancelled by
 *   `resources/unsubscribe` (the engine's subscription book, daemon/mcp/resource-subscriptions.ts,
 *   keeps sending those), settled when the server acknowledges it.
 * The notifications themselves (tagged with `io.modelcontextprotocol/subscriptionId`) pass
 * through the connection's ordinary notification path untouched.
 */

/** A `subscriptions/listen` filter ("Subscriptions › Notification Filter"). */
export interface ListenFilter {
  toolsListChanged?: boolean;
  promptsListChanged?: boolean;
  resourcesListChanged?: boolean;
  resourceSubscriptions?: string[];
}

/** What the module needs from the connection. */
export interface ModernListensDeps {
  readonly serverName: string;
  /** The server's declared capabilities (from `server/discover`). */
  readonly capabilities: JsonObject;
  /**
   * Sends a long-lived `subscriptions/listen` (no timeout; aborting `signal` cancels it
   * upstream). `onId` gets its JSON-RPC id at once: the acknowledgement and notifications
   * carry it as the subscription id. Settles when the server ends the subscription.
   */
  listen(filter: ListenFilter, signal: CallSignal, onId: (id: number) => void): Promise<JsonObject>;
  /** How long a subscription may wait for its acknowledgement. */
  readonly ackTimeoutMs: () => number;
  /** Aborts when the connection closes. */
  readonly closed: AbortSignal;
  readonly logger: Logger;
}

/** The listens of one modern connection. */
export interface ModernListens {
  /** Opens the list-changes listen (when the server declares any list change). */
  start(): void;
  /** `resources/subscribe` for a modern server: resolves `{}` once the server acknowledged the URI. */
  subscribe(uri: string, signal: CallSignal | undefined): Promise<JsonObject>;
  /** `resources/unsubscribe`: cancels the URI's listen (idempotent); resolves `{}`. */
  unsubscribe(uri: string): Promise<JsonObject>;
  /** A `notifications/subscriptions/acknowledged` from the server. */
  acknowledged(params: JsonObject | undefined): void;
}

/** After a graceful end of the list-changes listen (the server closed it), it is opened again this much later. */
const RELISTEN_DELAY_MS = 1000;

interface Waiting {
  resolve(filter: ListenFilter): void;
}

/** Creates the listens of one modern connection. */
export function createModernListens(deps: ModernListensDeps): ModernListens {
  const quoted = `server "${deps.serverName}"`;
  /** Listen id → who waits for its acknowledgement. */
  const waiting = new Map<number, Waiting>();
  /** Subscribed URI → the controller of its listen and the promise of its acknowledgement. */
  const resources = new Map<string, { controller: AbortController; ready: Promise<JsonObject> }>();

  const declares = (capability: string): boolean => {
    const value = deps.capabilities[capability];
    return value !== null && typeof value === "object" && (value as JsonObject).listChanged === true;
  };

  /** Opens one listen; resolves with the filter the server acknowledged, rejects if it refused or ended first. */
  const open = (filter: ListenFilter, signal: CallSignal, onEnd: (error?: unknown) => void): Promise<ListenFilter> =>
    new Promise<ListenFilter>((resolve, reject) => {
      let id: number | undefined;
      let acknowledged = false;
      deps
        .listen(filter, signal, (assigned) => {
          id = assigned;
          waiting.set(assigned, {
            resolve(acked) {
              acknowledged = true;
              resolve(acked);
            },
          });
        })
        .then(
          () => {
            if (id !== undefined) waiting.delete(id);
            if (!acknowledged) reject(new GatewayError("unavailable", `${quoted} ended a subscription before acknowledging it`));
            onEnd();
          },
          (error: unknown) => {
            if (id !== undefined) waiting.delete(id);
            if (!acknowledged) reject(error);
            onEnd(error);
          },
        );
    });

  const startListChanges = (): void => {
    const filter: ListenFilter = {};
    if (declares("tools")) filter.toolsListChanged = true;
    if (declares("prompts")) filter.promptsListChanged = true;
    if (declares("resources")) filter.resourcesListChanged = true;
    if (Object.keys(filter).length === 0 || deps.closed.aborted) return;
    open(filter, deps.closed, (error) => {
      if (deps.closed.aborted) return;
      if (error !== undefined) {
        deps.logger.warn({ server: deps.serverName, err: String((error as Error).message ?? error) }, "list-changes subscription refused; list changes will not be followed");
        return;
      }
      setTimeout(startListChanges, RELISTEN_DELAY_MS).unref();
    }).catch(() => {
      // Reported by onEnd.
    });
  };

  const subscribe = (uri: string, signal: CallSignal | undefined): Promise<JsonObject> => {
    const existing = resources.get(uri);
    if (existing) return existing.ready;
    const controller = new AbortController();
    const listenSignal = AbortSignal.any([controller.signal, deps.closed]);
    let settled = false;
    const acked = open({ resourceSubscriptions: [uri] }, listenSignal, (error) => {
      if (resources.get(uri)?.controller !== controller) return;
      resources.delete(uri);
      // The server ended an acknowledged subscription on its own (graceful closure): the sessions still want it.
      if (error === undefined && settled && !deps.closed.aborted) {
        setTimeout(() => {
          if (deps.closed.aborted || resources.has(uri)) return;
          subscribe(uri, undefined).catch((failure: unknown) =>
            deps.logger.debug({ server: deps.serverName, uri, err: String(failure) }, "re-opening a resource subscription failed"),
          );
        }, RELISTEN_DELAY_MS).unref();
      }
    });
    const ready = new Promise<JsonObject>((resolve, reject) => {
      // Waits for the acknowledgement until the caller cancels or the time is up, whichever comes first.
      const onCancelled = (): void => giveUp(true);
      const timer = setTimeout(() => giveUp(false), deps.ackTimeoutMs()).unref();
      const stopWaiting = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onCancelled);
      };
      function giveUp(cancelled: boolean): void {
        stopWaiting();
        controller.abort();
        reject(
          cancelled
            ? new GatewayError("cancelled", `resources/subscribe on ${quoted} was cancelled`)
            : new GatewayError("deadline_exceeded", `${quoted} did not acknowledge a subscription to ${JSON.stringify(uri)}`),
        );
      }
      if (signal?.aborted) return giveUp(true);
      signal?.addEventListener("abort", onCancelled, { once: true });
      acked.then(
        (filter) => {
          stopWaiting();
          if (!filter.resourceSubscriptions?.includes(uri)) {
            controller.abort();
            reject(new UpstreamRpcError(-32602, `${quoted} does not offer updates of ${JSON.stringify(uri)}`));
            return;
          }
          settled = true;
          resolve({});
        },
        (error: unknown) => {
          stopWaiting();
          reject(error);
        },
      );
    });
    resources.set(uri, { controller, ready });
    ready.catch(() => {
      if (resources.get(uri)?.controller === controller) resources.delete(uri);
    });
    return ready;
  };

  return {
    start: startListChanges,
    subscribe,
    async unsubscribe(uri) {
      const entry = resources.get(uri);
      if (entry) {
        resources.delete(uri);
        entry.controller.abort("unsubscribed");
      }
      return {};
    },
    acknowledged(params) {
      const meta = params?._meta;
      const id = meta !== null && typeof meta === "object" ? (meta as JsonObject)[META.subscriptionId] : undefined;
      if (typeof id !== "number") return;
      const waiter = waiting.get(id);
      if (!waiter) return;
      waiting.delete(id);
      const filter = params?.notifications;
      waiter.resolve(filter !== null && typeof filter === "object" && !Array.isArray(filter) ? (filter as ListenFilter) : {});
    },
  };
}
