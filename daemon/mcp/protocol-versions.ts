/**
 * Protocol version negotiation (MCP 2025-11-25 "Base Protocol › Lifecycle › Version
 * Negotiation"): if the server supports the version the client asked for it MUST answer
 * with the same; otherwise it answers with its latest and the client decides whether to go on.
 */

/** The revisions the engine speaks, newest first. */
export const SUPPORTED_PROTOCOL_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"] as const;

/** The newest revision. */
export const LATEST_PROTOCOL_VERSION: string = SUPPORTED_PROTOCOL_VERSIONS[0];

/** The version to answer a client that asked for `requested`. */
export function negotiateProtocolVersion(requested: string): string {
  return (SUPPORTED_PROTOCOL_VERSIONS as readonly string[]).includes(requested) ? requested : LATEST_PROTOCOL_VERSION;
}
