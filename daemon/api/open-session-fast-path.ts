import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse, ServerHttp2Stream } from "node:http2";
import { hopTiming } from "../../shared/hop-timing.js";
import type { Logger } from "../../shared/logger.js";
import {
  OPEN_SESSION_PATH,
  decodeOpenSessionRequest,
  encodeOpenSessionResponseParts,
  type JsonPayload,
  type OpenSessionResponseFrame,
} from "../../shared/open-session-wire/codec.js";
import { EnvelopeReader, FLAG_COMPRESSED, encodeEndStream, type ConnectWireCode } from "../../shared/open-session-wire/envelope.js";
import type { McpEngine } from "../mcp/engine.js";
import type { McpSession, SessionFrame } from "../mcp/session.js";

/**
 * `McpService.OpenSession` over the Connect protocol's binary streaming form, served straight on the HTTP/2
 * stream. Profiled (bench/README.md), the generic connect-node path — async iterables, reflective protobuf —
 * cost about two thirds of the daemon's CPU per MCP message; this path does the same work with one decode and one
 * encode per frame. It takes only what it serves exactly: HTTP/2, `application/connect+proto`, no compression, no
 * `connect-timeout-ms`. gRPC, gRPC-Web, the JSON codec, compressed or deadline-bound calls go to connect-node, and
 * so does everything on the TCP listener (whose bearer check is a connect interceptor). Same behaviour as the
 * generic handler in mcp-service.ts: the first message must be a SessionStart, only the first; the session ends
 * with the stream and the stream with the session.
 */

/** A request handler that may take a request before connect-node sees it; true when it did. */
export type FastPath = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => boolean;

/** Options of the fast path. */
export interface OpenSessionFastPathOptions {
  readonly logger: Logger;
  /** Largest client envelope accepted (a JSON-RPC message); larger ends the stream with `resource_exhausted`. */
  readonly maxMessageBytes?: number;
  /** Unsent bytes a client may leave queued before its stream is ended (back-pressure without unbounded buffers). */
  readonly maxQueuedBytes?: number;
}

const transportNames = ["unspecified", "streamable-http", "sse", "stdio"];

class StreamFailure extends Error {
  constructor(
    readonly code: ConnectWireCode,
    message: string,
  ) {
    super(message);
  }
}

/** Builds the fast path over `engine`. */
export function createOpenSessionFastPath(engine: McpEngine, options: OpenSessionFastPathOptions): FastPath {
  const maxMessageBytes = options.maxMessageBytes ?? 256 * 1024 * 1024;
  const maxQueuedBytes = options.maxQueuedBytes ?? 512 * 1024 * 1024;
  return (req) => {
    if (req.httpVersionMajor !== 2 || req.method !== "POST" || req.url !== OPEN_SESSION_PATH) return false;
    const headers = req.headers;
    if (headers["content-type"] !== "application/connect+proto") return false;
    const encoding = headers["connect-content-encoding"];
    if ((encoding !== undefined && encoding !== "identity") || headers["connect-timeout-ms"] !== undefined) return false;
    serve((req as Http2ServerRequest).stream, engine, options.logger, maxMessageBytes, maxQueuedBytes);
    return true;
  };
}

function serve(stream: ServerHttp2Stream, engine: McpEngine, logger: Logger, maxMessageBytes: number, maxQueuedBytes: number): void {
  stream.respond({ ":status": 200, "content-type": "application/connect+proto" });
  const reader = new EnvelopeReader(maxMessageBytes);
  // Only with hop timing on: when each exchange's message was read, until its final answer is written.
  const receivedAt = hopTiming.enabled ? new Map<bigint, number>() : undefined;
  let session: McpSession | undefined;
  let finished = false;

  const finish = (error?: StreamFailure): void => {
    if (finished) return;
    finished = true;
    session?.close();
    if (!stream.destroyed && !stream.writableEnded) stream.end(encodeEndStream(error && { code: error.code, message: error.message }));
  };

  const onFrame = (frame: SessionFrame): void => {
    if (finished) return;
    if (receivedAt && frame.kind === "message" && frame.exchangeComplete) {
      const at = receivedAt.get(frame.exchangeId);
      if (at !== undefined) {
        receivedAt.delete(frame.exchangeId);
        hopTiming.record("daemon.session", at);
      }
    }
    const parts = encodeOpenSessionResponseParts(frame satisfies OpenSessionResponseFrame<JsonPayload>, true);
    if (parts.length === 1) stream.write(parts[0]);
    else {
      stream.cork();
      for (const part of parts) stream.write(part);
      stream.uncork();
    }
    if (frame.kind === "ended") finish();
    else if (stream.writableLength > maxQueuedBytes) {
      finish(new StreamFailure("resource_exhausted", "the session's client fell behind; reconnect"));
    }
  };

  const onEnvelope = (flags: number, payload: Buffer): void => {
    if (finished) return;
    if (flags & FLAG_COMPRESSED) throw new StreamFailure("internal", "received a compressed message without a message encoding");
    let frame;
    try {
      frame = decodeOpenSessionRequest(payload);
    } catch (error) {
      throw new StreamFailure("invalid_argument", `malformed OpenSessionRequest: ${(error as Error).message}`);
    }
    if (session === undefined) {
      if (frame.kind !== "start") throw new StreamFailure("invalid_argument", "the first OpenSession message must be a SessionStart");
      session = engine.openSession({
        transportSessionId: frame.sessionId,
        transport: transportNames[frame.transport] ?? "unspecified",
        onFrame,
      });
      return;
    }
    if (frame.kind !== "message") throw new StreamFailure("invalid_argument", "SessionStart may only be the first OpenSession message");
    receivedAt?.set(frame.exchangeId, hopTiming.now());
    session.receive(frame.exchangeId, frame.json);
  };

  stream.on("data", (chunk: Buffer) => {
    try {
      reader.push(chunk, onEnvelope);
    } catch (error) {
      const failure =
        error instanceof StreamFailure ? error : new StreamFailure("resource_exhausted", (error as Error).message);
      logger.debug({ err: failure.message }, "OpenSession stream refused");
      finish(failure);
    }
  });
  // The client half-closed: the session ends with it (its calls are cancelled) and so does our side.
  stream.on("end", () => {
    if (session === undefined) finish(new StreamFailure("invalid_argument", "the first OpenSession message must be a SessionStart"));
    else finish(reader.partial ? new StreamFailure("invalid_argument", "the request stream ended inside a message") : undefined);
  });
  stream.on("close", () => {
    finished = true;
    session?.close();
  });
  stream.on("error", () => undefined);
}
