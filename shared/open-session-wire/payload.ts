/**
 * The JSON an `OpenSession` frame carries, owned by the wire module. The daemon's MCP session engine makes one (from
 * a string, or around a server's result kept as bytes) and hands it to whichever transport carries the session,
 * without knowing how it is held or written; only this module and the codec look inside. That keeps wire concerns
 * (byte pieces, how a frame is laid out for one `writev`) out of the engine, which a future transport — a stateless
 * request path, an in-process one — can then feed without learning them.
 */

declare const splicedBrand: unique symbol;

/** JSON whose bulk is bytes a server wrote, between two strings the daemon wrote; opaque (`spliceJson` makes one). */
export type SplicedJson = { readonly [splicedBrand]: true };

/** Any JSON a frame may carry: text, bytes, or text spliced around bytes (responses only). */
export type JsonPayload = string | Uint8Array | SplicedJson;

/** Bytes held as the pieces they arrived in (a server's `RawJson` is one). */
export interface JsonBytes {
  readonly pieces: readonly Uint8Array[];
  readonly byteLength: number;
}

/** How a spliced payload is held; for the codec, which writes the bulk without copying it. */
export class SplicedLayout {
  constructor(
    readonly head: string,
    readonly body: readonly Uint8Array[],
    readonly bodyLength: number,
    readonly tail: string,
  ) {}
}

/**
 * JSON made of `head`, the bytes of `bulk` and `tail` (a response's envelope around a large result the server
 * wrote): a frame carrying it is written as its prefix, the bulk's own pieces and its suffix, never joined.
 */
export function spliceJson(head: string, bulk: JsonBytes, tail: string): SplicedJson {
  return new SplicedLayout(head, bulk.pieces, bulk.byteLength, tail) as unknown as SplicedJson;
}

/** The layout of a spliced payload, or undefined for text and plain bytes. */
export function splicedLayout(json: JsonPayload): SplicedLayout | undefined {
  return (json as unknown) instanceof SplicedLayout ? (json as unknown as SplicedLayout) : undefined;
}

const textEncoder = new TextEncoder();

/** A payload as one byte array (copies a spliced one: for the paths that need a single buffer). */
export function jsonPayloadBytes(json: JsonPayload): Uint8Array {
  if (typeof json === "string") return textEncoder.encode(json);
  const layout = splicedLayout(json);
  if (layout === undefined) return json as Uint8Array;
  return Buffer.concat([Buffer.from(layout.head, "utf8"), ...layout.body, Buffer.from(layout.tail, "utf8")]);
}

/** A payload as text (tests, logs). */
export function jsonPayloadText(json: JsonPayload): string {
  return typeof json === "string" ? json : Buffer.from(jsonPayloadBytes(json)).toString("utf8");
}

/** A payload's length in bytes, without joining or encoding it (a string is measured). */
export function jsonPayloadByteLength(json: JsonPayload): number {
  if (typeof json === "string") return Buffer.byteLength(json, "utf8");
  const layout = splicedLayout(json);
  if (layout === undefined) return (json as Uint8Array).length;
  return Buffer.byteLength(layout.head, "utf8") + layout.bodyLength + Buffer.byteLength(layout.tail, "utf8");
}
