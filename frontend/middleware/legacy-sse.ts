import type { Context, Next } from "koa";
import { isJsonContentType } from "../http/accept.js";
import { HttpError, sessionNotFound } from "../http/http-error.js";
import { readBody } from "../http/read-body.js";
import { inspectBody } from "../mcp/inspect-body.js";
import type { SessionRegistry } from "../session/session-registry.js";
import { profileOfPath, requireKnownProfile } from "../http/profile-path.js";
import { traceHeaderContext } from "../trace-header.js";

/** Options of the legacy HTTP+SSE endpoints. */
export interface LegacySseOptions {
  readonly sessions: SessionRegistry;
  /** Largest accepted POST body; larger → 413. */
  readonly maxBodyBytes: number;
  /** The stream path (`/sse`). */
  readonly ssePath?: string;
  /** The message path (`/message`), announced in the `endpoint` event. */
  readonly messagePath?: string;
  /** Whether the daemon answers; without it a stream would open and close at once (503 instead). */
  readonly daemonReachable?: () => Promise<boolean>;
  /** The team's profile names (`<ssePath>/<profile>`); absent: only the bare path is served. */
  readonly profileNames?: () => Promise<readonly string[] | undefined>;
}

/**
 * The HTTP+SSE transport of MCP 2024-11-05 ("Transports" › "HTTP with SSE"), still what many clients use
 * (`claude mcp add --transport sse`): `GET /sse` opens a session whose first event, `endpoint`, says where to POST;
 * `POST /message?sessionId=…` answers 202 and every JSON-RPC answer goes out on the stream as `event: message`.
 * The session lives as long as its stream, except that a stream never used for a request after a successful
 * `initialize` ends after the short init timeout (`sessionInitTimeoutMs`) and may be evicted at the session cap.
 */
export function createLegacySse(options: LegacySseOptions) {
  const ssePath = options.ssePath ?? "/sse";
  const messagePath = options.messagePath ?? "/message";
  return async function legacySse(ctx: Context, next: Next): Promise<void> {
    const profile = profileOfPath(ctx.path, ssePath);
    if (profile !== undefined) {
      if (ctx.method !== "GET") throw new HttpError(405, "method not allowed", { headers: { Allow: "GET" } });
      if (options.daemonReachable && !(await options.daemonReachable())) throw new HttpError(503, "gateway daemon unavailable");
      // This transport has no answer after the endpoint event in which to refuse an unknown profile: checked first.
      await requireKnownProfile(profile, options.profileNames);
      // The stream is the session (its id is in the endpoint event), so it is admitted at once; it counts as unused,
      // expiring after the short init timeout and first in line for eviction, until a request follows a successful
      // initialize on it (see `Session.used`).
      const session = options.sessions.create("sse", profile);
      options.sessions.admit(session);
      ctx.respond = false;
      session.attachLegacy(ctx.res, `${messagePath}?sessionId=${session.id}`);
      return;
    }
    if (ctx.path === messagePath) {
      if (ctx.method !== "POST") throw new HttpError(405, "method not allowed", { headers: { Allow: "POST" } });
      const id = ctx.query.sessionId;
      if (typeof id !== "string" || id === "") throw new HttpError(400, "bad request: the sessionId query parameter is required");
      const session = options.sessions.get(id);
      if (!session || session.kind !== "sse") throw sessionNotFound();
      if (!isJsonContentType(ctx.req.headers["content-type"])) {
        throw new HttpError(415, "unsupported media type: content-type must be application/json");
      }
      const body = await readBody(ctx.req, options.maxBodyBytes);
      const shape = inspectBody(body);
      if (!shape) throw new HttpError(400, "Parse error", { rpcCode: -32700 });
      if (shape.owesAnswers && !shape.initialize && session.initialized) session.markUsed();
      // A client's `traceparent` header goes to the daemon beside the body (frontend/trace-header.ts).
      if (!(await session.postLegacy(body, traceHeaderContext(ctx.req.headers)))) throw sessionNotFound();
      ctx.body = null;
      ctx.status = 202;
      return;
    }
    await next();
  };
}
