import type { Server } from "node:http";

/**
 * Limits against slow and greedy local clients, shared by the two HTTP listeners any local process can reach: the
 * frontend's MCP port and the daemon's control TCP listener. Why: without them one script can hold every connection
 * open by sending a request's headers or body a byte at a time (node's defaults wait 60 s for headers and 5 minutes
 * for a request), and open sockets without end.
 */
export interface HttpLimits {
  /** Time allowed to receive a request's headers (node `headersTimeout`); past it the connection is closed (408). */
  readonly headersTimeoutMs: number;
  /**
   * Time allowed to receive a whole request, headers and body (node `requestTimeout`): a body that trickles is cut
   * off (408, connection closed). A response streamed back (SSE) is not limited: the request ended before it.
   */
  readonly requestTimeoutMs: number;
  /** Open connections at once; more are closed at accept, before a byte is read. */
  readonly maxConnections: number;
}

/** Defaults: generous for any real client on loopback, short enough that a trickling client cannot hold a slot. */
export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  maxConnections: 1024,
};

/**
 * Applies `limits` to a node HTTP/1.1 server. Call before `listen`: node starts its timeout checker when the server
 * starts listening, checking every `connectionsCheckingInterval`, here a quarter of the shortest timeout (at most 1 s)
 * so a cut-off happens close to the configured time.
 */
export function applyHttpLimits(server: Server, limits: HttpLimits): void {
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.maxConnections = limits.maxConnections;
  const shortest = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  (server as unknown as { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.max(10, Math.min(1000, Math.floor(shortest / 4)));
}

/**
 * Checks limits from configuration; throws an Error naming the field. `requestTimeoutMs` covers the headers too, so
 * it may not be shorter than `headersTimeoutMs` (node refuses that combination as well).
 */
export function checkHttpLimits(limits: HttpLimits, fieldPrefix = ""): void {
  const integer = (field: keyof HttpLimits, min: number, max: number): void => {
    const value = limits[field];
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      throw new Error(`config field "${fieldPrefix}${field}" must be an integer from ${min} to ${max}`);
    }
  };
  integer("headersTimeoutMs", 1, 2 ** 31 - 1);
  integer("requestTimeoutMs", 1, 2 ** 31 - 1);
  integer("maxConnections", 1, 1_000_000);
  if (limits.requestTimeoutMs < limits.headersTimeoutMs) {
    throw new Error(`config field "${fieldPrefix}requestTimeoutMs" must not be shorter than "${fieldPrefix}headersTimeoutMs"`);
  }
}
