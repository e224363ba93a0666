import { MODERN_PROTOCOL_VERSIONS } from "../../shared/mcp-protocol-versions.js";
import { UpstreamRpcError, type JsonObject, type UpstreamIdentity } from "./types.js";

/**
 * What the gateway needs to speak the modern MCP revision (2026-07-28) to a server: the
 * per-request `_meta` keys that replace the `initialize` handshake ("Basic › General fields ›
 * _meta"), the stamping of those keys onto every request, and the reading of a
 * `server/discover` answer — both the identity it gives and the era verdict the stdio
 * binding derives from it ("Transports › stdio › Backward Compatibility").
 *
 * The modern versions themselves are in the one list of protocol versions (shared/).
 */

/** The reserved `_meta` keys of a modern request: one list for the whole gateway (shared/mcp-modern.ts). */
export { META } from "../../shared/mcp-modern.js";
import { META } from "../../shared/mcp-modern.js";
import { extensibleCopy, withField } from "../../shared/object-copy.js";

/** `UnsupportedProtocolVersionError` ("Versioning › Protocol Version Negotiation"): a recognised modern error. */
export const UNSUPPORTED_PROTOCOL_VERSION_CODE = -32022;

/** What the gateway stamps onto every request to one modern server. */
export interface ModernStamp {
  readonly protocolVersion: string;
  readonly clientCapabilities: JsonObject;
  readonly clientInfo: { readonly name: string; readonly version: string };
  /** The level the gateway forwards (the most verbose any session asked for), unless the request names its own. */
  readonly logLevel?: string;
}

/**
 * `params` with the modern per-request fields in `_meta`. The caller's own `_meta` keys stay
 * (`progressToken`, `traceparent`, `tracestate`, `baggage`, a modern client's
 * `io.modelcontextprotocol/logLevel`); version, capabilities and identity are always the
 * gateway's, because the gateway is the server's client — a session's own claims are never
 * passed on as if they were the gateway's.
 */
export function stampModernRequest(params: JsonObject | undefined, stamp: ModernStamp): JsonObject {
  const callerMeta = params?._meta;
  const meta: JsonObject = callerMeta !== null && typeof callerMeta === "object" && !Array.isArray(callerMeta) ? extensibleCopy(callerMeta as JsonObject) : {};
  meta[META.protocolVersion] = stamp.protocolVersion;
  meta[META.clientCapabilities] = stamp.clientCapabilities;
  meta[META.clientInfo] = stamp.clientInfo;
  if (stamp.logLevel !== undefined && typeof meta[META.logLevel] !== "string") meta[META.logLevel] = stamp.logLevel;
  return withField(params ?? {}, "_meta", meta);
}

/**
 * A notification's params without the `io.modelcontextprotocol/subscriptionId` tag: it names
 * one of the connection's own `subscriptions/listen` requests (an upstream id, meaningless to
 * any session), so a modern server's `…/list_changed` and `resources/updated` go on looking
 * exactly like a legacy server's. Everything else in the params stays untouched.
 */
export function withoutSubscriptionTag(params: JsonObject | undefined): JsonObject | undefined {
  const meta = params?._meta;
  if (!isObject(meta) || !(META.subscriptionId in meta)) return params;
  const { [META.subscriptionId]: _tag, ...rest } = meta;
  const { _meta: _old, ...others } = params!;
  return Object.keys(rest).length > 0 ? withField(others, "_meta", rest) : others;
}

/** The era verdict of one `server/discover` probe answer. */
export type ProbeVerdict =
  | { readonly kind: "modern"; readonly identity: UpstreamIdentity }
  /** The server is modern but wants another modern version we also speak: ask again with it. */
  | { readonly kind: "retry"; readonly version: string }
  /** A modern server that speaks none of our modern versions: neither era can talk to it. */
  | { readonly kind: "incompatible"; readonly supported: readonly string[] }
  | { readonly kind: "legacy" };

/**
 * Classifies a probe's answer as the stdio binding says: a `DiscoverResult` naming a version
 * we speak is modern; a recognised modern error (`-32022` with a `supported` list) is modern
 * too — retried once with a mutual version, never a reason to fall back; anything else
 * (another error, a result that is not a `DiscoverResult`) is legacy. The fallback is never
 * keyed to one error code: legacy servers answer unknown pre-`initialize` methods with
 * whatever they like.
 */
export function classifyProbeAnswer(answer: { result: JsonObject } | { error: unknown }): ProbeVerdict {
  if ("result" in answer) {
    const result = answer.result;
    const versions = Array.isArray(result.supportedVersions) ? result.supportedVersions.filter((v): v is string => typeof v === "string") : undefined;
    if (versions === undefined || !isObject(result.capabilities)) return { kind: "legacy" };
    const mutual = MODERN_PROTOCOL_VERSIONS.find((version) => versions.includes(version));
    if (mutual === undefined) return { kind: "legacy" };
    return { kind: "modern", identity: identityFromDiscover(mutual, result) };
  }
  const error = answer.error;
  if (!(error instanceof UpstreamRpcError) || error.code !== UNSUPPORTED_PROTOCOL_VERSION_CODE) return { kind: "legacy" };
  const data = isObject(error.data) ? error.data : {};
  const supported = Array.isArray(data.supported) ? data.supported.filter((v): v is string => typeof v === "string") : undefined;
  if (supported === undefined) return { kind: "legacy" };
  const mutual = MODERN_PROTOCOL_VERSIONS.find((version) => supported.includes(version));
  if (mutual !== undefined) return { kind: "retry", version: mutual };
  // Only revisions of the modern form (dated after the last legacy one) make it a modern server we cannot speak to.
  if (supported.some((version) => version > "2025-11-25")) return { kind: "incompatible", supported };
  return { kind: "legacy" };
}

/** The identity of a modern server, from its `DiscoverResult` ("Server › Discovery"). */
export function identityFromDiscover(protocolVersion: string, result: JsonObject): UpstreamIdentity {
  const meta = isObject(result._meta) ? result._meta : {};
  const serverInfo = isObject(meta[META.serverInfo]) ? (meta[META.serverInfo] as JsonObject) : isObject(result.serverInfo) ? result.serverInfo : {};
  return upstreamIdentity("modern", protocolVersion, serverInfo, result);
}

/**
 * A server's identity from what it answered (`initialize` or `server/discover`): its capabilities and instructions,
 * and its `serverInfo` with a name and version that are always strings, whatever the server sent.
 */
export function upstreamIdentity(era: UpstreamIdentity["era"], protocolVersion: string, serverInfo: JsonObject, result: JsonObject): UpstreamIdentity {
  return {
    era,
    protocolVersion,
    capabilities: isObject(result.capabilities) ? result.capabilities : {},
    serverInfo: {
      ...serverInfo,
      name: typeof serverInfo.name === "string" ? serverInfo.name : "",
      version: typeof serverInfo.version === "string" ? serverInfo.version : "",
    },
    ...(typeof result.instructions === "string" ? { instructions: result.instructions } : {}),
  };
}

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
