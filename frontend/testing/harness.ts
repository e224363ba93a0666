import { type IncomingHttpHeaders, type IncomingMessage, type Server, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../../shared/logger.js";
import { silentLogger } from "../../shared/logger.js";
import { createApp } from "../app.js";
import { StatelessPool } from "../modern/stateless-pool.js";
import { createDaemonClient } from "../daemon-client.js";
import { createFrontendServer } from "../http/server.js";
import type { Clock } from "../session/clock.js";
import type { RandomBytes } from "../session/session-id.js";
import { SessionRegistry } from "../session/session-registry.js";
import { type FrontendSettings, resolveSettings, sessionLimitsOf } from "../settings.js";

/** A frontend app on 127.0.0.1:0 wired to a daemon socket, for tests. */
export interface TestFrontend {
  readonly port: number;
  readonly sessions: SessionRegistry;
  readonly settings: FrontendSettings;
  readonly server: Server;
  close(): Promise<void>;
}

/** Options of `startTestFrontend`. */
export interface TestFrontendOptions {
  readonly socketPath: string;
  readonly settings?: Partial<FrontendSettings>;
  readonly clock?: Clock;
  readonly randomBytes?: RandomBytes;
  readonly clientToken?: string;
  readonly logger?: Logger;
}

/** Starts the real koa app on a real loopback port, talking to the daemon over the real unix socket. */
export async function startTestFrontend(options: TestFrontendOptions): Promise<TestFrontend> {
  const settings = resolveSettings({ port: 0, controlSocket: options.socketPath, ...options.settings });
  const daemon = createDaemonClient(options.socketPath);
  const sessions = new SessionRegistry({
    daemon,
    clock: options.clock ?? { now: () => Date.now() },
    randomBytes: options.randomBytes,
    logger: options.logger ?? silentLogger,
    maxSessions: settings.maxSessions,
    idleTimeoutMs: settings.sessionIdleTimeoutMs,
    initTimeoutMs: settings.sessionInitTimeoutMs,
    limits: sessionLimitsOf(settings, { closeGraceMs: 200 }),
  });
  const server = createFrontendServer(settings);
  const port = (): number => (server.address() as AddressInfo).port;
  const statelessPool = new StatelessPool({ daemon });
  const app = createApp({
    settings,
    sessions,
    port,
    clientToken: options.clientToken,
    logger: options.logger,
    daemonReachable: daemon.reachable,
    profileNames: daemon.profileNames,
    statelessPool,
  });
  server.on("request", app.callback());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: port(),
    sessions,
    settings,
    server,
    async close() {
      sessions.closeAll("test over");
      statelessPool.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      daemon.close();
    },
  };
}

/** A finished HTTP exchange. */
export interface HttpResult {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** Options of `send`. */
export interface SendOptions {
  readonly method?: string;
  readonly path?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
}

/** Standard headers of an MCP POST as the SDK sends them; `host` included, since the guard checks it. */
export function mcpHeaders(port: number, extra: Record<string, string> = {}): Record<string, string> {
  return {
    host: `localhost:${port}`,
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    ...extra,
  };
}

/** Starts a request with node:http (so Host and every other header are exactly what the test says). */
export function open(port: number, options: SendOptions): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...(options.headers ?? { host: `localhost:${port}` }) };
    if (options.body !== undefined) headers["content-length"] = String(Buffer.byteLength(options.body));
    const req = httpRequest(
      { host: "127.0.0.1", port, method: options.method ?? "GET", path: options.path ?? "/mcp", headers, setHost: false, agent: false },
      resolve,
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

/** Sends a request and reads the whole response. */
export async function send(port: number, options: SendOptions): Promise<HttpResult> {
  const res = await open(port, options);
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") };
}

/** One parsed SSE event (or comment). */
export interface SseEvent {
  readonly id?: string;
  readonly event?: string;
  readonly data: string;
  readonly comment?: string;
}

/** Reads SSE events off a response as they arrive; `next()` waits for the next event, undefined at the end. */
export class SseReader {
  private buffer = "";
  private events: SseEvent[] = [];
  private waiters: Array<(e: SseEvent | undefined) => void> = [];
  private ended = false;

  constructor(readonly res: IncomingMessage) {
    res.setEncoding("utf8");
    res.on("data", (chunk: string) => this.feed(chunk));
    res.on("end", () => this.finish());
    res.on("close", () => this.finish());
    res.on("error", () => this.finish());
  }

  /** The next event (comments included), or undefined when the stream ended. */
  next(): Promise<SseEvent | undefined> {
    const event = this.events.shift();
    if (event) return Promise.resolve(event);
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The next event that is not a comment. */
  async nextData(): Promise<SseEvent | undefined> {
    for (;;) {
      const event = await this.next();
      if (!event || event.comment === undefined) return event;
    }
  }

  /** Every remaining event until the stream ends. */
  async rest(): Promise<SseEvent[]> {
    const all: SseEvent[] = [];
    for (let e = await this.next(); e; e = await this.next()) all.push(e);
    return all;
  }

  /** Drops the connection. */
  close(): void {
    this.res.destroy();
  }

  private feed(chunk: string): void {
    this.buffer += chunk;
    let index: number;
    while ((index = this.buffer.indexOf("\n\n")) >= 0) {
      const block = this.buffer.slice(0, index);
      this.buffer = this.buffer.slice(index + 2);
      const event: { id?: string; event?: string; data: string[]; comment?: string } = { data: [] };
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) event.comment = line.slice(1).trim();
        else if (line.startsWith("id: ")) event.id = line.slice(4);
        else if (line.startsWith("event: ")) event.event = line.slice(7);
        else if (line.startsWith("data: ")) event.data.push(line.slice(6));
        else if (line === "data:") event.data.push("");
      }
      this.emit({ id: event.id, event: event.event, data: event.data.join("\n"), comment: event.comment });
    }
  }

  private emit(event: SseEvent): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(event);
    else this.events.push(event);
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }
}

/** An `initialize` request body. */
export function initializeBody(protocolVersion = "2025-11-25", id: number | string = 1): string {
  return JSON.stringify({
    jsonrpc: "2.0",
    id,
    method: "initialize",
    params: { protocolVersion, capabilities: {}, clientInfo: { name: "test", version: "1.0.0" } },
  });
}

/** Initializes a Streamable HTTP session (JSON mode for brevity) and returns its id. */
export async function initializeSession(port: number, protocolVersion = "2025-11-25"): Promise<string> {
  const result = await send(port, {
    method: "POST",
    headers: mcpHeaders(port, { accept: "application/json" }),
    body: initializeBody(protocolVersion),
  });
  if (result.status !== 200) throw new Error(`initialize failed: ${result.status} ${result.body}`);
  const id = result.headers["mcp-session-id"];
  if (typeof id !== "string") throw new Error("no session id");
  return id;
}

/** Polls a condition (every 10 ms) until it holds; generous default bound, never a timing assertion. */
export async function waitFor(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
