import { mkdtempSync, rmSync } from "node:fs";
import { type Http2Server, createServer as createHttp2Server } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { McpService, type OpenSessionRequest, type OpenSessionResponseSchema } from "../../gen/deploystack/gateway/v1/mcp_service_pb.js";
import { MessageQueue } from "./message-queue.js";

type Frame = MessageInitShape<typeof OpenSessionResponseSchema>;

/** What the scripted engine saw of one session, for assertions. */
export interface ScriptedSessionRecord {
  readonly sessionId: string;
  readonly transport: number;
  /** Exchange ids of the client messages, in arrival order. */
  readonly exchangeIds: number[];
  /** The raw JSON of each client message. */
  readonly bodies: string[];
  /** Set when the frontend closed (or cancelled) the stream. */
  closed: boolean;
}

/**
 * A SMALL stand-in for the daemon's MCP session engine, speaking the OpenSession contract so the frontend can be
 * tested without the real engine: `initialize` (echoes the requested version after `SessionInitialized`; without a
 * `protocolVersion` it fails, as the real engine's does), `ping`,
 * `echo` (result = params), `tools/list` and `tools/call` (one tool, `echo`, answering its `text` argument, for SDK
 * clients), `notify` (a notification on the exchange, then the result), `broadcast` (a notification
 * on the standalone stream), `slow` (answers when `release()` is called), `sample` (a server-to-client request,
 * answered by the client in a later POST), `end` (SessionEnded); unknown methods -32601, invalid messages -32600.
 */
export function scriptedRoutes(records: ScriptedSessionRecord[], control: ScriptedControl) {
  return (router: ConnectRouter): void => {
    router.service(McpService, {
      openSession(requests: AsyncIterable<OpenSessionRequest>) {
        const out = new MessageQueue<Frame>(1_000_000);
        void runSession(requests, out, records, control);
        return out;
      },
    } as never);
  };
}

/** Hooks a test uses to steer the scripted engine. */
export class ScriptedControl {
  private waiting: Array<() => void> = [];
  /** Answers every pending `slow` request. */
  release(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const wake of waiting) wake();
  }
  /** A promise the engine awaits for `slow`. */
  hold(): Promise<void> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  /** Number of `slow` requests waiting. */
  get held(): number {
    return this.waiting.length;
  }
}

