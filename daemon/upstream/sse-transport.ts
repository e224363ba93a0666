import { GatewayError } from "../errors.js";
import { readEventStream } from "./http-messages.js";
import { headerValue, UpstreamInsufficientScopeError, UpstreamNeedsAuthError, type RemoteRequester } from "./http-request.js";
import type { JsonRpcMessage, MessageTransport } from "./message-transport.js";
import { sameOrigin } from "./remote-url.js";

/**
 * The legacy HTTP+SSE transport (MCP 2024-11-05, "Transports › HTTP with SSE"), as a client:
 * a GET opens an event stream whose first event, `endpoint`, names the URL to POST messages to;
 * every message from the server then arrives as a `message` event on that stream. The stream is
 * the session: when it ends the transport closes, and the owner connects again (a new session,
 * so a new `initialize`). Deprecated by the specification, still served by many remote servers.
 */

/** A transport whose end may have a reason the owner acts on (NEEDS_AUTH, unreachable). */
export interface RemoteMessageTransport extends MessageTransport {
  /** Why the transport closed by itself, once it did (undefined after an ordinary `close()`). */
  readonly failure: Error | undefined;
}

/** Options of `createSseMessageTransport`. */
export interface SseTransportOptions {
  readonly serverName: string;
  /** The SSE URL (the configured `url`). */
  readonly url: URL;
  readonly requester: RemoteRequester;
  /** Bound on waiting for the `endpoint` event. */
  readonly endpointTimeoutMs?: number;
}

/** Opens the legacy HTTP+SSE transport of one server (see the module comment). */
export function createSseMessageTransport(options: SseTransportOptions): RemoteMessageTransport {
  const { serverName, url, requester } = options;
  const quoted = `server "${serverName}"`;
  const stream = new AbortController();
  let endpoint: URL | undefined;
  let closed = false;
  let failure: Error | undefined;

  const finish = (error?: Error): void => {
    if (closed) return;
    closed = true;
    failure = error;
    stream.abort();
    transport.onclose?.();
  };

  const transport: RemoteMessageTransport = {
    get failure() {
      return failure;
    },
    async start() {
      const timeoutMs = options.endpointTimeoutMs ?? 30_000;
      const opened = await requester.send({
        method: "GET",
        url,
        headers: { accept: "text/event-stream", "cache-control": "no-cache" },
        signal: stream.signal,
      });
      const type = headerValue(opened.headers, "content-type") ?? "";
      if (opened.status !== 200 || !type.includes("text/event-stream")) {
        await opened.body.dump().catch(() => {});
        throw new GatewayError("unavailable", `${quoted} answered HTTP ${opened.status} to the SSE stream request`);
      }
      let gotEndpoint!: () => void;
      let badEndpoint!: (error: Error) => void;
      const endpointKnown = new Promise<void>((resolve, reject) => {
        gotEndpoint = resolve;
        badEndpoint = reject;
      });
      void readEventStream(
        opened.body,
        {
          message: (message) => deliver(message),
          problem: (error) => transport.onerror?.(error),
        },
        (event) => {
          if (event.event !== "endpoint") return false;
          try {
            const target = new URL(event.data.trim(), opened.url);
            // Messages carry the configured credentials: they go to the server's own origin only.
            if (!sameOrigin(target, url)) throw new Error("another origin");
            endpoint = target;
            gotEndpoint();
          } catch {
            badEndpoint(new GatewayError("unavailable", `${quoted} named an endpoint the gateway does not post to (not its own origin)`));
          }
          return true;
        },
      ).then(
        () => finish(closed ? undefined : new GatewayError("unavailable", `${quoted} ended its SSE stream`)),
        (error: unknown) => finish(stream.signal.aborted ? undefined : new GatewayError("unavailable", `${quoted}: the SSE stream broke`, { cause: error })),
      );
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new GatewayError("unavailable", `${quoted} sent no endpoint event on its SSE stream`)), timeoutMs);
        timer.unref();
      });
      try {
        await Promise.race([endpointKnown, timedOut]);
      } catch (error) {
        finish();
        throw error;
      } finally {
        clearTimeout(timer);
      }
    },
    async send(message: JsonRpcMessage) {
      if (closed || !endpoint) throw new Error("transport closed");
      let response;
      try {
        response = await requester.send({
          method: "POST",
          url: endpoint,
          headers: { "content-type": "application/json" },
          body: JSON.stringify(message),
        });
      } catch (error) {
        // More scope for one message: a request fails with the message (a notification or a response is dropped);
        // the stream and the rest go on.
        if (error instanceof UpstreamInsufficientScopeError) {
          const id = message.id;
          if (typeof message.method === "string" && (typeof id === "number" || typeof id === "string")) {
            deliver({ jsonrpc: "2.0", id, error: { code: -32603, message: error.message } });
          }
          return;
        }
        if (error instanceof UpstreamNeedsAuthError) finish(error);
        throw error;
      }
      await response.body.dump().catch(() => {});
      if (response.status >= 300) {
        const id = message.id;
        if (typeof message.method === "string" && (typeof id === "number" || typeof id === "string")) {
          deliver({ jsonrpc: "2.0", id, error: { code: -32603, message: `${quoted} refused the message (HTTP ${response.status})` } });
        }
      }
    },
    async close() {
      finish();
    },
  };

  function deliver(message: JsonRpcMessage): void {
    try {
      transport.onmessage?.(message);
    } catch (error) {
      transport.onerror?.(error instanceof Error ? error : new Error(String(error)));
    }
  }

  return transport;
}
