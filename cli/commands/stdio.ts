import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { SessionTransport } from "../../gen/deploystack/gateway/v1/mcp_pb.js";
import { OpenSessionRequestSchema, type OpenSessionRequest } from "../../gen/deploystack/gateway/v1/mcp_service_pb.js";
import type { TextSink } from "../io.js";
import { escapeControls } from "../output.js";
import type { McpClient } from "./tools.js";

/**
 * `dsctl stdio`: an MCP server on stdin/stdout (MCP spec, Transports › stdio:
 * newline-delimited JSON-RPC, nothing else on stdout) for clients that can only launch
 * stdio servers. It is a pipe, not an MCP implementation: each stdin line travels as
 * one `ClientMessage` of an `OpenSession` stream and each `ServerMessage` comes back as
 * one stdout line; the daemon's session engine answers everything. Diagnostics go to
 * stderr only.
 */

/** The streams of the bridge. */
export interface StdioBridgeIo {
  readonly stdin: Readable;
  readonly stdout: Writable;
  readonly stderr: TextSink;
}

/** Options of the bridge. */
export interface StdioBridgeOptions {
  /** Ends the session (SIGINT/SIGTERM). */
  readonly signal?: AbortSignal;
  /**
   * After stdin ends, how long the daemon may take to send what it still owes before
   * the stream is cut. Default 5 s.
   */
  readonly drainTimeoutMs?: number;
  /** The team profile to serve (`dsctl stdio --profile P`, like `/mcp/<profile>`); absent: the default one. */
  readonly profile?: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const NEWLINE = 0x0a;

/** Runs the bridge until stdin ends (and the daemon finished) or the daemon ends the session. */
export async function runStdioBridge(client: McpClient, io: StdioBridgeIo, options: StdioBridgeOptions = {}): Promise<number> {
  const controller = new AbortController();
  const abort = (): void => controller.abort();
  options.signal?.addEventListener("abort", abort, { once: true });
  let drainTimer: NodeJS.Timeout | undefined;

  async function* requests(): AsyncGenerator<OpenSessionRequest> {
    yield create(OpenSessionRequestSchema, { frame: { case: "start", value: { transport: SessionTransport.STDIO, profile: options.profile ?? "" } } });
    const lines = createInterface({ input: io.stdin, crlfDelay: Infinity, terminal: false });
    try {
      for await (const line of lines) {
        if (line.trim() === "") continue;
        yield create(OpenSessionRequestSchema, {
          frame: { case: "message", value: { exchangeId: 0n, json: encoder.encode(line) } },
        });
      }
    } finally {
      lines.close();
      drainTimer = setTimeout(abort, options.drainTimeoutMs ?? 5_000);
      drainTimer.unref();
    }
  }

  try {
    for await (const response of client.openSession(requests(), { signal: controller.signal })) {
      const frame = response.frame;
      if (frame.case === "message" && frame.value.json.length > 0) {
        await writeLine(io.stdout, frame.value.json);
      } else if (frame.case === "ended") {
        if (frame.value.reason) io.stderr.write(`session ended: ${escapeControls(frame.value.reason, { singleLine: true })}\n`);
        break;
      }
    }
    return 0;
  } catch (error) {
    if (controller.signal.aborted && error instanceof ConnectError && error.code === Code.Canceled) return 0;
    throw error;
  } finally {
    clearTimeout(drainTimer);
    options.signal?.removeEventListener("abort", abort);
  }
}

/** Writes one message as one line, honouring back-pressure. */
async function writeLine(stdout: Writable, json: Uint8Array): Promise<void> {
  // A message must be a single line on stdio; re-encode the rare one that is not.
  const bytes = json.includes(NEWLINE) ? encoder.encode(JSON.stringify(JSON.parse(decoder.decode(json)))) : json;
  const ok = stdout.write(Buffer.concat([bytes, Buffer.from("\n")]));
  if (!ok) await new Promise<void>((resolve) => stdout.once("drain", resolve));
}
