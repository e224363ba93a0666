import type { Readable, Writable } from "node:stream";
import { scanJsonObject } from "./json-object-scan.js";
import type { JsonRpcMessage, MessageTransport } from "./message-transport.js";
import { sliceOfPieces } from "../../shared/byte-pieces.js";
import { RawJson } from "./raw-json.js";

/**
 * MCP's stdio transport (spec 2025-11-25, "Transports › stdio"): newline-delimited JSON-RPC
 * messages, one per line, no embedded newlines. Built for the hot path: each incoming line is
 * parsed once with `JSON.parse` and handed over as is (no schema validation); each outgoing
 * message is serialised once. Lines can be huge (a tool returning an image); chunks are kept
 * in a list. A response line of `RAW_RESULT_MIN_BYTES` or more is not parsed at all: it is
 * scanned in place and its `result` delivered as `RawJson`, the bytes the server wrote, which
 * a caller forwarding the result sends on without decoding or copying them.
 */

/** Options of `createStdioMessageTransport`. */
export interface StdioTransportOptions {
  /** The child's stdin: we write to it. */
  readonly input: Writable;
  /** The child's stdout: we read from it. */
  readonly output: Readable;
  /** A line longer than this is dropped (and reported), so a runaway server cannot exhaust memory. Default 256 MiB. */
  readonly maxLineBytes?: number;
}

const NEWLINE = 0x0a;
/**
 * From this size on a response line is scanned rather than parsed (measured here: for 1 MiB, a scan costs about
 * 1 ms where joining, decoding, parsing and later re-encoding cost 15). Below it `JSON.parse` is as cheap.
 */
export const RAW_RESULT_MIN_BYTES = 64 * 1024;

/**
 * A `MessageTransport` over a pair of streams. Blank lines are skipped; a line that is not a
 * JSON object is reported to `onerror` (by length only — server output may contain secrets)
 * and skipped; the transport never throws out of a stream callback.
 */
