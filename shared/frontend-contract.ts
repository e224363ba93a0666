/**
 * The process contract between the daemon and the frontend it supervises, in one place
 * because both sides must agree on it byte for byte and neither may import the other:
 * - the daemon passes the settings as JSON in the `DEPLOYSTACK_FRONTEND_CONFIG` variable
 *   (no secret travels this way: the frontend reads `client.token` from the state folder);
 * - once listening, the frontend prints exactly one stdout line
 *   `{"event":"listening","port":N}` (with port 0 in tests, the only way to learn the port).
 */

import type { HttpLimits } from "./http-limits.js";

/** The environment variable that carries `FrontendProcessConfig` as JSON. */
export const FRONTEND_CONFIG_ENV = "DEPLOYSTACK_FRONTEND_CONFIG";

/** How MCP clients authenticate to the frontend: nobody (loopback is enough), or a bearer token from a 0600 file. */
export type ClientAuthMode = "none" | "token";

/** What the daemon tells the frontend. */
export interface FrontendProcessConfig {
  /** Listen address; loopback only (127.0.0.1, ::1 or localhost), anything else is refused. */
  readonly host: string;
  /** Listen port; 0 picks a free one (tests), reported back in the listening line. */
  readonly port: number;
  /** The daemon's control socket (McpService lives there). */
  readonly controlSocket: string;
  /** Browser origins allowed besides the gateway's own loopback origin. */
  readonly allowedOrigins: readonly string[];
  readonly clientAuth: ClientAuthMode;
  /** A session with no traffic for this long ends. */
  readonly sessionIdleTimeoutMs: number;
  /** Concurrent sessions; past it new sessions get 503. */
  readonly maxSessions: number;
  /** A session unused after it opened ends after this long (`gateway.sessionInitTimeout`); absent: the frontend's default. */
  readonly sessionInitTimeoutMs?: number;
  /** The MCP port's HTTP limits the team file sets (`gateway.http`); each one absent keeps the frontend's default. */
  readonly headersTimeoutMs?: HttpLimits["headersTimeoutMs"];
  readonly requestTimeoutMs?: HttpLimits["requestTimeoutMs"];
  readonly maxConnections?: HttpLimits["maxConnections"];
  /** Where to write hop timings (shared/hop-timing.ts); empty or absent: timing off. */
  readonly hopTimingDir?: string;
}

/** The line the frontend prints once it listens. */
export function formatListeningLine(port: number): string {
  return `${JSON.stringify({ event: "listening", port })}\n`;
}

/** The port of a `{"event":"listening","port":N}` line, or undefined for any other line. */
export function parseListeningLine(line: string): number | undefined {
  try {
    const value = JSON.parse(line) as { event?: unknown; port?: unknown };
    if (value.event === "listening" && typeof value.port === "number" && Number.isInteger(value.port) && value.port > 0) {
      return value.port;
    }
  } catch {
    // not the listening line
  }
  return undefined;
}
