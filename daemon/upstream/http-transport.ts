import { META } from "../../shared/mcp-modern.js";
import { GatewayError } from "../errors.js";
import { CallCancellation } from "../call-signal.js";
import { readEventStream, readJsonBody, type MessageSink } from "./http-messages.js";
import { headerValue, UpstreamInsufficientScopeError, UpstreamNeedsAuthError, type RemoteRequester, type RemoteResponse } from "./http-request.js";
import type { JsonRpcMessage } from "./message-transport.js";
import { createSseMessageTransport, type RemoteMessageTransport } from "./sse-transport.js";
import type { JsonObject } from "./types.js";
import { InflightTable } from "../../shared/inflight-table.js";

/**
 * The Streamable HTTP transport as a client (MCP 2025-03-26 … 2026-07-28, "Transports ›
 * Streamable HTTP"), behind the same `MessageTransport` seam as stdio, so one connection type
 * (connection.ts) speaks to local and remote servers alike and keeps its era machinery:
 * - every message is a POST; the answer is a JSON body, or an event stream carrying the
 *   request's progress, the server's requests and finally its response;
 * - a legacy server's session: `Mcp-Session-Id` from the `initialize` answer on every later
 *   request, the negotiated `MCP-Protocol-Version`, a GET stream for what the server sends
 *   outside any request, DELETE on close; a 404 on a request with the session id means the
 *   session expired: the transport opens a new one by itself (the same `initialize`, the log
 *   level and resource subscriptions again, the GET stream again) and sends the request once
 *   more — the server answered 404 without running it, so even a `tools/call` is safe to repeat;
 * - a modern request (its `_meta` names a modern version) is stateless: no session id, and the
 *   `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` headers mirror the body; cancelling it
 *   closes its response stream;
 * - backward compatibility (`transport: auto`): until a POST has succeeded, a 4xx whose body is
 *   not a JSON-RPC error means an old HTTP+SSE server, and the transport switches to the legacy
 *   SSE transport (sse-transport.ts) and resends; a 4xx with a JSON-RPC error body (a legacy
 *   Streamable HTTP server refusing `server/discover` before `initialize`) is the answer itself,
 *   which the connection's era probe reads as "legacy".
 * Failures: a lost connection under a request answers that request with a clear error and the
 * next request opens a new connection; an unreachable server (connection refused, DNS, TLS)
 * closes the transport with the reason, so the supervisor backs off and tries again; a 401 with
 * no usable token closes it with `UpstreamNeedsAuthError`.
 */

/** Options of `createHttpMessageTransport`. */
export interface HttpTransportOptions {
  readonly serverName: string;
  readonly url: URL;
  /** `auto`: Streamable HTTP, falling back to HTTP+SSE; `http`: Streamable HTTP only; `sse`: HTTP+SSE only. */
  readonly mode: "auto" | "http" | "sse";
  readonly requester: RemoteRequester;
  /** Told which transport the server turned out to speak. */
  readonly onFlavour?: (flavour: "streamable-http" | "sse") => void;
}

/** A request id as a key of the in-flight table: a string id can never meet a number one (`"1"` is not `1`). */
function inFlightKey(id: string | number): string | number {
  return typeof id === "number" ? id : `s:${id}`;
}

/** Socket-level failures of an exchange that had started: the request is lost, the server may still be there. */
const LOST_CODES = new Set(["UND_ERR_SOCKET", "ECONNRESET", "EPIPE", "UND_ERR_CLOSED", "UND_ERR_INFO"]);

/** `Mcp-Name` sources ("Transports › Streamable HTTP › Request headers"). */
const NAME_FIELD: Readonly<Record<string, string>> = {
  "tools/call": "name",
  "prompts/get": "name",
  "resources/read": "uri",
};

