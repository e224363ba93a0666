/**
 * Drives an engine session the way a transport does: raw JSON in with exchange ids,
 * frames out, recorded for assertions. `SessionClientTransport` wraps the same thing as
 * an SDK `Transport`, so a real SDK `Client` (with sampling, elicitation and roots
 * handlers) can talk to the engine.
 */
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import type { McpEngine } from "../engine.js";
import type { McpSession, SessionFrame } from "../session.js";
import { jsonPayloadText, type JsonPayload } from "../../../shared/open-session-wire/payload.js";

/** A message frame's JSON as text, whether the session wrote it as a string or spliced a server's bytes in. */
export function jsonText(json: JsonPayload): string {
  return jsonPayloadText(json);
}

/** A JSON-RPC message frame, parsed. */
export interface MessageFrame {
  readonly exchangeId: bigint;
  /** Undefined for an empty completion frame. */
  readonly message: Record<string, unknown> | Record<string, unknown>[] | undefined;
  readonly exchangeComplete: boolean;
}

/** A raw session with recorded frames. */
export class RawSession {
  readonly frames: SessionFrame[] = [];
  readonly session: McpSession;
  private readonly waiters = new Set<() => void>();

  /** `profile`: the team profile the session is confined to, as `/mcp/<profile>` names it. */
  constructor(engine: McpEngine, profile?: string) {
    this.session = engine.openSession({
      transportSessionId: "raw",
      ...(profile !== undefined ? { profile } : {}),
      onFrame: (frame) => {
        this.frames.push(frame);
        for (const wake of [...this.waiters]) wake();
      },
    });
  }

  /** Sends a message (object or raw text) on an exchange. */
  send(exchangeId: number, message: unknown): void {
    this.session.receive(BigInt(exchangeId), typeof message === "string" ? message : JSON.stringify(message));
  }

  /** Message frames, parsed, optionally of one exchange. */
  messages(exchangeId?: number): MessageFrame[] {
    return this.frames
      .filter((f): f is Extract<SessionFrame, { kind: "message" }> => f.kind === "message")
      .filter((f) => exchangeId === undefined || f.exchangeId === BigInt(exchangeId))
      .map((f) => ({ exchangeId: f.exchangeId, message: f.json === "" ? undefined : JSON.parse(jsonText(f.json)), exchangeComplete: f.exchangeComplete }));
  }

  /** Waits (bounded generously) until `predicate` holds, re-checking on every frame and every 25 ms. */
  async until<T>(predicate: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = predicate();
      if (value) return value;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; frames: ${JSON.stringify(this.frames, (_k, v) => (typeof v === "bigint" ? String(v) : v))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(left, 25));
        const self = this;
        function done(): void {
          clearTimeout(timer);
          self.waiters.delete(done);
          resolve();
        }
        this.waiters.add(done);
      });
    }
  }

  /** Waits for the completion frame of an exchange and returns all its frames. */
  async exchange(exchangeId: number): Promise<MessageFrame[]> {
    await this.until(() => this.messages(exchangeId).some((f) => f.exchangeComplete));
    return this.messages(exchangeId);
  }

  /** Sends a request on `exchangeId` and resolves with the response object. */
  async request(exchangeId: number, id: number | string, method: string, params?: unknown): Promise<Record<string, unknown>> {
    this.send(exchangeId, { jsonrpc: "2.0", id, method, ...(params === undefined ? {} : { params }) });
    const frames = await this.exchange(exchangeId);
    const last = frames.at(-1)!;
    return last.message as Record<string, unknown>;
  }

  /** Initializes with `capabilities`. */
  async initialize(exchangeId = 1, capabilities: Record<string, unknown> = {}, protocolVersion = "2025-11-25"): Promise<Record<string, unknown>> {
    const response = await this.request(exchangeId, 0, "initialize", { protocolVersion, capabilities, clientInfo: { name: "raw", version: "1" } });
    this.send(exchangeId + 1, { jsonrpc: "2.0", method: "notifications/initialized" });
    return response;
  }
}

/** An SDK `Transport` over an engine session: each sent message is its own exchange, like one HTTP POST each. */
export class SessionClientTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  readonly frames: SessionFrame[] = [];
  private session: McpSession | undefined;
  private nextExchange = 1;

  constructor(private readonly engine: McpEngine) {}

  async start(): Promise<void> {
    this.session = this.engine.openSession({
      transportSessionId: "sdk",
      onFrame: (frame) => {
        this.frames.push(frame);
        if (frame.kind === "message" && frame.json !== "") {
          const message = JSON.parse(jsonText(frame.json)) as JSONRPCMessage;
          queueMicrotask(() => this.onmessage?.(message));
        }
      },
    });
  }

  async send(message: JSONRPCMessage): Promise<void> {
    this.session?.receive(BigInt(this.nextExchange++), JSON.stringify(message));
  }

  async close(): Promise<void> {
    this.session?.close();
    this.onclose?.();
  }
}
