import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse, ServerHttp2Stream } from "node:http2";
import { OPEN_SESSION_PATH, decodeOpenSessionRequest, encodeOpenSessionResponseParts } from "../../shared/open-session-wire/codec.js";
import { EnvelopeReader, FLAG_COMPRESSED, encodeEndStream } from "../../shared/open-session-wire/envelope.js";
import type { OpenSessionLoop, OpenSessionSink } from "./open-session-loop.js";

/**
 * `McpService.OpenSession` over the Connect protocol's binary streaming form, carried straight on the HTTP/2
 * stream. Profiled (bench/README.md), the generic connect-node path — async iterables, reflective protobuf — cost
 * about two thirds of the daemon's CPU per MCP message; this carrier does the same work with one decode and one
 * encode per frame. It takes only what it serves exactly: HTTP/2, `application/connect+proto`, no compression, no
 * `connect-timeout-ms`. gRPC, gRPC-Web, the JSON codec, compressed or deadline-bound calls go to connect-node, and
 * so does everything on the TCP listener (whose bearer check is a connect interceptor). Both carriers feed the same
 * session loop (open-session-loop.ts), which holds the rules; this file only moves bytes.
 */

/** A request handler that may take a request before connect-node sees it; true when it did. */
export type FastPath = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => boolean;

/** Options of the fast path. */
export interface OpenSessionFastPathOptions {
  /** Largest client envelope accepted (a JSON-RPC message); larger ends the stream with `resource_exhausted`. */
  readonly maxMessageBytes?: number;
}

/** Largest client envelope accepted by default: a JSON-RPC message from a client can be big, but not unbounded. */
const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

/** Builds the fast path; `openLoop` gives each stream its session loop. */
export function createOpenSessionFastPath(openLoop: (sink: OpenSessionSink) => OpenSessionLoop, options: OpenSessionFastPathOptions = {}): FastPath {
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  return (req) => {
    if (req.httpVersionMajor !== 2 || req.method !== "POST" || req.url !== OPEN_SESSION_PATH) return false;
    const headers = req.headers;
    if (headers["content-type"] !== "application/connect+proto") return false;
    const encoding = headers["connect-content-encoding"];
    if ((encoding !== undefined && encoding !== "identity") || headers["connect-timeout-ms"] !== undefined) return false;
    carry((req as Http2ServerRequest).stream, openLoop, maxMessageBytes);
    return true;
  };
}

function carry(stream: ServerHttp2Stream, openLoop: (sink: OpenSessionSink) => OpenSessionLoop, maxMessageBytes: number): void {
  stream.respond({ ":status": 200, "content-type": "application/connect+proto" });
  const reader = new EnvelopeReader(maxMessageBytes);
  const loop = openLoop({
    write(frame) {
      const parts = encodeOpenSessionResponseParts(frame, true);
      if (parts.length === 1) stream.write(parts[0]);
      else {
        // A large result leaves as its frame's prefix, the server's own pieces and the suffix: one writev.
        stream.cork();
        for (const part of parts) stream.write(part);
        stream.uncork();
      }
    },
    queuedBytes: () => stream.writableLength,
    end(failure) {
      if (!stream.destroyed && !stream.writableEnded) stream.end(encodeEndStream(failure));
    },
  });

  const onEnvelope = (flags: number, payload: Buffer): void => {
    if (loop.finished) return;
    if (flags & FLAG_COMPRESSED) return loop.fail({ code: "internal", message: "received a compressed message without a message encoding" });
    let frame;
    try {
      frame = decodeOpenSessionRequest(payload);
    } catch (error) {
      return loop.fail({ code: "invalid_argument", message: `malformed OpenSessionRequest: ${(error as Error).message}` });
    }
    loop.receive(frame);
  };

  stream.on("data", (chunk: Buffer) => {
    if (loop.finished) return;
    try {
      reader.push(chunk, onEnvelope);
    } catch (error) {
      // The envelope reader refuses an envelope over the size limit.
      loop.fail({ code: "resource_exhausted", message: (error as Error).message });
    }
  });
  // The client half-closed: the session ends with it (its calls are cancelled) and so does our side.
  stream.on("end", () => loop.inputEnded(reader.partial));
  stream.on("close", () => loop.abort());
  stream.on("error", () => undefined);
}
