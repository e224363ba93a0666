/** The audit record (its own module, so that the log and the line writer both use it without an import circle). */
import type { AuditArguments } from "./audit-arguments.js";
import type { CallOperation, CallOutcome } from "./call-record.js";

/** One audit line, as written (JSON, one per line). */
export interface AuditRecord {
  /** ISO 8601, when the operation ended. */
  readonly time: string;
  readonly team: string;
  readonly account?: string;
  readonly client: { readonly name?: string; readonly era?: string; readonly transport: string };
  readonly operation: CallOperation;
  /** The exposed tool or prompt name, or the resource URI, as the client sent it (secrets masked). */
  readonly name: string;
  readonly canonicalName?: string;
  readonly server?: string;
  readonly outcome: CallOutcome;
  readonly durationMs: number;
  /** A gateway error kind or a JSON-RPC error code; absent on success. */
  readonly errorCode?: string;
  readonly arguments?: AuditArguments;
}
