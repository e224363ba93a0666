/**
 * Protocol revisions whose `MCP-Protocol-Version` header the frontend accepts after initialization; anything else
 * is 400 (2025-11-25 "Transports" › "Protocol Version Header"). The same list as the MCP SDK's
 * `SUPPORTED_PROTOCOL_VERSIONS`; which one a session actually speaks is the daemon's negotiation.
 */
export const SUPPORTED_PROTOCOL_VERSIONS: ReadonlySet<string> = new Set([
  "2025-11-25",
  "2025-06-18",
  "2025-03-26",
  "2024-11-05",
  "2024-10-07",
]);

/** Assumed when a client sends no `MCP-Protocol-Version` header (the spec says: assume 2025-03-26). */
export const DEFAULT_PROTOCOL_VERSION = "2025-03-26";

/**
 * The first revision whose clients handle an SSE event with an id and empty data (the "priming" event that lets a
 * client resume a POST stream, SEP-1699); older clients try to JSON.parse("") and fail, so they never get one.
 */
export const PRIMING_MIN_VERSION = "2025-11-25";
