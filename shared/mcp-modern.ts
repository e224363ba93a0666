/**
 * The vocabulary of the modern MCP revision (2026-07-28 on) that both processes need: the reserved `_meta` keys a
 * stateless request carries instead of an `initialize` handshake, and the protocol error codes the revision
 * defines. The frontend decides a request's era and validates its headers with them; the daemon answers modern
 * requests and speaks to modern servers with them. One copy, so the two sides can never disagree on a key.
 */
import { MODERN_PROTOCOL_VERSIONS, SUPPORTED_PROTOCOL_VERSIONS } from "./mcp-protocol-versions.js";

/** The reserved `_meta` keys ("Basic › _meta › Per-request protocol fields", "Subscriptions", "Logging"). */
export const META = {
  protocolVersion: "io.modelcontextprotocol/protocolVersion",
  clientCapabilities: "io.modelcontextprotocol/clientCapabilities",
  clientInfo: "io.modelcontextprotocol/clientInfo",
  logLevel: "io.modelcontextprotocol/logLevel",
  subscriptionId: "io.modelcontextprotocol/subscriptionId",
  serverInfo: "io.modelcontextprotocol/serverInfo",
} as const;

/** The error codes the 2026-07-28 revision allocates ("Basic › Error Codes"); each goes out with HTTP 400. */
export const MODERN_ERROR = {
  /** `HeaderMismatch`: a mirrored header is missing, malformed or differs from the body. */
  headerMismatch: -32020,
  /** `MissingRequiredClientCapability`: `data.requiredCapabilities` names what the client did not declare. */
  missingRequiredClientCapability: -32021,
  /** `UnsupportedProtocolVersion`: `data.supported` and `data.requested`. */
  unsupportedProtocolVersion: -32022,
} as const;

/**
 * Every revision the gateway answers, modern first: what `server/discover` lists in `supportedVersions` and an
 * `UnsupportedProtocolVersionError` in `data.supported`. The gateway is dual-era, so the legacy revisions are
 * listed too (the spec's own example of the error lists a legacy one beside the modern one).
 */
export const ALL_PROTOCOL_VERSIONS: readonly string[] = Object.freeze([...MODERN_PROTOCOL_VERSIONS, ...SUPPORTED_PROTOCOL_VERSIONS]);

const modern: ReadonlySet<string> = new Set(MODERN_PROTOCOL_VERSIONS);

/** Whether `version` is a modern revision the gateway serves statelessly. */
export function isModernProtocolVersion(version: unknown): version is string {
  return typeof version === "string" && modern.has(version);
}

