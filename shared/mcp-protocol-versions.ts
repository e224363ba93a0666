/**
 * The MCP protocol revisions the gateway speaks, in one list for every part that checks one: the daemon's session
 * engine negotiates a client's version from it, the daemon's upstream side accepts a server's `initialize` answer
 * from it, and the frontend accepts an `MCP-Protocol-Version` header from it. Three copies used to differ (the
 * frontend also accepted `2024-10-07`, a pre-release the daemon never negotiated); a revision added here is added
 * everywhere at once.
 */

/** The revisions the gateway speaks, newest first (MCP 2025-11-25 "Base Protocol › Versioning"). */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly string[] = Object.freeze(["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"]);

/**
 * The modern revisions (2026-07-28 on: no `initialize`, every request carries its version in `_meta`), newest first.
 * Kept apart from `SUPPORTED_PROTOCOL_VERSIONS`, which lists the legacy revisions a session negotiates: the upstream
 * side speaks these to modern servers (daemon/upstream/modern-era.ts).
 */
export const MODERN_PROTOCOL_VERSIONS: readonly string[] = Object.freeze(["2026-07-28"]);

/** The newest revision: what the gateway asks servers for and answers a client whose version it does not speak. */
export const LATEST_PROTOCOL_VERSION: string = SUPPORTED_PROTOCOL_VERSIONS[0]!;

/**
 * What a Streamable HTTP request without an `MCP-Protocol-Version` header is taken to speak: the spec says to assume
 * 2025-03-26 (2025-11-25 "Transports › Protocol Version Header").
 */
export const DEFAULT_HTTP_PROTOCOL_VERSION = "2025-03-26";

/**
 * The first revision whose clients handle an SSE event with an id and empty data (the "priming" event that lets a
 * client resume a POST stream, SEP-1699); older clients try to JSON.parse("") and fail, so they never get one.
 */
export const PRIMING_MIN_VERSION = "2025-11-25";

const supported: ReadonlySet<string> = new Set(SUPPORTED_PROTOCOL_VERSIONS);

/** Whether the gateway speaks `version`. */
export function isSupportedProtocolVersion(version: string): boolean {
  return supported.has(version);
}

/**
 * The version to answer a client that asked for `requested` (2025-11-25 "Lifecycle › Version Negotiation"): the
 * same when supported, else the latest, and the client decides whether to go on.
 */
export function negotiateProtocolVersion(requested: string): string {
  return supported.has(requested) ? requested : LATEST_PROTOCOL_VERSION;
}
