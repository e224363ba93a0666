/**
 * What the gateway observes of each operation a client asks of a server: the vocabulary shared by the metrics, the
 * audit log and `dsctl top`'s figures, which are all fed from one instrumentation point (daemon/mcp/operations.ts
 * calls `CallObserver.finished` once per tool call, prompt get and resource read, from sessions and typed RPCs alike).
 */

/** The audited operations, by their MCP method. */
export type CallOperation = "tools/call" | "prompts/get" | "resources/read";

/**
 * How an operation ended. `tool_error` is a tool result with `isError: true` (a result the gateway forwards as the
 * server's own bytes, which only large results are, is not inspected and counts as `ok`).
 */
export type CallOutcome = "ok" | "tool_error" | "error" | "denied" | "cancelled";

/** Every outcome, for metrics that are pre-declared and for argument validation. */
export const CALL_OUTCOMES: readonly CallOutcome[] = ["ok", "tool_error", "error", "denied", "cancelled"];

/** A client's protocol era: `legacy` (initialize and sessions); `modern` comes with the 2026-07-28 revision. */
export type ClientEra = "legacy" | "modern";

/** The transports a session arrives on, as metric label values (Prometheus labels use underscores). */
export type SessionTransportLabel = "streamable_http" | "sse" | "stdio" | "unspecified";

/** The caller of an operation as the audit log names it. */
export interface CallClient {
  /** `clientInfo.name` from `initialize`; `control-api` for typed RPCs. */
  readonly name?: string;
  /** Absent for the typed RPCs, which have no era. */
  readonly era?: ClientEra;
  /** A session's transport, or `control_api`. */
  readonly transport: SessionTransportLabel | "control_api";
}

/** The caller of the typed McpService RPCs. */
export const CONTROL_API_CLIENT: CallClient = { name: "control-api", transport: "control_api" };

/** What an operation resolved to, when its name was known. */
export interface CallTarget {
  readonly server: string;
  /** Tools only: the policy's identity of the tool. */
  readonly canonicalName?: string;
}

/** Maps a transport name as sessions carry it (`streamable-http`) to its label value. */
export function transportLabel(transport: string | undefined): SessionTransportLabel {
  switch (transport) {
    case "streamable-http":
    case "streamable_http":
      return "streamable_http";
    case "sse":
      return "sse";
    case "stdio":
      return "stdio";
    default:
      return "unspecified";
  }
}