/** Opens the transport of one remote server (see the module comment). */
export function createHttpMessageTransport(options: HttpTransportOptions): RemoteMessageTransport {
  if (options.mode === "sse") {
    options.onFlavour?.("sse");
    return createSseMessageTransport({ serverName: options.serverName, url: options.url, requester: options.requester });
  }
  const { serverName, url, requester } = options;
  const quoted = `server "${serverName}"`;
  let closed = false;
  let failure: Error | undefined;
  /** Set once the server answered a POST with 2xx: from then on it speaks Streamable HTTP. */
  let confirmed = false;
  let fallback: RemoteMessageTransport | undefined;
  let sessionId: string | undefined;
  let legacyVersion: string | undefined;
  let initializeMessage: JsonRpcMessage | undefined;
  let logLevel: JsonObject | undefined;
  const subscriptions = new Set<string>();
  /** In-flight POSTs by JSON-RPC id, so a cancellation can close the response stream. */
  const inFlight = new InflightTable<string | number, CallCancellation>();
  const everything = new AbortController();
  let getStream: AbortController | undefined;
  let reinitializing: Promise<void> | undefined;
  let privateIds = 0;

  const sink: MessageSink = {
    message: (message) => deliver(message),
    problem: (error) => transport.onerror?.(error),
  };

  function deliver(message: JsonRpcMessage): void {
    try {
      transport.onmessage?.(message);
    } catch (error) {
      transport.onerror?.(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Closes for good; `error` says why when it was not asked for. */
  function fail(error: Error | undefined): void {
    if (closed) return;
    closed = true;
    failure = error;
    everything.abort();
    getStream?.abort();
    inFlight.clear();
    transport.onclose?.();
  }

  function answerWithError(id: unknown, message: string): void {
    if (typeof id !== "number" && typeof id !== "string") return;
    deliver({ jsonrpc: "2.0", id, error: { code: -32603, message } });
  }

  function headersFor(message: JsonRpcMessage): Record<string, string> {
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
    };
    const params = message.params as JsonObject | undefined;
    const meta = params?._meta as JsonObject | undefined;
    const modernVersion = typeof message.method === "string" ? meta?.[META.protocolVersion] : undefined;
    if (typeof modernVersion === "string") {
      headers["mcp-protocol-version"] = modernVersion;
      headers["mcp-method"] = message.method as string;
      const field = NAME_FIELD[message.method as string];
      const name = field !== undefined ? params?.[field] : undefined;
      if (typeof name === "string") headers["mcp-name"] = headerSafe(name);
      return headers;
    }
    if (sessionId !== undefined) headers["mcp-session-id"] = sessionId;
    if (legacyVersion !== undefined) headers["mcp-protocol-version"] = legacyVersion;
    return headers;
  }

  /** Remembers what a new session must be told again after the old one expired. */
  function remember(message: JsonRpcMessage): void {
    const params = message.params as JsonObject | undefined;
    switch (message.method) {
      case "initialize":
        initializeMessage = message;
        break;
      case "logging/setLevel":
        logLevel = params;
        break;
      case "resources/subscribe":
        if (typeof params?.uri === "string") subscriptions.add(params.uri);
        break;
      case "resources/unsubscribe":
        if (typeof params?.uri === "string") subscriptions.delete(params.uri);
        break;
    }
  }

  /**
   * POSTs one message and delivers what comes back. `own`: a message of the transport itself
   * (re-initialization), whose answer is returned instead of delivered.
   */
  async function post(message: JsonRpcMessage, retried = false, own = false): Promise<JsonRpcMessage | undefined> {
    const id = typeof message.method === "string" ? message.id : undefined;
    const isRequest = typeof id === "number" || typeof id === "string";
    // One per POST: a CallCancellation, not an AbortController (daemon/call-signal.ts says why).
    const cancellation = new CallCancellation();
    const onAll = (): void => cancellation.abort();
    everything.signal.addEventListener("abort", onAll, { once: true });
    if (isRequest && !own) inFlight.set(inFlightKey(id), cancellation);
    const withSession = sessionId !== undefined;
    let ownAnswer: JsonRpcMessage | undefined;
    const answerSink: MessageSink = own
      ? { message: (m) => (m.id === id && !("method" in m) ? (ownAnswer = m) : deliver(m)), problem: sink.problem }
      : sink;
    let answered = false;
    const watching: MessageSink = {
      message: (m) => {
        if (isRequest && m.id === id && !("method" in m)) answered = true;
        if (m.id === id && message.method === "initialize" && m.result !== null && typeof m.result === "object") {
          const version = (m.result as JsonObject).protocolVersion;
          if (typeof version === "string") legacyVersion = version;
        }
        answerSink.message(m);
      },
      problem: answerSink.problem,
    };
    try {
      let response: RemoteResponse;
      try {
        response = await requester.send({ method: "POST", url, headers: headersFor(message), body: JSON.stringify(message), signal: cancellation });
      } catch (error) {
        // More scope for one request on a working connection: that request fails with the message naming the
        // command that grants it; the server stays up. While connecting, it is a sign-in the server needs.
        if (error instanceof UpstreamInsufficientScopeError && confirmed && !own) {
          if (isRequest) answerWithError(id, error.message);
          return undefined;
        }
        if (error instanceof UpstreamNeedsAuthError) {
          fail(error);
          return undefined;
        }
        if (cancellation.aborted) return undefined;
        if (isLost(error) && confirmed) {
          if (isRequest && !own) answerWithError(id, `${quoted}: the connection was lost before ${String(message.method)} was answered; the next request reconnects`);
          return undefined;
        }
        fail(new GatewayError("unavailable", `${quoted} is unreachable: ${describeNetworkError(error)}`, { cause: error }));
        return undefined;
      }
      const status = response.status;
      if (status === 404 && withSession && !retried && initializeMessage !== undefined && message.method !== "initialize") {
        await response.body.dump().catch(() => {});
        await reinitialize();
        if (closed) return undefined;
        return await post(message, true, own);
      }
      const type = headerValue(response.headers, "content-type") ?? "";
      if (status >= 200 && status < 300) {
        if (!confirmed) {
          confirmed = true;
          if (options.mode === "auto") options.onFlavour?.("streamable-http");
        }
        const session = headerValue(response.headers, "mcp-session-id");
        if (message.method === "initialize" && session !== undefined) sessionId = session;
        if (type.includes("text/event-stream")) await readEventStream(response.body, watching);
        else if (type.includes("application/json")) await readJsonBody(response.body, watching);
        else await response.body.dump();
        if (message.method === "notifications/initialized" && !own) openGetStream();
      } else {
        const text = await boundedText(response);
        const error = jsonRpcError(text);
        // A 400 to the era probe is the probe's answer even without a JSON-RPC body (a legacy server that wants
        // `initialize` first); any other 4xx before the first success means an HTTP+SSE server.
        const probeRefused = message.method === "server/discover" && status === 400;
        if (!confirmed && options.mode === "auto" && status >= 400 && status < 500 && !error && !own && !probeRefused) {
          await switchToSse(message);
          return undefined;
        }
        if (error && isRequest) watching.message({ jsonrpc: "2.0", id, error });
        else if (isRequest) answerWithError(id, `${quoted} answered ${String(message.method)} with HTTP ${status}`);
        else transport.onerror?.(new Error(`${quoted} answered a ${String(message.method ?? "response")} with HTTP ${status}`));
        answered = true;
      }
      if (isRequest && !answered && !cancellation.aborted && !own) {
        answerWithError(id, `${quoted}: the response stream of ${String(message.method)} ended without its result; the next request reconnects`);
      }
    } catch (error) {
      if (!cancellation.aborted && isRequest && !answered && !own) {
        answerWithError(id, `${quoted}: the connection was lost during ${String(message.method)} (it may have run); the next request reconnects`);
      } else if (!cancellation.aborted) {
        transport.onerror?.(error instanceof Error ? error : new Error(String(error)));
      }
    } finally {
      everything.signal.removeEventListener("abort", onAll);
      if (isRequest && inFlight.get(inFlightKey(id)) === cancellation) inFlight.delete(inFlightKey(id));
    }
    return ownAnswer;
  }

  /** The server does not speak Streamable HTTP: the legacy HTTP+SSE transport takes over and gets the message. */
  async function switchToSse(message: JsonRpcMessage): Promise<void> {
    const sse = createSseMessageTransport({ serverName, url, requester });
    sse.onmessage = (m) => deliver(m);
    sse.onerror = (error) => transport.onerror?.(error);
    sse.onclose = () => fail(sse.failure ?? new GatewayError("unavailable", `${quoted} closed its SSE stream`));
    try {
      await sse.start();
    } catch (error) {
      fail(error instanceof GatewayError ? error : new GatewayError("unavailable", `${quoted} speaks neither Streamable HTTP nor HTTP+SSE`, { cause: error }));
      return;
    }
    fallback = sse;
    options.onFlavour?.("sse");
    await sse.send(message).catch(() => {});
  }

  /** A new session after the old one expired (see the module comment); one at a time. */
  function reinitialize(): Promise<void> {
    reinitializing ??= (async () => {
      sessionId = undefined;
      getStream?.abort();
      getStream = undefined;
      const answer = await post({ ...initializeMessage!, id: `gateway-${++privateIds}` }, true, true);
      if (closed) return;
      if (!answer || answer.error !== undefined || sessionId === undefined) {
        fail(new GatewayError("unavailable", `${quoted}: its session expired and a new one could not be opened`));
        return;
      }
      await post({ jsonrpc: "2.0", method: "notifications/initialized" }, true, true);
      if (logLevel) await post({ jsonrpc: "2.0", id: `gateway-${++privateIds}`, method: "logging/setLevel", params: logLevel }, true, true);
      for (const uri of subscriptions) {
        await post({ jsonrpc: "2.0", id: `gateway-${++privateIds}`, method: "resources/subscribe", params: { uri } }, true, true);
      }
      openGetStream();
    })().finally(() => {
      reinitializing = undefined;
    });
    return reinitializing;
  }

  /**
   * The GET stream of a legacy session: what the server sends outside any request (list
   * changes, resource updates, its own requests). A 405 means it offers none. When it ends it
   * is opened again; a server that no longer answers closes the transport.
   */
  function openGetStream(): void {
    if (closed || sessionId === undefined || getStream) return;
    const controller = new AbortController();
    getStream = controller;
    const session = sessionId;
    void (async () => {
      for (let attempt = 0; !closed && !controller.signal.aborted && sessionId === session; attempt++) {
        let response: RemoteResponse;
        try {
          const headers: Record<string, string> = { accept: "text/event-stream", "mcp-session-id": session };
          if (legacyVersion !== undefined) headers["mcp-protocol-version"] = legacyVersion;
          response = await requester.send({ method: "GET", url, headers, signal: controller.signal });
        } catch (error) {
          if (controller.signal.aborted) return;
          if (error instanceof UpstreamInsufficientScopeError) {
            // More scope just to listen: do without the stream, as for any other refusal below; requests still work.
            if (getStream === controller) getStream = undefined;
            return;
          }
          if (error instanceof UpstreamNeedsAuthError) return fail(error);
          return fail(new GatewayError("unavailable", `${quoted} is unreachable: ${describeNetworkError(error)}`, { cause: error }));
        }
        const type = headerValue(response.headers, "content-type") ?? "";
        if (response.status === 404) {
          await response.body.dump().catch(() => {});
          if (getStream === controller) getStream = undefined;
          void reinitialize();
          return;
        }
        if (response.status !== 200 || !type.includes("text/event-stream")) {
          await response.body.dump().catch(() => {});
          if (getStream === controller) getStream = undefined;
          return; // 405: no stream offered; anything else: do without it
        }
        try {
          await readEventStream(response.body, sink);
        } catch {
          // the stream broke: open it again below
        }
        if (controller.signal.aborted) return;
        await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** Math.min(attempt, 5), 2000)).unref());
      }
    })();
  }

  const transport: RemoteMessageTransport = {
    get failure() {
      return failure ?? fallback?.failure;
    },
    async start() {
      if (options.mode === "http") options.onFlavour?.("streamable-http");
    },
    async send(message) {
      if (closed) throw new Error("transport closed");
      if (fallback) return fallback.send(message);
      if (message.method === "notifications/cancelled") {
        const requestId = (message.params as JsonObject | undefined)?.requestId;
        const key = typeof requestId === "string" || typeof requestId === "number" ? inFlightKey(requestId) : undefined;
        const stream = key === undefined ? undefined : inFlight.get(key);
        if (stream) {
          inFlight.delete(key!);
          // A modern request is cancelled by closing its stream; a legacy session is told first.
          if (sessionId !== undefined) await post(message);
          stream.abort();
          return;
        }
      }
      remember(message);
      if (!confirmed && typeof message.method === "string" && message.id !== undefined) {
        // The first exchange decides the transport: later messages wait for it (era probe, then initialize).
        await post(message);
        return;
      }
      void post(message);
    },
    async close() {
      if (closed) return;
      const session = sessionId;
      if (fallback) await fallback.close();
      fail(undefined);
      if (session !== undefined) {
        // Tell the server the session is over (it may answer 405: it then times it out by itself).
        const bye = new AbortController();
        const timer = setTimeout(() => bye.abort(), 2000);
        await requester
          .send({ method: "DELETE", url, headers: { "mcp-session-id": session, ...(legacyVersion ? { "mcp-protocol-version": legacyVersion } : {}) }, signal: bye.signal })
          .then((response) => response.body.dump())
          .catch(() => {});
        clearTimeout(timer);
      }
    },
  };
  return transport;
}

