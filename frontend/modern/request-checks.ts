import type { IncomingHttpHeaders } from "node:http";
import { ALL_PROTOCOL_VERSIONS, META, MODERN_ERROR, isModernProtocolVersion } from "../../shared/mcp-modern.js";

/** A modern POST body as the frontend needs it: parsed once by `inspectBody`'s caller, read here. */
export interface ModernMessage {
  /** The JSON-RPC id; undefined for a notification. */
  readonly id: string | number | undefined;
  readonly method: string;
  readonly params: Record<string, unknown>;
  /** `_meta["io.modelcontextprotocol/protocolVersion"]`. */
  readonly version: string;
}

/** A refusal the frontend answers itself, as the 2026-07-28 Streamable HTTP binding requires. */
export interface ModernRefusal {
  readonly status: number;
  readonly body: string;
}

/** Methods whose `Mcp-Name` header mirrors `params.name` or `params.uri` ("Standard Request Headers"). */
const NAMED: Readonly<Record<string, "name" | "uri">> = { "tools/call": "name", "prompts/get": "name", "resources/read": "uri" };

/**
 * The era rule for a POST without `Mcp-Session-Id` that is not `initialize`: it is modern when it is one JSON-RPC
 * message whose `_meta` names a protocol version (any string: a version the gateway does not speak still gets the
 * modern `UnsupportedProtocolVersionError`). Legacy clients never put a version in `_meta`.
 */
export function modernMessageOf(value: unknown): ModernMessage | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const message = value as Record<string, unknown>;
  if (typeof message.method !== "string") return undefined;
  const params = message.params;
  if (typeof params !== "object" || params === null || Array.isArray(params)) return undefined;
  const meta = (params as Record<string, unknown>)._meta;
  if (typeof meta !== "object" || meta === null || Array.isArray(meta)) return undefined;
  const version = (meta as Record<string, unknown>)[META.protocolVersion];
  if (typeof version !== "string") return undefined;
  const id = typeof message.id === "string" || typeof message.id === "number" ? message.id : undefined;
  return { id, method: message.method, params: params as Record<string, unknown>, version };
}

/**
 * Checks a modern request's headers against its body ("Transports › Streamable HTTP › Server Validation") and its
 * version against what the gateway speaks ("Versioning"): a missing or different `MCP-Protocol-Version`,
 * `Mcp-Method` or `Mcp-Name` is -32020, an unsupported version -32022 with `supported` and `requested`, a missing
 * `clientCapabilities` -32602; each with HTTP 400. Undefined when the request may go on.
 */
export function checkModernRequest(message: ModernMessage, headers: IncomingHttpHeaders): ModernRefusal | undefined {
  const id = message.id ?? null;
  const headerVersion = single(headers["mcp-protocol-version"]);
  if (headerVersion === undefined) return mismatch(id, "Header mismatch: the MCP-Protocol-Version header is required");
  if (headerVersion !== message.version) {
    return mismatch(id, `Header mismatch: MCP-Protocol-Version header value '${clip(headerVersion)}' does not match body value '${clip(message.version)}'`);
  }
  if (!isModernProtocolVersion(message.version)) {
    return refusal(id, MODERN_ERROR.unsupportedProtocolVersion, "Unsupported protocol version", {
      supported: ALL_PROTOCOL_VERSIONS,
      requested: message.version,
    });
  }
  if (message.id === undefined) return undefined; // notification POSTs: header requirements are not defined
  const method = single(headers["mcp-method"]);
  if (method === undefined) return mismatch(id, "Header mismatch: the Mcp-Method header is required");
  if (method !== message.method) {
    return mismatch(id, `Header mismatch: Mcp-Method header value '${clip(method)}' does not match body value '${clip(message.method)}'`);
  }
  const field = NAMED[message.method];
  if (field !== undefined) {
    const raw = single(headers["mcp-name"]);
    if (raw === undefined) return mismatch(id, "Header mismatch: the Mcp-Name header is required");
    const name = decodeHeaderValue(raw);
    if (name === undefined) return mismatch(id, "Header mismatch: the Mcp-Name header is not validly encoded");
    const body = message.params[field];
    if (name !== body) {
      return mismatch(id, `Header mismatch: Mcp-Name header value '${clip(name)}' does not match body value '${clip(String(body))}'`);
    }
  }
  const meta = message.params._meta as Record<string, unknown>;
  const capabilities = meta[META.clientCapabilities];
  if (typeof capabilities !== "object" || capabilities === null || Array.isArray(capabilities)) {
    return refusal(id, -32602, `Invalid params: _meta["${META.clientCapabilities}"] is required`);
  }
  return undefined;
}

/** The HTTP status a modern error answer goes out with: 400 for the revision's protocol errors, 404 for -32601. */
export function statusOfModernError(code: number): number {
  if (code === MODERN_ERROR.headerMismatch || code === MODERN_ERROR.missingRequiredClientCapability || code === MODERN_ERROR.unsupportedProtocolVersion) {
    return 400;
  }
  return code === -32601 ? 404 : 200;
}

/** A header value in the Base64 sentinel form (`=?base64?…?=`) decoded; plain values as they are. */
function decodeHeaderValue(value: string): string | undefined {
  const match = /^=\?base64\?([A-Za-z0-9+/]*={0,2})\?=$/.exec(value);
  if (!match) return value.startsWith("=?base64?") && value.endsWith("?=") ? undefined : value;
  const bytes = Buffer.from(match[1]!, "base64");
  const text = new TextDecoder("utf-8", { fatal: true });
  try {
    return text.decode(bytes);
  } catch {
    return undefined;
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** Client text echoed in a message, bounded. */
function clip(text: string): string {
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}

function mismatch(id: string | number | null, message: string): ModernRefusal {
  return refusal(id, MODERN_ERROR.headerMismatch, message);
}

function refusal(id: string | number | null, code: number, message: string, data?: unknown): ModernRefusal {
  const error = data === undefined ? { code, message } : { code, message, data };
  return { status: 400, body: JSON.stringify({ jsonrpc: "2.0", id, error }) };
}
