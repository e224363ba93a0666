import { silentLogger, type Logger } from "../../shared/logger.js";
import type { ServerCatalog } from "../supervisor/types.js";
import type { ManagedUpstreamConnection } from "./connection.js";
import type { JsonObject } from "./types.js";

/**
 * Discovery of what a server offers (tools, prompts, resources, resource templates) and its
 * refresh when the server announces a change (MCP 2025-11-25, "Server Features › Tools ›
 * List Changed Notification", likewise for prompts and resources). Only the lists the
 * server's capabilities declare are asked for, and every `nextCursor` is followed
 * ("Utilities › Pagination"), so the catalog always holds complete lists.
 *
 * The same code serves both eras: a modern server's connection stamps each list request with
 * the per-request `_meta` and turns its `subscriptions/listen` notifications into the
 * `…/list_changed` this watcher follows (modern-listens.ts); extra result fields (`resultType`,
 * `ttlMs`, `cacheScope`) are ignored here and the items kept as listed.
 */

/** One list the catalog holds and how to fetch it. */
type CatalogKind = keyof ServerCatalog;

const LISTS: Record<CatalogKind, { method: string; key: string; capability: string }> = {
  tools: { method: "tools/list", key: "tools", capability: "tools" },
  prompts: { method: "prompts/list", key: "prompts", capability: "prompts" },
  resources: { method: "resources/list", key: "resources", capability: "resources" },
  resourceTemplates: { method: "resources/templates/list", key: "resourceTemplates", capability: "resources" },
};

const CHANGES: Record<string, readonly CatalogKind[]> = {
  "notifications/tools/list_changed": ["tools"],
  "notifications/prompts/list_changed": ["prompts"],
  "notifications/resources/list_changed": ["resources", "resourceTemplates"],
};

/** A catalog with nothing in it. */
export const EMPTY_CATALOG: ServerCatalog = { tools: [], prompts: [], resources: [], resourceTemplates: [] };

/** Guards against a server whose cursors never end. */
const MAX_PAGES = 10_000;

/**
 * Fetches every page of one list method and concatenates the items under `key`.
 * Stops on a repeated cursor. Rejects as the request does.
 */
export async function listAllPages(
  connection: ManagedUpstreamConnection,
  method: string,
  key: string,
  signal?: AbortSignal,
): Promise<JsonObject[]> {
  const items: JsonObject[] = [];
  const seen = new Set<string>();
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const result = await connection.request(method, cursor === undefined ? {} : { cursor }, { signal });
    const pageItems = result[key];
    if (Array.isArray(pageItems)) for (const item of pageItems) if (isObject(item)) items.push(item);
    const next = result.nextCursor;
    if (typeof next !== "string" || next === "" || seen.has(next)) break;
    seen.add(next);
    cursor = next;
  }
  return items;
}

/** Options of `watchCatalog`. */
export interface CatalogWatchOptions {
  /** Called with the full catalog after discovery and after every refresh. */
  readonly onCatalog: (catalog: ServerCatalog) => void;
  /** Bound on one list (all its pages); default 60 s. A list that fails or times out is kept as it was. */
  readonly listTimeoutMs?: number;
  readonly logger?: Logger;
}

/** A live catalog of one connection. */
export interface CatalogWatcher {
  /** The latest catalog (empty until the first discovery finished). */
  readonly current: ServerCatalog;
  /** Resolves with the first complete catalog; never rejects (failed lists are empty). */
  readonly ready: Promise<ServerCatalog>;
  /** Stops refreshing. Also happens when the connection closes. */
  stop(): void;
}

/**
 * Discovers the catalog of `connection` and keeps it fresh on `…/list_changed`
 * notifications. Refreshes of one list are coalesced: a change announced while that
 * list is being fetched triggers exactly one more fetch afterwards.
 */
export function watchCatalog(connection: ManagedUpstreamConnection, options: CatalogWatchOptions): CatalogWatcher {
  const logger = options.logger ?? silentLogger;
  const listTimeoutMs = options.listTimeoutMs ?? 60_000;
  const capabilities = connection.identity.capabilities;
  const lists: Record<CatalogKind, JsonObject[]> = { tools: [], prompts: [], resources: [], resourceTemplates: [] };
  const running = new Set<CatalogKind>();
  const dirty = new Set<CatalogKind>();
  const stopController = new AbortController();
  let current: ServerCatalog = EMPTY_CATALOG;
  let discovered = false;
  const changedDuringDiscovery = new Set<CatalogKind>();

  const declared = (kind: CatalogKind): boolean => isObject(capabilities[LISTS[kind].capability]);

  const snapshot = (): ServerCatalog => ({
    tools: lists.tools,
    prompts: lists.prompts,
    resources: lists.resources,
    resourceTemplates: lists.resourceTemplates,
  });

  const fetchList = async (kind: CatalogKind): Promise<boolean> => {
    const { method, key } = LISTS[kind];
    const signal = AbortSignal.any([stopController.signal, connection.closed, AbortSignal.timeout(listTimeoutMs)]);
    try {
      lists[kind] = await listAllPages(connection, method, key, signal);
      return true;
    } catch (error) {
      if (!stopController.signal.aborted && !connection.closed.aborted) {
        logger.warn({ server: connection.serverName, method, err: errorText(error) }, "listing failed; keeping the previous list");
      }
      return false;
    }
  };

  const refresh = async (kind: CatalogKind): Promise<void> => {
    if (running.has(kind)) {
      dirty.add(kind);
      return;
    }
    running.add(kind);
    try {
      do {
        dirty.delete(kind);
        const changed = await fetchList(kind);
        if (stopController.signal.aborted) return;
        if (changed && discovered) {
          current = snapshot();
          options.onCatalog(current);
        }
      } while (dirty.has(kind));
    } finally {
      running.delete(kind);
    }
  };

  const stopObserving = connection.observeNotifications((method) => {
    const kinds = CHANGES[method];
    if (!kinds) return;
    for (const kind of kinds) {
      if (!declared(kind)) continue;
      if (discovered) void refresh(kind);
      else changedDuringDiscovery.add(kind);
    }
  });
  const stop = (): void => {
    stopController.abort();
    stopObserving();
  };
  connection.closed.addEventListener("abort", stop, { once: true });

  const kinds = (Object.keys(LISTS) as CatalogKind[]).filter(declared);
  const ready = Promise.all(kinds.map((kind) => fetchList(kind))).then(() => {
    discovered = true;
    current = snapshot();
    if (!stopController.signal.aborted) options.onCatalog(current);
    for (const kind of changedDuringDiscovery) void refresh(kind);
    return current;
  });

  return {
    get current() {
      return current;
    },
    ready,
    stop,
  };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