function isLost(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && LOST_CODES.has(code);
}

/** A network error for status and logs: its code, never the URL (which may hold credentials). */
function describeNetworkError(error: unknown): string {
  if (error instanceof GatewayError) return error.message;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string") return code;
  return error instanceof Error ? error.name : "network error";
}

/** Up to 64 KiB of an error body. */
async function boundedText(response: RemoteResponse): Promise<string> {
  const pieces: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      if (length < 65536) pieces.push(chunk);
      length += chunk.length;
    }
  } catch {
    // a broken error body is as good as none
  }
  return Buffer.concat(pieces).toString("utf8").slice(0, 65536);
}

/** The `error` of a JSON-RPC error response in `text`, if that is what it is. */
function jsonRpcError(text: string): JsonObject | undefined {
  try {
    const parsed = JSON.parse(text) as JsonObject;
    const error = parsed?.error as JsonObject | undefined;
    if (parsed?.jsonrpc === "2.0" && error && typeof error.code === "number" && typeof error.message === "string") return error;
  } catch {
    // not JSON
  }
  return undefined;
}

/** A header value as the specification carries it: as is when printable ASCII, else base64 in `=?base64?…?=`. */
function headerSafe(value: string): string {
  const printable = value.length > 0 && value === value.trim() && /^[\x20-\x7e\t]*$/.test(value) && !(value.startsWith("=?base64?") && value.endsWith("?="));
  return printable ? value : `=?base64?${Buffer.from(value, "utf8").toString("base64")}?=`;
}
