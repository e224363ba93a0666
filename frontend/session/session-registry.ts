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
  /**
   * Sessions allowed at once, both transports together, counting those whose `initialize` is being answered. At the
   * cap the least recently used session with nothing in flight is evicted; 503 only when every one is busy.
   */
  readonly maxSessions: number;
  /** A session with no traffic and no open request for this long ends (its id then answers 404). */
  readonly idleTimeoutMs: number;
  /** A session not used since it was opened (`Session.used`) ends this long after it was opened. */
  readonly initTimeoutMs: number;
  readonly limits: SessionLimits;
}

/**
 * The frontend's live sessions by id. A Streamable HTTP session is opened `pending` for its `initialize` and only
 * `admit`ted (given out by `get`) once the daemon answered it with success; a failed one is ended and never known.
 * Lookups check expiry against the injected clock, so an expired session is gone the moment a request asks for it,
 * and `sweep` (run on a timer by `main.ts`) frees the forgotten ones.
 *
 * Why eviction rather than refusal at the cap: initializing costs a local script nothing, so a cap that refuses
 * newcomers lets any local process lock every IDE out. Evicting the least recently used idle session instead costs
 * its client one re-initialize (404 → new session, which every MCP client does), and sessions never used after
 * `initialize` go first.
 */
export class SessionRegistry {
  private readonly sessions = new Map<string, Session>();
  private readonly pending = new Set<Session>();

  constructor(private readonly options: SessionRegistryOptions) {}

  /** Number of live (admitted) sessions. */
  get size(): number {
    return this.sessions.size;
  }

  /**
   * Opens a session (and its daemon stream), not yet given out by `get`: call `admit` once its `initialize`
   * succeeded, or `end` it. Makes room first: expired sessions are freed, then the least recently used idle one is
   * evicted; 503 only when every session (and every pending initialize) has work in flight.
   */
  create(kind: SessionKind, profile = ""): Session {
    if (this.sessions.size + this.pending.size >= this.options.maxSessions) this.makeRoom();
    let id = createSessionId(this.options.randomBytes);
    while (this.sessions.has(id)) id = createSessionId(this.options.randomBytes);
    const session = new Session(id, kind, {
      daemon: this.options.daemon,
      clock: this.options.clock,
      logger: this.options.logger,
      limits: this.options.limits,
      onEnded: (ended) => {
        this.pending.delete(ended);
        if (this.sessions.get(ended.id) === ended) this.sessions.delete(ended.id);
      },
    }, profile);
    this.pending.add(session);
    return session;
  }

  /** Makes a session from `create` known to `get` (after a successful `initialize`; a legacy stream at once). */
  admit(session: Session): void {
    if (!this.pending.delete(session) || !session.alive) return;
    this.sessions.set(session.id, session);
  }

  /** The live session with this id, or undefined (unknown, ended, or expired). */
  get(id: string): Session | undefined {
    const session = this.sessions.get(id);
    if (!session) return undefined;
    if (this.expired(session, this.options.clock.now())) {
      session.end("idle timeout", "idle");
      return undefined;
    }
    return session;
  }

  /** Ends every session past its timeout; returns how many ended. */
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
    for (const session of [...this.sessions.values(), ...this.pending]) session.end(reason, cause);
  }

  /**
   * Frees one slot: expired sessions first, then the least recently used session with nothing in flight, preferring
   * one never used since `initialize`. A scan, but only at the cap, over at most `maxSessions` entries.
   */
  private makeRoom(): void {
    if (this.sweep() > 0) return;
    let victim: Session | undefined;
    for (const session of this.sessions.values()) {
      if (session.busy) continue;
      if (!victim || (victim.used && !session.used) || (victim.used === session.used && session.lastActivity < victim.lastActivity)) {
        victim = session;
      }
    }
    if (victim) {
      this.options.logger.debug({ session: victim.id.slice(0, 8), used: victim.used }, "session evicted to make room");
      victim.end("evicted to make room for a new session", "idle");
      return;
    }
    throw new HttpError(
      503,
      `too many sessions: the gateway serves at most ${this.options.maxSessions} at once and every one has work in flight; retry later`,
      { headers: { "Retry-After": "5" } },
    );
  }

  private expired(session: Session, now: number): boolean {
    if (!session.used && now - session.createdAt > this.options.initTimeoutMs) return true;
    return now - session.lastActivity > this.options.idleTimeoutMs && session.quiet;
  }
}
