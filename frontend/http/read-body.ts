import type { IncomingMessage } from "node:http";
import { HttpError } from "./http-error.js";

/**
 * Reads a request body into one Buffer, refusing more than `limit` bytes with 413. The frontend needs the exact
 * bytes (they are forwarded to the daemon untouched) and parses them once, so no body-parser library is used.
 * A declared Content-Length above the limit is refused before reading anything. Read through the stream's events
 * rather than its async iterator: this is on every POST, and the iterator's promise per chunk showed in profiles.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(tooLarge(limit));
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (): void => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        stop();
        req.pause();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      stop();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (error: Error): void => {
      stop();
      reject(error);
    };
    // A client that goes away mid-body: 'close' without 'end' (and, on newer Node, an 'aborted' error first).
    const onClose = (): void => {
      stop();
      reject(new Error("the request was aborted before its body ended"));
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}

function tooLarge(limit: number): HttpError {
  // The rest of the body is not read: closing the connection keeps a huge upload from being drained.
  return new HttpError(413, `request body larger than ${limit} bytes`, { headers: { Connection: "close" } });
}
