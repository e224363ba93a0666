import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import { AuditOutcome, AuditOperation } from "../../gen/deploystack/gateway/v1/audit_pb.js";
import { ProtocolEra, ServerState, type Server } from "../../gen/deploystack/gateway/v1/server_pb.js";

/** Human words for the values the API sends as enums and well-known types. */

/** `RUNNING` → "running". */
export function stateName(state: ServerState): string {
  return (ServerState[state] ?? "unknown").toLowerCase();
}

/** The era the daemon speaks to a server in ("legacy", "modern"); "" before it is known. */
export function eraOf(server: Server): string {
  return server.protocolEra === ProtocolEra.UNSPECIFIED ? "" : (ProtocolEra[server.protocolEra] ?? "").toLowerCase();
}

/** An audit outcome in words. */
export function outcomeName(outcome: AuditOutcome): string {
  return (AuditOutcome[outcome] ?? "unknown").toLowerCase().replace(/_/g, " ");
}

/** An audit operation in words. */
export function operationName(operation: AuditOperation): string {
  switch (operation) {
    case AuditOperation.TOOL_CALL:
      return "tool";
    case AuditOperation.PROMPT_GET:
      return "prompt";
    case AuditOperation.RESOURCE_READ:
      return "resource";
    default:
      return "?";
  }
}

/** Milliseconds of a Duration (0 when unset). */
export function durationMs(duration: Duration | undefined): number {
  if (!duration) return 0;
  return Number(duration.seconds) * 1000 + duration.nanos / 1e6;
}

/** "12 ms", "1.4 s", "3 min", "2 h". */
export function formatMs(ms: number): string {
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

/** The local wall-clock time of a Timestamp ("14:03:07"). */
export function clockTime(time: Timestamp | undefined): string {
  if (!time) return "";
  const date = new Date(Number(time.seconds) * 1000 + time.nanos / 1e6);
  return date.toLocaleTimeString([], { hour12: false });
}
