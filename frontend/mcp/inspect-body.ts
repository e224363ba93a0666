/** What the frontend needs to know about a POST body, found by parsing it once. */
export interface BodyShape {
  /** The body is a JSON array (a JSON-RPC batch, 2025-03-26 and older). */
  readonly batch: boolean;
  /**
   * The body holds something that will be answered: a request, or anything that is neither a notification nor a
   * response (the daemon answers those with an error). False means 202 Accepted once the daemon took it.
   */
  readonly owesAnswers: boolean;
  /** The body is (or its batch holds) an `initialize` request: the one POST allowed without a session. */
  readonly initialize: boolean;
  /** `params.protocolVersion` of that initialize request, when it is a string. */
  readonly requestedVersion: string | undefined;
  /** The parsed body, for the era rule (frontend/modern/request-checks.ts), so that nothing parses it twice. */
  readonly value: unknown;
}

/**
 * Parses a POST body. Returns undefined when it is not JSON at all (the frontend answers -32700 itself); any JSON
 * value is forwarded, and JSON-RPC-level validation (-32600 and friends) stays with the daemon's session engine.
 */
export function inspectBody(bytes: Buffer): BodyShape | undefined {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString("utf8"));
  } catch {
    return undefined;
  }
  if (Array.isArray(value)) {
    let owesAnswers = value.length === 0;
    let initialize = false;
    let requestedVersion: string | undefined;
    for (const item of value) {
      if (owes(item)) owesAnswers = true;
      if (isInitialize(item)) {
        initialize = true;
        requestedVersion ??= versionOf(item);
      }
    }
    return { batch: true, owesAnswers, initialize, requestedVersion, value };
  }
  const initialize = isInitialize(value);
  return { batch: false, owesAnswers: owes(value), initialize, requestedVersion: initialize ? versionOf(value) : undefined, value };
}

function owes(item: unknown): boolean {
  if (typeof item !== "object" || item === null || Array.isArray(item)) return true;
  const message = item as Record<string, unknown>;
  if (typeof message.method === "string") return "id" in message;
  const isResponse = ("result" in message || "error" in message) && "id" in message;
  return !isResponse;
}

function isInitialize(item: unknown): boolean {
  return typeof item === "object" && item !== null && (item as { method?: unknown }).method === "initialize" && "id" in item;
}

function versionOf(item: unknown): string | undefined {
  const params = (item as { params?: unknown }).params;
  if (typeof params !== "object" || params === null) return undefined;
  const version = (params as { protocolVersion?: unknown }).protocolVersion;
  return typeof version === "string" ? version : undefined;
}

/** True when a daemon message is a JSON-RPC response (result or error, no method): JSON mode collects only these. */
export function isResponseMessage(json: Uint8Array): boolean {
  try {
    const value = JSON.parse(Buffer.from(json.buffer, json.byteOffset, json.byteLength).toString("utf8")) as Record<string, unknown>;
    return typeof value === "object" && value !== null && !("method" in value) && ("result" in value || "error" in value);
  } catch {
    return false;
  }
}
