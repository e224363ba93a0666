import type { Context, Next } from "koa";
import { isPieces, piecesLength } from "../../shared/byte-pieces.js";
import { hopTiming } from "../../shared/hop-timing.js";
import { parseAccept, isJsonContentType } from "../http/accept.js";
import { HttpError, sessionNotFound } from "../http/http-error.js";
import { readBody } from "../http/read-body.js";
import { inspectBody } from "../mcp/inspect-body.js";
import { DEFAULT_HTTP_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS, isSupportedProtocolVersion } from "../../shared/mcp-protocol-versions.js";
import { parseEventId } from "../session/sse.js";
import type { ExchangeOutcome, Session } from "../session/session.js";
import type { SessionRegistry } from "../session/session-registry.js";
import { profileOfPath, requireKnownProfile } from "../http/profile-path.js";
import { traceHeaderContext } from "../trace-header.js";
import { modernMessageOf } from "../modern/request-checks.js";
import { serveModernPost, type ModernPostOptions } from "../modern/modern-post.js";
import { META, isModernProtocolVersion } from "../../shared/mcp-modern.js";

/** Options of the Streamable HTTP endpoint. */
export interface StreamableHttpOptions {
  readonly sessions: SessionRegistry;
  /** Largest accepted POST body; larger → 413. */
  readonly maxBodyBytes: number;
  /** The endpoint path (`/mcp`); `<path>/<profile>` serves a team profile. */
  readonly path?: string;
  /** The team's profile names (see `DaemonClient.profileNames`); absent: only the bare path is served. */
  readonly profileNames?: () => Promise<readonly string[] | undefined>;
  /** Modern (2026-07-28) requests: how they cross to the daemon. Absent: every request is served as legacy. */
  readonly modern?: ModernPostOptions;
}

const SESSION_HEADER = "mcp-session-id";

/**
 * MCP Streamable HTTP at `/mcp`, both eras, decided per request as the 2026-07-28 compatibility rules say
 * ("Versioning › Backward Compatibility", "Streamable HTTP › Backward Compatibility"):
 * - legacy (2025-11-25 "Transports" › "Streamable HTTP", and the 2025-03-26/2025-06-18 behaviour clients still rely
 *   on): a request with `Mcp-Session-Id`, or `initialize`; POST carries client messages, GET opens the standalone
 *   SSE stream (or resumes one with `Last-Event-ID`), DELETE ends the session;
 * - modern (2026-07-28): a POST without a session whose `_meta` names a protocol version, served statelessly
 *   (frontend/modern/); GET and DELETE without a session id are 405, as the modern binding says.
 * The SDK's server transport is deliberately not used: this one parses a body once, forwards its bytes and writes
 * SSE frames straight to the socket.
 */
export function createStreamableHttp(options: StreamableHttpOptions) {
  const path = options.path ?? "/mcp";
  return async function streamableHttp(ctx: Context, next: Next): Promise<void> {
    const profile = profileOfPath(ctx.path, path);
    if (profile === undefined) {
      await next();
      return;
    }
    switch (ctx.method) {
      case "POST":
        await handlePost(ctx, options, profile);
        return;
      case "GET":
        refuseWithoutSession(ctx);
        handleGet(ctx, options.sessions, profile);
        return;
      case "DELETE":
        refuseWithoutSession(ctx);
        handleDelete(ctx, options.sessions, profile);
        return;
      default:
        throw new HttpError(405, "method not allowed", { headers: { Allow: "GET, POST, DELETE" } });
    }
  };
}

