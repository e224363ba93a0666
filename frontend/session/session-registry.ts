import type { Logger } from "../../shared/logger.js";
import { HttpError } from "../http/http-error.js";
import type { Clock } from "./clock.js";
import { type RandomBytes, createSessionId } from "./session-id.js";
import type { DaemonClient } from "../daemon-client.js";
import { type EndCause, Session, type SessionKind, type SessionLimits } from "./session.js";

/** Everything the registry needs; the clock and the random source are injectable for tests. */
export interface SessionRegistryOptions {
  /** Opens each session's OpenSession stream over the daemon's unix socket. */
  readonly daemon: Pick<DaemonClient, "open">;
  readonly clock: Clock;
  readonly randomBytes?: RandomBytes;
  readonly logger: Logger;
  /** Sessions allowed at once, both transports together; past it new sessions get 503. */
  readonly maxSessions: number;
  /** A session with no traffic and no open request for this long ends (its id then answers 404). */
  readonly idleTimeoutMs: number;
  readonly limits: SessionLimits;
}

/**
 * The frontend's live sessions by id. Lookups check idle expiry against the injected clock, so an expired session
 * is gone the moment a request asks for it, and `sweep` (run on a timer by `main.ts`) frees the forgotten ones.
 */
export class SessionRegistry {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly options: SessionRegistryOptions) {}

  /** Number of live sessions. */
  get size(): number {
    return this.sessions.size;
  }

  /** Opens a session (and its daemon stream); 503 past the cap, after freeing expired sessions. */
  create(kind: SessionKind): Session {
    if (this.sessions.size >= this.options.maxSessions) this.sweep();
    if (this.sessions.size >= this.options.maxSessions) {
      throw new HttpError(
        503,
        `too many sessions: the gateway serves at most ${this.options.maxSessions} at once; close an unused client session or retry later`,
        { headers: { "Retry-After": "5" } },
      );
    }
    let id = createSessionId(this.options.randomBytes);
    while (this.sessions.has(id)) id = createSessionId(this.options.randomBytes);
    const session = new Session(id, kind, {
      daemon: this.options.daemon,
      clock: this.options.clock,
      logger: this.options.logger,
      limits: this.options.limits,
      onEnded: (ended) => {
        if (this.sessions.get(ended.id) === ended) this.sessions.delete(ended.id);
      },
    });
    this.sessions.set(id, session);
    return session;
  }

  /** The live session with this id, or undefined (unknown, ended, or idle past the timeout). */
  get(id: string): Session | undefined {
    const session = this.sessions.get(id);
    if (!session) return undefined;
    if (this.expired(session, this.options.clock.now())) {
      session.end("idle timeout", "idle");
      return undefined;
    }
    return session;
  }

  /** Ends every session idle past the timeout; returns how many ended. */
  sweep(): number {
    const now = this.options.clock.now();
    let count = 0;
    for (const session of [...this.sessions.values()]) {
      if (this.expired(session, now)) {
        session.end("idle timeout", "idle");
        count++;
      }
    }
    return count;
  }

  /** Ends every session (shutdown). */
  closeAll(reason: string, cause: EndCause = "shutdown"): void {
    for (const session of [...this.sessions.values()]) session.end(reason, cause);
  }

  private expired(session: Session, now: number): boolean {
    return now - session.lastActivity > this.options.idleTimeoutMs && session.quiet;
  }
}
