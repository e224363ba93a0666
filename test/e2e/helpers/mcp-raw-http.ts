import http from "node:http";

/**
 * Raw HTTP against the gateway's frontend with `node:http`, for what an SDK client never sends:
 * a foreign `Host` header (fetch cannot set it), malformed bodies, reused session ids, and explicit
 * JSON-RPC ids. Responses are read to the end (with a bound, since an SSE stream may stay open).
 */

/** One raw request. */
export interface RawRequest {
  readonly method: string;
  /** Absolute URL; its host and port are where the request goes, whatever `Host` header is sent. */
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
  /** Stop reading after this long (an open SSE stream never ends); the answer is what arrived. */
  readonly readTimeoutMs?: number;
}

/** What came back. `timedOut` means the body was still open when reading stopped. */
export interface RawResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  readonly timedOut: boolean;
}

/** Sends one request on a fresh connection and reads the answer. */
export function rawRequest(request: RawRequest): Promise<RawResponse> {
  const url = new URL(request.url);
  return new Promise((resolveResponse, reject) => {
    const req = http.request(
      {
        host: url.hostname === "localhost" ? "127.0.0.1" : url.hostname,
        port: url.port,
        path: `${url.pathname}${url.search}`,
        method: request.method,
        agent: false,
        headers: { host: url.host, ...request.headers },
      },
      (res) => {
        let body = "";
        let done = false;
        const finish = (timedOut: boolean) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          resolveResponse({ status: res.statusCode ?? 0, headers: res.headers, body, timedOut });
          if (timedOut) req.destroy();
        };
        const timer = setTimeout(() => finish(true), request.readTimeoutMs ?? 30_000);
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => finish(false));
        res.on("close", () => finish(false));
        res.on("error", () => finish(false));
      },
    );
    req.on("error", reject);
    if (request.body !== undefined) req.write(request.body);
    req.end();
  });
}

/** JSON-RPC messages of a response body: one JSON value (or a batch), or the `data` of each SSE event. */
export function messagesOf(response: RawResponse): unknown[] {
  const type = String(response.headers["content-type"] ?? "");
  if (type.startsWith("text/event-stream")) {
    const messages: unknown[] = [];
    for (const event of response.body.split(/\r?\n\r?\n/)) {
      const data = event
        .split(/\r?\n/)
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).replace(/^ /, ""))
        .join("\n");
      if (data) messages.push(JSON.parse(data));
    }
    return messages;
  }
  if (!response.body) return [];
  const parsed: unknown = JSON.parse(response.body);
  return Array.isArray(parsed) ? parsed : [parsed];
}

/** Headers of an MCP POST (spec 2025-11-25 "Transports": Accept must list both types). */
export function mcpHeaders(sessionId?: string): Record<string, string> {
  return {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    ...(sessionId ? { "mcp-session-id": sessionId, "mcp-protocol-version": "2025-11-25" } : {}),
  };
}

/** POSTs one JSON-RPC message to `/mcp`. */
export function postMcp(mcpUrl: string, message: unknown, sessionId?: string, extraHeaders: Record<string, string> = {}): Promise<RawResponse> {
  return rawRequest({ method: "POST", url: mcpUrl, headers: { ...mcpHeaders(sessionId), ...extraHeaders }, body: JSON.stringify(message) });
}

/** Opens a Streamable HTTP session by hand (initialize with id `id`, then `notifications/initialized`); returns its id. */
export async function rawInitialize(mcpUrl: string, id: number | string = 1): Promise<string> {
  const response = await postMcp(mcpUrl, {
    jsonrpc: "2.0",
    id,
    method: "initialize",
    params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "e2e-raw", version: "1.0.0" } },
  });
  const sessionId = response.headers["mcp-session-id"];
  if (response.status !== 200 || typeof sessionId !== "string") {
    throw new Error(`initialize failed: ${response.status} ${response.body}`);
  }
  const initialized = await postMcp(mcpUrl, { jsonrpc: "2.0", method: "notifications/initialized" }, sessionId);
  if (initialized.status !== 202) throw new Error(`notifications/initialized answered ${initialized.status}`);
  return sessionId;
}

/** A legacy SSE session opened by hand: the `endpoint` event's URL, and the stream kept open until `close`. */
export interface RawSseSession {
  readonly messageUrl: string;
  readonly sessionId: string;
  /** Everything the stream carried so far. */
  text(): string;
  close(): void;
}

/** Opens `GET /sse` and waits for the `endpoint` event (spec 2024-11-05 "HTTP with SSE"). */
export function openRawSse(sseUrl: string, timeoutMs = 30_000): Promise<RawSseSession> {
  const url = new URL(sseUrl);
  return new Promise((resolveSession, reject) => {
    let text = "";
    let opened = false;
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error("no endpoint event"));
    }, timeoutMs);
    const req = http.request(
      { host: "127.0.0.1", port: url.port, path: url.pathname, method: "GET", agent: false, headers: { host: url.host, accept: "text/event-stream" } },
      (res) => {
        res.setEncoding("utf8");
        res.on("error", () => undefined);
        res.on("data", (chunk: string) => {
          text += chunk;
          const match = /event: ?endpoint\r?\ndata: ?(\S+)/.exec(text);
          if (match && !opened) {
            opened = true;
            clearTimeout(timer);
            const messageUrl = new URL(match[1] as string, sseUrl).href;
            resolveSession({
              messageUrl,
              sessionId: new URL(messageUrl).searchParams.get("sessionId") ?? "",
              text: () => text,
              close: () => req.destroy(),
            });
          }
        });
      },
    );
    req.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.end();
  });
}
