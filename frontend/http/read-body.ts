import type { IncomingMessage } from "node:http";
import { HttpError } from "./http-error.js";

/**
 * Reads a request body into one Buffer, refusing more than `limit` bytes with 413. The frontend needs the exact
 * bytes (they are forwarded to the daemon untouched) and parses them once, so no body-parser library is used.
 * A declared Content-Length above the limit is refused before reading anything.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
}

function tooLarge(limit: number): HttpError {
  // The rest of the body is not read: closing the connection keeps a huge upload from being drained.
  return new HttpError(413, `request body larger than ${limit} bytes`, { headers: { Connection: "close" } });
}
