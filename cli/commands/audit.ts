/**
 * `dsctl audit [-f] [-n N] [--json] [--server S] [--tool T] [--outcome O]`: the audit log (AuditService), one line
 * per tool call, prompt get or resource read, oldest first; `-f` keeps printing new ones until Ctrl-C.
 */
import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { AuditOperation, AuditOutcome, type AuditEvent } from "../../gen/deploystack/gateway/v1/audit_pb.js";
import { AuditService, WatchAuditEventsResponseSchema } from "../../gen/deploystack/gateway/v1/audit_service_pb.js";
import type { CliIo } from "../io.js";
import { durationMs, escapeControls, formatTimestamp, printJsonLine } from "../output.js";

/** A client of `AuditService`. */
export type AuditClient = Client<typeof AuditService>;

/** Creates an `AuditService` client on a transport to the daemon. */
export function createAuditClient(transport: Transport): AuditClient {
  return createClient(AuditService, transport);
}

/** The outcomes as the `--outcome` option spells them. */
export const AUDIT_OUTCOME_CHOICES = ["ok", "tool_error", "error", "denied", "cancelled"] as const;

/** Arguments of `dsctl audit`. */
export interface AuditArgs {
  readonly follow?: boolean;
  /** How many recent events first; default 20. */
  readonly lines?: number;
  readonly json?: boolean;
  readonly server?: string;
  readonly tool?: string;
  readonly outcome?: (typeof AUDIT_OUTCOME_CHOICES)[number];
  /** Aborts the follow stream (Ctrl-C). */
  readonly signal?: AbortSignal;
}

const outcomeByName: Record<(typeof AUDIT_OUTCOME_CHOICES)[number], AuditOutcome> = {
  ok: AuditOutcome.OK,
  tool_error: AuditOutcome.TOOL_ERROR,
  error: AuditOutcome.ERROR,
  denied: AuditOutcome.DENIED,
  cancelled: AuditOutcome.CANCELLED,
};

const operationNames: Record<AuditOperation, string> = {
  [AuditOperation.UNSPECIFIED]: "?",
  [AuditOperation.TOOL_CALL]: "tool",
  [AuditOperation.PROMPT_GET]: "prompt",
  [AuditOperation.RESOURCE_READ]: "resource",
};

const outcomeNames: Record<AuditOutcome, string> = {
  [AuditOutcome.UNSPECIFIED]: "?",
  [AuditOutcome.OK]: "ok",
  [AuditOutcome.TOOL_ERROR]: "tool_error",
  [AuditOutcome.ERROR]: "error",
  [AuditOutcome.DENIED]: "denied",
  [AuditOutcome.CANCELLED]: "cancelled",
};

/** One event as a human line: time, outcome, operation, name, server, duration, client, error code. */
export function formatAuditEvent(event: AuditEvent): string {
  const ms = durationMs(event.duration) + ((event.duration?.nanos ?? 0) % 1e6) / 1e6;
  const client = [event.client?.name || "-", event.client?.transport].filter(Boolean).join("/");
  const parts = [
    formatTimestamp(event.time),
    outcomeNames[event.outcome].padEnd(10),
    operationNames[event.operation].padEnd(8),
    event.exposedName,
    event.server ? `server=${event.server}` : "",
    `${ms < 10 ? ms.toFixed(1) : Math.round(ms)}ms`,
    `client=${client}`,
    event.errorCode ? `error=${event.errorCode}` : "",
    event.account ? `account=${event.account}` : "",
    event.arguments?.hash ? `args#${event.arguments.hash.slice(0, 12)}` : event.arguments?.keys.length ? `args=${event.arguments.keys.join(",")}` : "",
  ];
  return `${escapeControls(parts.filter((part) => part !== "").join("  "), { singleLine: true })}\n`;
}

/** Prints the recent events and, with `follow`, new ones. */
export async function showAudit(client: AuditClient, args: AuditArgs, io: CliIo): Promise<number> {
  const filter = {
    server: args.server ?? "",
    tool: args.tool ?? "",
    outcome: args.outcome ? outcomeByName[args.outcome] : AuditOutcome.UNSPECIFIED,
  };
  const stream = client.watchAuditEvents({ filter, tail: args.lines ?? 20, follow: args.follow ?? false }, { signal: args.signal });
  try {
    for await (const response of stream) {
      if (args.json) printJsonLine(io, WatchAuditEventsResponseSchema, response);
      else if (response.event) io.stdout.write(formatAuditEvent(response.event));
    }
  } catch (error) {
    if (args.signal?.aborted && error instanceof ConnectError && error.code === Code.Canceled) return 0;
    throw error;
  }
  return 0;
}