async function runSession(
  requests: AsyncIterable<OpenSessionRequest>,
  out: MessageQueue<Frame>,
  records: ScriptedSessionRecord[],
  control: ScriptedControl,
): Promise<void> {
  let record: ScriptedSessionRecord | undefined;
  const pendingSamples = new Map<string, (result: unknown) => void>();
  let sampleCounter = 0;
  const send = (exchangeId: number, message: unknown, complete = false): void => {
    void out.push({
      frame: {
        case: "message",
        value: { exchangeId: BigInt(exchangeId), json: message === undefined ? new Uint8Array() : Buffer.from(JSON.stringify(message)), exchangeComplete: complete },
      },
    });
  };
  const answer = async (exchangeId: number, message: unknown): Promise<unknown | undefined> => {
    if (typeof message !== "object" || message === null || Array.isArray(message)) {
      return { jsonrpc: "2.0", id: null, error: { code: -32600, message: "Invalid Request" } };
    }
    const m = message as { id?: unknown; method?: unknown; params?: Record<string, unknown>; result?: unknown };
    if (typeof m.method !== "string") {
      if ("id" in m && ("result" in m || "error" in m)) {
        pendingSamples.get(String(m.id))?.(m.result);
        return undefined;
      }
      return { jsonrpc: "2.0", id: null, error: { code: -32600, message: "Invalid Request" } };
    }
    if (!("id" in m)) return undefined;
    const reply = (result: unknown) => ({ jsonrpc: "2.0", id: m.id, result });
    switch (m.method) {
      case "initialize": {
        // As the real engine: a missing protocolVersion fails, and then no SessionInitialized is sent.
        if (typeof m.params?.protocolVersion !== "string") {
          return { jsonrpc: "2.0", id: m.id, error: { code: -32602, message: 'invalid params: "protocolVersion" must be a string' } };
        }
        const version = m.params.protocolVersion;
        void out.push({ frame: { case: "initialized", value: { protocolVersion: version } } });
        return reply({ protocolVersion: version, capabilities: { tools: {} }, serverInfo: { name: "scripted", version: "1.0.0" } });
      }
      case "ping":
        return reply({});
      case "tools/list":
        return reply({ tools: [{ name: "echo", description: "returns its text", inputSchema: { type: "object", properties: { text: { type: "string" } } } }] });
      case "tools/call":
        return reply({ content: [{ type: "text", text: String((m.params?.arguments as { text?: unknown } | undefined)?.text ?? "") }] });
      case "echo":
        return reply(m.params ?? {});
      case "notify":
        send(exchangeId, { jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: 1, progress: 1 } });
        return reply({ notified: true });
      case "broadcast":
        send(0, { jsonrpc: "2.0", method: "notifications/tools/list_changed" });
        return reply({});
      case "slow":
        await control.hold();
        return reply({ slow: true });
      case "sample": {
        const id = `s${++sampleCounter}`;
        const result = new Promise((resolve) => pendingSamples.set(id, resolve));
        send(exchangeId, { jsonrpc: "2.0", id, method: "sampling/createMessage", params: {} });
        return reply({ sampled: await result });
      }
      case "end":
        setImmediate(() => void out.push({ frame: { case: "ended", value: { reason: "scripted end" } } }));
        return reply({});
      default:
        return { jsonrpc: "2.0", id: m.id, error: { code: -32601, message: "Method not found" } };
    }
  };
  try {
    for await (const request of requests) {
      const frame = request.frame;
      if (frame.case === "start") {
        record = { sessionId: frame.value.sessionId, transport: frame.value.transport, exchangeIds: [], bodies: [], closed: false };
        records.push(record);
        continue;
      }
      if (frame.case !== "message" || !record) continue;
      const exchangeId = Number(frame.value.exchangeId);
      const text = Buffer.from(frame.value.json).toString("utf8");
      record.exchangeIds.push(exchangeId);
      record.bodies.push(text);
      void (async () => {
        const parsed = JSON.parse(text) as unknown;
        const items = Array.isArray(parsed) ? parsed : [parsed];
        if (Array.isArray(parsed) && parsed.length === 0) {
          send(exchangeId, { jsonrpc: "2.0", id: null, error: { code: -32600, message: "Invalid Request" } });
        }
        const answers = await Promise.all(items.map((item) => answer(exchangeId, item)));
        for (const reply of answers) if (reply !== undefined) send(exchangeId, reply);
        send(exchangeId, undefined, true);
      })();
    }
  } catch {
    // The frontend cancelled the stream.
  }
  if (record) record.closed = true;
  out.close();
}

/** A real McpService on a temporary unix socket, answering with the scripted engine. */
export interface ScriptedDaemon {
  readonly socketPath: string;
  readonly records: ScriptedSessionRecord[];
  readonly control: ScriptedControl;
  /** Starts listening (again, after `stop`). */
  start(): Promise<void>;
  /** Stops listening and drops every open stream (a daemon going away). */
  stop(): Promise<void>;
  /** Stops and removes the temporary folder. */
  dispose(): Promise<void>;
}

/** Creates (and starts) a scripted daemon on a fresh temporary socket. */
export async function startScriptedDaemon(): Promise<ScriptedDaemon> {
  const dir = mkdtempSync(join(tmpdir(), "dsgw-fe-"));
  const socketPath = join(dir, "gateway.sock");
  const records: ScriptedSessionRecord[] = [];
  const control = new ScriptedControl();
  let server: Http2Server | undefined;
  const daemon: ScriptedDaemon = {
    socketPath,
    records,
    control,
    async start() {
      const handler = connectNodeAdapter({ routes: scriptedRoutes(records, control) });
      const created = createHttp2Server(handler);
      const sessions = new Set<import("node:http2").ServerHttp2Session>();
      created.on("session", (s) => {
        sessions.add(s);
        s.on("close", () => sessions.delete(s));
      });
      (created as unknown as { liveSessions: typeof sessions }).liveSessions = sessions;
      await new Promise<void>((resolve) => created.listen(socketPath, resolve));
      server = created;
    },
    async stop() {
      const current = server;
      server = undefined;
      if (!current) return;
      const live = (current as unknown as { liveSessions: Set<import("node:http2").ServerHttp2Session> }).liveSessions;
      for (const s of live) s.destroy();
      await new Promise<void>((resolve) => current.close(() => resolve()));
    },
    async dispose() {
      control.release();
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await daemon.start();
  return daemon;
}
