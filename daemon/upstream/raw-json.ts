import type { JsonObject } from "./json-object.js";

/**
 * A JSON object kept as the bytes a server wrote, for a result the gateway forwards untouched (MCP results pass
 * through: `structuredContent`, `_meta`, annotations…). The stdio transport makes one only for a large response
 * line whose bytes it has validated (json-object-scan.ts), and the connection hands it only to a caller that asked
 * for results to forward: the session engine then sends these bytes to the client without decoding or copying them.
 */
export class RawJson {
  constructor(
    /** The bytes, in order: slices of the chunks the pipe delivered. */
    readonly pieces: readonly Buffer[],
    readonly byteLength: number,
  ) {}

  /** The object itself, for a reader that needs its fields. */
  parse(): JsonObject {
    return JSON.parse(Buffer.concat(this.pieces, this.byteLength).toString("utf8")) as JsonObject;
  }

  /** Serialising it by accident still gives the right JSON (slowly). */
  toJSON(): JsonObject {
    return this.parse();
  }
}

/** A result as a forwarding caller gets it: parsed, or (large ones over stdio) the server's own bytes. */
export type UpstreamResult = JsonObject | RawJson;

/** A result as an object, for callers that read it rather than forward it (typed RPCs). */
export function parsedResult(result: UpstreamResult): JsonObject {
  return result instanceof RawJson ? result.parse() : result;
}
