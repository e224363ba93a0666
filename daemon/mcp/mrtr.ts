/**
 * The vocabulary of multi round-trip requests (MCP 2026-07-28 "Basic › Patterns › Multi Round-Trip Requests") that
 * both bridges share: which results ask for input, which requests may carry it, and which server-to-client requests an
 * `InputRequests` map may hold. One copy, so the bridge towards legacy clients (mrtr-legacy-caller.ts) and the one
 * towards modern clients (mrtr-held-calls.ts) can never disagree on a shape.
 */
import { RawJson, type UpstreamResult } from "../upstream/raw-json.js";
import type { JsonObject } from "../upstream/json-object.js";

/** The `resultType` of an `InputRequiredResult`. */
export const INPUT_REQUIRED = "input_required";

/** The client requests a server may answer with an `InputRequiredResult` ("Supported Requests"); no others. */
export const MRTR_METHODS: ReadonlySet<string> = new Set(["tools/call", "prompts/get", "resources/read"]);

/** The requests an `InputRequests` map may carry (`ElicitRequest`, `CreateMessageRequest`, `ListRootsRequest`). */
export const INPUT_REQUEST_METHODS: ReadonlySet<string> = new Set(["elicitation/create", "sampling/createMessage", "roots/list"]);

/**
 * How many rounds one call may take before the gateway gives up on a server that keeps asking (a server MAY ask
 * again on every attempt, "Server Requirements" 8; the SDK clients bound it the same way).
 */
export const MAX_INPUT_ROUNDS = 10;

/** One entry of an `InputRequests` map. */
export interface InputRequest {
  readonly method: string;
  readonly params?: JsonObject;
}

/** An `InputRequiredResult` as the bridges read it. */
export interface InputRequired {
  readonly inputRequests: ReadonlyMap<string, InputRequest>;
  readonly requestState?: string;
}

const MARKER = Buffer.from(`"${INPUT_REQUIRED}"`);

/**
 * The result as an `InputRequiredResult`, or undefined for any other result. A large result the caller forwards
 * (`RawJson`) is parsed only when its bytes contain the marker at all, so ordinary large results stay unparsed.
 */
export function asInputRequired(result: UpstreamResult): JsonObject | undefined {
  let object: JsonObject;
  if (result instanceof RawJson) {
    if (!rawMentions(result, MARKER)) return undefined;
    object = result.parse();
  } else object = result;
  return object.resultType === INPUT_REQUIRED ? object : undefined;
}

function rawMentions(raw: RawJson, marker: Buffer): boolean {
  let carry: Buffer = Buffer.alloc(0);
  for (const piece of raw.pieces) {
    const window = carry.length > 0 ? Buffer.concat([carry, piece.subarray(0, marker.length)]) : undefined;
    if (window?.includes(marker) || piece.includes(marker)) return true;
    carry = piece.subarray(Math.max(0, piece.length - marker.length + 1));
  }
  return false;
}

/** Whether `value` is a JSON object (not null, not an array). */
export function isJsonObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
