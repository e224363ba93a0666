import { createParser, type EventSourceMessage } from "eventsource-parser";
import type { Readable } from "node:stream";
import type { JsonRpcMessage } from "./message-transport.js";
import { RAW_RESULT_MIN_BYTES, responseWithRawResult } from "./stdio-transport.js";

/**
 * Turning a remote server's HTTP bodies into JSON-RPC messages, for both HTTP transports: a
 * JSON body (one message or a batch) and a `text/event-stream` (one message per event). A large
 * response is not parsed: its `result` is delivered as `RawJson`, the bytes the server sent,
 * exactly as the stdio transport does for a large line, so a 1 MiB result crosses the gateway
 * without being decoded and encoded again. Nothing here throws: what cannot be read is reported
 * (by size only — a server's words may hold secrets) and skipped.
 */

/** Bound on one JSON body or one event, so a runaway server cannot exhaust memory (as stdio's line bound). */
export const MAX_BODY_BYTES = 256 * 1024 * 1024;

/** Where decoded messages and problems go. */
export interface MessageSink {
  message(message: JsonRpcMessage): void;
  problem(error: Error): void;
}

/** Reads a whole `application/json` body and delivers the message(s) in it. */
export async function readJsonBody(body: Readable, sink: MessageSink): Promise<void> {
  const pieces: Buffer[] = [];
  let length = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length > MAX_BODY_BYTES) {
      body.destroy();
      sink.problem(new Error(`dropped a response body longer than ${MAX_BODY_BYTES} bytes`));
      return;
    }
    pieces.push(chunk);
  }
  deliverBytes(pieces, length, sink);
}

/**
 * Reads a `text/event-stream` until it ends, delivering the JSON-RPC message of each event
 * whose type is `message` (or unnamed). `onEvent` sees every event first (the legacy SSE
 * transport takes its `endpoint` from one) and the id of each, for `Last-Event-ID`.
 */
export async function readEventStream(
  body: Readable,
  sink: MessageSink,
  onEvent?: (event: EventSourceMessage) => boolean | void,
): Promise<void> {
  /** Characters received since the last complete event: one endless event must not exhaust memory. */
  let pendingChars = 0;
  const parser = createParser({
    onEvent(event) {
      pendingChars = 0;
      if (onEvent?.(event) === true) return;
      if (event.event !== undefined && event.event !== "message") return;
      if (event.data === "") return;
      const bytes = Buffer.from(event.data, "utf8");
      deliverBytes([bytes], bytes.length, sink);
    },
    onError(error) {
      sink.problem(new Error(`skipped a malformed event (${error.type})`));
    },
  });
  body.setEncoding("utf8");
  for await (const chunk of body as AsyncIterable<string>) {
    pendingChars += chunk.length;
    if (pendingChars > MAX_BODY_BYTES) {
      body.destroy();
      sink.problem(new Error(`dropped an event stream whose event grew past ${MAX_BODY_BYTES} characters`));
      return;
    }
    parser.feed(chunk);
  }
}

function deliverBytes(pieces: Buffer[], length: number, sink: MessageSink): void {
  if (length === 0) return;
  if (length >= RAW_RESULT_MIN_BYTES) {
    const message = responseWithRawResult(pieces);
    if (message) {
      sink.message(message);
      return;
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(pieces, length).toString("utf8"));
  } catch {
    sink.problem(new Error(`skipped a body of ${length} bytes that is not JSON`));
    return;
  }
  for (const item of Array.isArray(parsed) ? parsed : [parsed]) {
    if (item === null || typeof item !== "object" || Array.isArray(item)) {
      sink.problem(new Error("skipped a JSON value that is not a JSON-RPC message object"));
      continue;
    }
    sink.message(item as JsonRpcMessage);
  }
}
