/**
 * The seam between the MCP session engine and one live, initialized MCP server.
 * The supervisor produces these (over a child's stdio in production, or over a linked
 * in-memory pair in tests); the engine routes client traffic through them.
 *
 * JSON values are plain parsed objects (or, for a caller that forwards results, `RawJson`): the connection owns the upstream JSON-RPC ids
 * (so sessions can never collide) and hands results back untouched.
 */

import type { JsonObject } from "./json-object.js";
import type { UpstreamResult } from "./raw-json.js";
import type { CallSignal } from "../call-signal.js";

export type { JsonObject } from "./json-object.js";
export type { UpstreamResult } from "./raw-json.js";

/** A JSON-RPC error returned by the upstream server; it is forwarded, not reinterpreted. */
export class UpstreamRpcError extends Error {
  override readonly name = "UpstreamRpcError";
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

/** Options for one upstream request. */
export interface UpstreamRequestOptions {
  /**
   * Aborting sends `notifications/cancelled` for the request upstream (MCP 2025-11-25
   * "Cancellation") and rejects the promise; a late response is dropped.
   */
  readonly signal?: CallSignal;
  /**
   * For a modern server: the client capabilities to stamp instead of the gateway's own. A modern caller's own
   * capabilities (2026-07-28 clients answer a server's input requests themselves), so that the server asks only for
   * what that client declared and refuses with -32021 what it needs and the client lacks.
   */
  readonly clientCapabilities?: JsonObject;
}

/** What the server sends us that is not a response: notifications and server-to-client requests. */
export interface UpstreamHandlers {
  /** A notification from the server (`notifications/progress`, `notifications/message`, `…/list_changed`). */
  onNotification(method: string, params: JsonObject | undefined): void;
  /**
   * A request from the server (`sampling/createMessage`, `elicitation/create`, `roots/list`, `ping`).
   * Resolve with the result object or reject (an `UpstreamRpcError` keeps its code).
   * `signal` aborts when the server cancels the request or the connection closes.
   */
  onRequest(method: string, params: JsonObject | undefined, signal: CallSignal): Promise<JsonObject>;
}

/**
 * Which generation of MCP a server speaks ("Basic › Versioning › Terminology"): `legacy`
 * revisions (2025-11-25 and older) open a session with `initialize`; `modern` ones (2026-07-28
 * on) carry version, capabilities and client identity in every request's `_meta`.
 */
export type ProtocolEra = "legacy" | "modern";

/**
 * The parts of the server's `initialize` result (legacy) or `server/discover` result (modern)
 * that routing needs.
 */
export interface UpstreamIdentity {
  /**
   * How the connection talks to the server. A modern server's results pass through as it wrote
   * them (`resultType` included); an `InputRequiredResult` (`resultType: "input_required"`,
   * "Patterns › Multi Round-Trip Requests") also comes back as-is from `request`/`forward`:
   * bridging it to a legacy client's session is the caller's job (the router, where a result
   * of a modern connection returns to its caller).
   */
  readonly era: ProtocolEra;
  /** The negotiated legacy version, or the modern version every request declares. */
  readonly protocolVersion: string;
  readonly capabilities: JsonObject;
  readonly serverInfo: { readonly name: string; readonly version: string } & JsonObject;
  readonly instructions?: string;
}

/** One initialized connection to a server process. Closed when the process stops. */
export interface UpstreamConnection {
  /** The configured server name. */
  readonly serverName: string;
  readonly identity: UpstreamIdentity;
  /** Resolves with the `result` object, rejects with `UpstreamRpcError` or a `GatewayError` (unavailable when the process went away). */
  request(method: string, params: JsonObject | undefined, options?: UpstreamRequestOptions): Promise<JsonObject>;
  /**
   * `request` for a caller that forwards the result untouched to a client: a large result may then come as `RawJson`
   * (the bytes the server wrote), which costs nothing to forward.
   */
  forward(method: string, params: JsonObject | undefined, options?: UpstreamRequestOptions): Promise<UpstreamResult>;
  notify(method: string, params?: JsonObject): void;
  /** Replaces the handlers for server-initiated traffic; the supervisor's defaults answer `ping` and reject the rest. */
  setHandlers(handlers: UpstreamHandlers): void;
  /** Aborts when the connection closes (process exit, stop, restart). */
  readonly closed: AbortSignal;
}