async function handlePost(ctx: Context, options: StreamableHttpOptions, profile: string): Promise<void> {
  const startedAt = hopTiming.enabled ? hopTiming.now() : 0;
  if (!isJsonContentType(ctx.req.headers["content-type"])) {
    throw new HttpError(415, "unsupported media type: content-type must be application/json");
  }
  const body = await readBody(ctx.req, options.maxBodyBytes);
  const shape = inspectBody(body);
  if (!shape) throw new HttpError(400, "Parse error", { rpcCode: -32700 });
  // A client's `traceparent` header goes to the daemon beside the body (frontend/trace-header.ts).
  const trace = traceHeaderContext(ctx.req.headers);
  const accept = parseAccept(ctx.req.headers.accept);
  if (shape.owesAnswers && !accept.json && !accept.eventStream) {
    throw new HttpError(406, "not acceptable: the client must accept application/json or text/event-stream");
  }
  const sessionId = ctx.req.headers[SESSION_HEADER];
  if (sessionId === undefined && options.modern) {
    // Modern when `_meta` names a version. A legacy `initialize` never does; one that does is a modern client's
    // request for a method its revision removed, and gets the modern answer (-32601, 404).
    const modern = shape.batch ? undefined : modernMessageOf(shape.value);
    if (modern) {
      ctx.respond = false;
      // Its hops (frontend.post, frontend.daemon) are recorded when its answer is written: it is answered later.
      serveModernPost(ctx.res, body, trace, modern, ctx.req.headers, profile, accept, options.modern, startedAt);
      return;
    }
    if (!shape.initialize && refusedModernWithoutVersion(ctx, shape.value)) return;
  }
  let session: Session;
  let created = false;
  if (sessionId === undefined) {
    // Only initialize may come without a session (2025-11-25 "Session Management" point 2), and alone: "The
    // initialize request MUST NOT be part of a JSON-RPC batch" (2025-03-26 "Lifecycle"); the session must know
    // from the first answer whether it was initialized.
    if (!shape.initialize) throw new HttpError(400, "bad request: the mcp-session-id header is required");
    if (shape.batch) throw new HttpError(400, "bad request: initialize must not be part of a batch");
    await requireKnownProfile(profile, options.profileNames);
    session = options.sessions.create("streamable-http", profile);
    created = true;
  } else {
    session = lookup(options.sessions, sessionId, profile);
    checkProtocolVersion(ctx);
    if (shape.owesAnswers && !session.used && !shape.initialize) session.markUsed();
  }
  const clientVersion = shape.initialize
    ? (shape.requestedVersion ?? DEFAULT_HTTP_PROTOCOL_VERSION)
    : (headerValue(ctx, "mcp-protocol-version") ?? DEFAULT_HTTP_PROTOCOL_VERSION);
  const outcome = await session.post(body, trace, {
    mode: accept.eventStream || !accept.json ? "sse" : "json",
    batch: shape.batch,
    acceptsJson: accept.json,
    clientVersion,
    // A new session stays unanswered until the daemon speaks, so an unreachable daemon can still get a 503.
    openNow: !created && shape.owesAnswers,
    startedAt,
  });
  // A session exists only once its initialize succeeded (the daemon reports that before the answer): a failed one
  // is answered without a session id and its daemon stream closed, so it never holds a slot.
  const refused = created && (outcome.kind === "failed" || !session.initialized);
  if (created && !refused) options.sessions.admit(session);
  try {
    respond(ctx, outcome, session, refused ? undefined : session.id);
  } finally {
    if (refused) session.end("initialize failed", "client");
  }
  // A streamed answer's hops are recorded by its session when its last message is written.
  if (startedAt !== 0 && outcome.kind !== "stream") hopTiming.record("frontend.post", startedAt);
}

/** Answers a POST as its exchange's outcome says; `sessionHeader` is left out for a failed initialize. */
function respond(ctx: Context, outcome: ExchangeOutcome, session: Session, sessionHeader: string | undefined): void {
  switch (outcome.kind) {
    case "failed":
      throw outcome.error;
    case "accepted":
      if (sessionHeader !== undefined) ctx.set("Mcp-Session-Id", sessionHeader);
      ctx.body = null;
      ctx.status = 202;
      return;
    case "json": {
      // Written here rather than through koa's body handling: the hot path's answer, one write with its headers.
      const body = typeof outcome.body === "string" ? Buffer.from(outcome.body) : outcome.body;
      const pieces = isPieces(body) ? body : undefined;
      ctx.respond = false;
      const length = pieces ? piecesLength(pieces) : (body as Buffer).length;
      ctx.res.writeHead(
        200,
        sessionHeader === undefined
          ? { "Content-Type": "application/json", "Content-Length": length }
          : { "Content-Type": "application/json", "Content-Length": length, "Mcp-Session-Id": sessionHeader },
      );
      if (pieces) {
        // A large answer as it came from the daemon, one write per piece (gathered into one writev): never joined.
        ctx.res.cork();
        for (const piece of pieces) ctx.res.write(piece);
        ctx.res.uncork();
        ctx.res.end();
      } else ctx.res.end(body);
      return;
    }
    case "stream":
      ctx.respond = false;
      session.attachExchange(outcome.exchangeId, ctx.res, sessionHeader === undefined ? {} : { "Mcp-Session-Id": sessionHeader });
      return;
  }
}

