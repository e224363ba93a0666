/**
 * Resource subscriptions shared across sessions (MCP 2025-11-25 "Server Features ›
 * Resources › Subscriptions"). The server sees one subscriber, the gateway: it subscribes
 * upstream when the first session subscribes to a URI and unsubscribes when the last one
 * leaves, and `notifications/resources/updated` reaches only the sessions subscribed.
 *
 * The book speaks `resources/subscribe` / `resources/unsubscribe` to every server. A modern
 * server (2026-07-28) has neither: its connection turns them into one `subscriptions/listen`
 * per URI, settled by the server's acknowledgement and cancelled on unsubscribe
 * (daemon/upstream/modern-listens.ts), and its updates come back as the same
 * `notifications/resources/updated`. `resubscribe` works the same way for both eras: a
 * restarted modern server holds no subscription until a new listen is opened.
 */
import type { Logger } from "../../shared/logger.js";
import type { UpstreamConnection } from "../upstream/types.js";
import type { Registry } from "./registry.js";
import { internalCaller, type UpstreamRouter } from "./upstream-router.js";
import type { CallSignal } from "../call-signal.js";

/** The subscription book. */
export interface ResourceSubscriptions {
  /** Subscribes a session; the first subscriber of a URI subscribes upstream (and shares its outcome). */
  subscribe(sessionId: string, uri: string, signal: CallSignal): Promise<void>;
  /** Unsubscribes a session (idempotent); the last one unsubscribes upstream. */
  unsubscribe(sessionId: string, uri: string): void;
  /** Drops every subscription of a closed session. */
  dropSession(sessionId: string): void;
  /** The sessions subscribed to `uri` on `server`. */
  subscribers(server: string, uri: string): string[];
  /** A server reconnected: its subscriptions are re-established upstream. */
  resubscribe(connection: UpstreamConnection): void;
}

interface Entry {
  readonly server: string;
  readonly sessions: Set<string>;
  ready: Promise<void>;
  /** The connection the upstream subscription lives on, once established. */
  connection?: UpstreamConnection;
}

/** Creates the book. */
export function createResourceSubscriptions(deps: { registry: Registry; router: UpstreamRouter; logger: Logger }): ResourceSubscriptions {
  const { registry, router, logger } = deps;
  const entries = new Map<string, Entry>();

  function release(uri: string, entry: Entry): void {
    if (entry.sessions.size > 0 || entries.get(uri) !== entry) return;
    entries.delete(uri);
    entry.ready
      .then(() => router.forward(entry.server, "resources/unsubscribe", { uri }, internalCaller, AbortSignal.timeout(30_000)))
      .catch((error: unknown) => logger.debug({ server: entry.server, uri, err: error }, "upstream unsubscribe failed"));
  }

  return {
    async subscribe(sessionId, uri, signal) {
      let entry = entries.get(uri);
      if (!entry) {
        const server = registry.resolveResource(uri);
        const created: Entry = { server, sessions: new Set([sessionId]), ready: Promise.resolve() };
        created.ready = router.forward(server, "resources/subscribe", { uri }, internalCaller, signal).then(
          () => {
            created.connection = router.connection(server);
          },
          (error: unknown) => {
            if (entries.get(uri) === created) entries.delete(uri);
            throw error;
          },
        );
        entries.set(uri, created);
        entry = created;
      } else {
        entry.sessions.add(sessionId);
      }
      try {
        await entry.ready;
      } catch (error) {
        entry.sessions.delete(sessionId);
        throw error;
      }
    },
    unsubscribe(sessionId, uri) {
      const entry = entries.get(uri);
      if (!entry || !entry.sessions.delete(sessionId)) return;
      release(uri, entry);
    },
    dropSession(sessionId) {
      for (const [uri, entry] of [...entries]) {
        if (entry.sessions.delete(sessionId)) release(uri, entry);
      }
    },
    subscribers(server, uri) {
      const entry = entries.get(uri);
      return entry && entry.server === server ? [...entry.sessions] : [];
    },
    resubscribe(connection) {
      for (const [uri, entry] of entries) {
        if (entry.server !== connection.serverName || !entry.connection || entry.connection === connection) continue;
        entry.connection = connection;
        connection
          .request("resources/subscribe", { uri })
          .catch((error: unknown) => logger.debug({ server: entry.server, uri, err: error }, "upstream resubscribe failed"));
      }
    },
  };
}