export function createStdioMessageTransport(options: StdioTransportOptions): MessageTransport {
  const { input, output } = options;
  const maxLineBytes = options.maxLineBytes ?? 256 * 1024 * 1024;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let discarding = false;
  let started = false;
  let closed = false;
  let corked = false;

  const transport: MessageTransport = {
    async start() {
      if (started) return;
      started = true;
      output.on("data", onData);
      output.on("end", finish);
      output.on("close", finish);
      output.on("error", onStreamError);
      input.on("error", onStreamError);
    },
    send(message: JsonRpcMessage) {
      if (closed || input.destroyed || input.writableEnded) {
        return Promise.reject(new Error("transport closed"));
      }
      const line = JSON.stringify(message) + "\n";
      corkUntilLoopPass();
      return new Promise<void>((resolve, reject) => {
        const flushed = input.write(line, (error) => {
          if (error) reject(error);
        });
        if (flushed) resolve();
        else waitForDrain(input).then(resolve, reject);
      });
    },
    async close() {
      if (!closed) input.end();
      finish();
    },
  };

  /**
   * Gathers the messages sent in one pass of the event loop into one write: a pipe write wakes the server's process,
   * which on a virtual machine costs far more than the bytes. The frontend's sessions reach the daemon as streams of
   * one connection, so one read from it runs a callback per session with the tick queue drained between them: the
   * pipe is uncorked by `setImmediate`, after the whole I/O phase (measured with 16 sessions: one write per request
   * before, about seven requests per write after), and at most one loop pass later when a send runs in a check phase.
   */
  function corkUntilLoopPass(): void {
    if (corked) return;
    corked = true;
    input.cork();
    setImmediate(uncork);
  }

  function uncork(): void {
    corked = false;
    input.uncork();
  }

  function onData(chunk: Buffer): void {
    let start = 0;
    let index = chunk.indexOf(NEWLINE, start);
    while (index !== -1) {
      const piece = chunk.subarray(start, index);
      if (discarding) {
        discarding = false;
      } else if (pendingBytes === 0) {
        if (piece.length >= RAW_RESULT_MIN_BYTES) deliverPieces([piece], piece.length);
        else deliver(piece);
      } else {
        pending.push(piece);
        deliverPieces(pending, pendingBytes + piece.length);
      }
      pending = [];
      pendingBytes = 0;
      start = index + 1;
      index = chunk.indexOf(NEWLINE, start);
    }
    if (start < chunk.length && !discarding) {
      const rest = chunk.subarray(start);
      pendingBytes += rest.length;
      if (pendingBytes > maxLineBytes) {
        transport.onerror?.(new Error(`dropped an incoming line longer than ${maxLineBytes} bytes`));
        pending = [];
        pendingBytes = 0;
        discarding = true;
      } else {
        pending.push(rest);
      }
    }
  }

  function deliverPieces(pieces: Buffer[], byteLength: number): void {
    const message = byteLength >= RAW_RESULT_MIN_BYTES ? responseWithRawResult(pieces) : undefined;
    if (message) dispatch(message);
    else deliver(pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, byteLength));
  }

  function deliver(line: Buffer): void {
    let end = line.length;
    if (end > 0 && line[end - 1] === 0x0d) end--;
    let begin = 0;
    while (begin < end && (line[begin] === 0x20 || line[begin] === 0x09)) begin++;
    if (begin === end) return;
    let message: unknown;
    try {
      message = JSON.parse(line.toString("utf8", begin, end));
    } catch {
      transport.onerror?.(new Error(`skipped a non-JSON line of ${end - begin} bytes on stdout`));
      return;
    }
    // A JSON-RPC batch (allowed by MCP 2025-03-26 only) is delivered message by message.
    if (Array.isArray(message)) for (const item of message) dispatch(item);
    else dispatch(message);
  }

  function dispatch(message: unknown): void {
    if (message === null || typeof message !== "object" || Array.isArray(message)) {
      transport.onerror?.(new Error("skipped a stdout line that is not a JSON-RPC message object"));
      return;
    }
    try {
      transport.onmessage?.(message as JsonRpcMessage);
    } catch (error) {
      transport.onerror?.(error instanceof Error ? error : new Error(String(error)));
    }
  }

  function onStreamError(error: Error): void {
    transport.onerror?.(error);
  }

  function finish(): void {
    if (closed) return;
    closed = true;
    output.off("data", onData);
    transport.onclose?.();
  }

  return transport;
}

/**
 * A large response line as a message whose `result` is `RawJson`, or undefined for anything else (a request, a
 * notification, an error, a result that is not an object, bytes that are not one valid JSON object): those are
 * parsed the ordinary way, which also reports what is wrong with them. Also used for the large bodies of remote
 * servers (http-messages.ts), so that their results pass through as bytes too.
 */
export function responseWithRawResult(pieces: Buffer[]): JsonRpcMessage | undefined {
  const members = scanJsonObject(pieces);
  if (!members) return undefined;
  const message: JsonRpcMessage = {};
  for (const { key, start, end } of members) {
    if (key === "method") return undefined;
    const bytes = sliceOfPieces(pieces, start, end);
    if (key === "result") {
      if (bytes[0]![0] !== 0x7b) return undefined;
      message.result = new RawJson(bytes, end - start);
    } else {
      message[key] = JSON.parse(Buffer.concat(bytes, end - start).toString("utf8"));
    }
  }
  return message.result instanceof RawJson ? message : undefined;
}

function waitForDrain(stream: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      stream.off("drain", onDrain);
      stream.off("close", onClose);
    };
    const onDrain = (): void => {
      cleanup();
      resolve();
    };
    const onClose = (): void => {
      cleanup();
      reject(new Error("transport closed"));
    };
    stream.on("drain", onDrain);
    stream.on("close", onClose);
  });
}