function handleGet(ctx: Context, sessions: SessionRegistry, profile: string): void {
  if (!parseAccept(ctx.req.headers.accept).eventStream) {
    throw new HttpError(406, "not acceptable: the client must accept text/event-stream");
  }
  const session = lookup(sessions, requireSessionHeader(ctx), profile);
  checkProtocolVersion(ctx);
  const lastEventId = headerValue(ctx, "last-event-id");
  const headers = { "Mcp-Session-Id": session.id };
  if (lastEventId === undefined) {
    session.markUsed();
    session.openStandalone(ctx.res, headers);
  } else {
    const parsed = parseEventId(lastEventId);
    if (!parsed) throw new HttpError(400, "bad request: unknown last-event-id");
    session.resume(ctx.res, headers, parsed.streamId, parsed.seq);
  }
  ctx.respond = false;
}

function handleDelete(ctx: Context, sessions: SessionRegistry, profile: string): void {
  const session = lookup(sessions, requireSessionHeader(ctx), profile);
  checkProtocolVersion(ctx);
  session.end("deleted by the client", "client");
  ctx.body = null;
  ctx.status = 204;
}

/**
 * GET and DELETE belong to legacy sessions: without a session id they are modern-era traffic, which has neither a
 * standalone stream nor sessions ("Streamable HTTP › Earlier Streamable HTTP Revisions": 405).
 */
function refuseWithoutSession(ctx: Context): void {
  if (ctx.req.headers[SESSION_HEADER] === undefined) {
    throw new HttpError(405, "method not allowed: only POST is served without an mcp-session-id", { headers: { Allow: "POST" } });
  }
}

/**
 * A request without a session that says it is modern in its `MCP-Protocol-Version` header but names no version in
 * `_meta` is a malformed modern request: -32602 with HTTP 400 ("Basic › _meta": the version is required), not the
 * legacy "session required" answer, which a dual-era client would take for a legacy server.
 */
function refusedModernWithoutVersion(ctx: Context, value: unknown): boolean {
  const header = headerValue(ctx, "mcp-protocol-version");
  if (header === undefined || !isModernProtocolVersion(header)) return false;
  const message = typeof value === "object" && value !== null && !Array.isArray(value) ? (value as { id?: unknown }) : {};
  const id = typeof message.id === "string" || typeof message.id === "number" ? message.id : null;
  const body = JSON.stringify({ jsonrpc: "2.0", id, error: { code: -32602, message: `Invalid params: _meta["${META.protocolVersion}"] is required` } });
  ctx.respond = false;
  ctx.res.writeHead(400, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) }).end(body);
  return true;
}

function requireSessionHeader(ctx: Context): string {
  const id = ctx.req.headers[SESSION_HEADER];
  if (id === undefined) throw new HttpError(400, "bad request: the mcp-session-id header is required");
  return typeof id === "string" ? id : String(id);
}

function lookup(sessions: SessionRegistry, id: string | string[], profile: string): Session {
  if (typeof id !== "string") throw sessionNotFound();
  const session = sessions.get(id);
  // A legacy SSE session's id is not a Streamable HTTP session: its answers belong to its own stream. A session
  // belongs to the URL it was opened on: another profile's path does not know it.
  if (!session || session.kind !== "streamable-http" || session.profile !== profile) throw sessionNotFound();
  session.touch();
  return session;
}

/** 2025-11-25 "Protocol Version Header": an invalid or unsupported version → 400 (absent: assume 2025-03-26). */
function checkProtocolVersion(ctx: Context): void {
  const version = headerValue(ctx, "mcp-protocol-version");
  if (version !== undefined && !isSupportedProtocolVersion(version)) {
    throw new HttpError(400, `bad request: unsupported mcp-protocol-version (supported: ${SUPPORTED_PROTOCOL_VERSIONS.join(", ")})`);
  }
}

function headerValue(ctx: Context, name: string): string | undefined {
  const value = ctx.req.headers[name];
  return typeof value === "string" ? value : undefined;
}
