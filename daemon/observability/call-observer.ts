/**
 * The one instrumentation point of the data plane. The MCP operations (daemon/mcp/operations.ts) and the engine's
 * sessions report to it, and it feeds the Prometheus metrics, the audit log and the windowed figures of `dsctl top`
 * alike, so the three can never disagree about what happened.
 *
 * Its methods take positional arguments, never an options object: they run once per call on the hot path, and a
 * call should cost the gateway no allocation beyond the audit line itself (when the audit log is on).
 */
import type { CallClient, CallOperation, ClientEra, SessionTransportLabel } from "./call-record.js";

/** What the data plane reports. */
export interface CallObserver {
  /** A monotonic timestamp in milliseconds, taken when an operation starts and handed back to `finished`. */
  now(): number;
  /**
   * An operation ended. `name` is what the client asked for (exposed tool or prompt name, resource URI); `server`
   * and `canonicalName` are undefined when it did not resolve; exactly one of `result` and `error` is meaningful
   * (`error` undefined means success).
   */
  finished(
    operation: CallOperation,
    name: string,
    server: string | undefined,
    canonicalName: string | undefined,
    client: CallClient | undefined,
    args: unknown,
    startedAt: number,
    result: unknown,
    error: unknown,
  ): void;
  /** A request was forwarded to a server (`failed`: it ended with an error, a JSON-RPC one or the gateway's). */
  upstream(server: string, method: string, failed: boolean): void;
  /** A client session opened or closed. */
  sessionOpened(era: ClientEra, transport: SessionTransportLabel): void;
  sessionClosed(era: ClientEra, transport: SessionTransportLabel): void;
  /** Bytes of MCP messages from clients (`received`) and to them (`sent`), by transport. */
  bytes(direction: "received" | "sent", transport: SessionTransportLabel, count: number): void;
}

/** An observer that records nothing: the default for engines built in tests and tools. */
export const nullCallObserver: CallObserver = {
  now: () => 0,
  finished: () => undefined,
  upstream: () => undefined,
  sessionOpened: () => undefined,
  sessionClosed: () => undefined,
  bytes: () => undefined,
};
