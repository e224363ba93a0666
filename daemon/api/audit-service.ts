/**
 * `AuditService`: the audit log (daemon/observability/audit-log.ts) on the control API. A thin adapter: filters
 * and records are converted here, reading and following are the log's.
 */
import { create, type JsonObject } from "@bufbuild/protobuf";
import { timestampDate, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { AuditArgumentsSchema, AuditClientSchema, AuditEventSchema, AuditOperation, AuditOutcome, type AuditEvent } from "../../gen/deploystack/gateway/v1/audit_pb.js";
import {
  AuditService,
  ListAuditEventsResponseSchema,
  WatchAuditEventsResponseSchema,
  type AuditFilter as ProtoAuditFilter,
} from "../../gen/deploystack/gateway/v1/audit_service_pb.js";
import { durationFromFractionalMs } from "./proto-duration.js";
import { auditRecordMatches, type AuditFilter, type AuditLog, type AuditRecord } from "../observability/audit-log.js";
import type { CallOperation, CallOutcome } from "../observability/call-record.js";
import { createAsyncQueue } from "./async-queue.js";

/** What `AuditService` needs. */
export interface AuditServiceDeps {
  readonly audit: AuditLog;
}

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 10_000;
/** How many new events may wait for a slow watcher before its stream is ended. */
const WATCH_BUFFER = 10_000;

const operationToProto: Record<CallOperation, AuditOperation> = {
  "tools/call": AuditOperation.TOOL_CALL,
  "prompts/get": AuditOperation.PROMPT_GET,
  "resources/read": AuditOperation.RESOURCE_READ,
};

const outcomeToProto: Record<CallOutcome, AuditOutcome> = {
  ok: AuditOutcome.OK,
  tool_error: AuditOutcome.TOOL_ERROR,
  error: AuditOutcome.ERROR,
  denied: AuditOutcome.DENIED,
  cancelled: AuditOutcome.CANCELLED,
};

const outcomeFromProto = new Map<AuditOutcome, CallOutcome>(Object.entries(outcomeToProto).map(([domain, proto]) => [proto, domain as CallOutcome]));

/** An audit line as an `AuditEvent`. */
export function auditRecordToProto(record: AuditRecord): AuditEvent {
  const args = record.arguments;
  return create(AuditEventSchema, {
    time: timestampFromMs(Date.parse(record.time)),
    team: record.team,
    account: record.account ?? "",
    client: create(AuditClientSchema, { name: record.client.name ?? "", era: record.client.era ?? "", transport: record.client.transport }),
    operation: operationToProto[record.operation] ?? AuditOperation.UNSPECIFIED,
    exposedName: record.name,
    canonicalName: record.canonicalName ?? "",
    server: record.server ?? "",
    outcome: outcomeToProto[record.outcome] ?? AuditOutcome.UNSPECIFIED,
    duration: durationFromFractionalMs(record.durationMs),
    errorCode: record.errorCode ?? "",
    arguments: create(AuditArgumentsSchema, {
      mode: args?.mode ?? "none",
      keys: [...(args?.keys ?? [])],
      hash: args?.hash ?? "",
      values: args?.values !== undefined ? (args.values as JsonObject) : undefined,
    }),
  });
}

/** The domain filter of a request's filter. */
export function auditFilterFromProto(filter: ProtoAuditFilter | undefined): AuditFilter {
  if (!filter) return {};
  let outcome: CallOutcome | undefined;
  if (filter.outcome !== AuditOutcome.UNSPECIFIED) {
    outcome = outcomeFromProto.get(filter.outcome);
    if (outcome === undefined) throw new ConnectError(`unknown outcome ${filter.outcome}`, Code.InvalidArgument);
  }
  return {
    ...(filter.server !== "" ? { server: filter.server } : {}),
    ...(filter.tool !== "" ? { tool: filter.tool } : {}),
    ...(outcome !== undefined ? { outcome } : {}),
    ...(filter.since ? { since: timestampDate(filter.since).getTime() } : {}),
  };
}

/** Registers `AuditService`. */
export function auditServiceRoutes(deps: AuditServiceDeps): (router: ConnectRouter) => void {
  return (router) => {
    router.service(AuditService, {
      async listAuditEvents(req) {
        const filter = auditFilterFromProto(req.filter);
        const limit = req.limit === 0 ? DEFAULT_LIMIT : Math.min(req.limit, MAX_LIMIT);
        const records = await deps.audit.list(filter, limit);
        return create(ListAuditEventsResponseSchema, { events: records.map(auditRecordToProto) });
      },
      async *watchAuditEvents(req, context) {
        const filter = auditFilterFromProto(req.filter);
        const queue = createAsyncQueue<AuditRecord>(WATCH_BUFFER, context.signal);
        // Subscribed before the tail is read, so that no event recorded meanwhile is lost.
        const unsubscribe = req.follow
          ? deps.audit.subscribe((record) => {
              if (!auditRecordMatches(record, filter)) return;
              if (!queue.push(record)) queue.end(new ConnectError("audit stream fell behind; reconnect", Code.ResourceExhausted));
            })
          : undefined;
        try {
          const tail = req.tail === 0 ? [] : await deps.audit.list(filter, Math.min(req.tail, MAX_LIMIT));
          for (const record of tail) yield create(WatchAuditEventsResponseSchema, { event: auditRecordToProto(record) });
          if (!req.follow) return;
          // Events recorded while the tail was read may be in it already: those at the queue's head are skipped.
          const sent = new Set(tail.map((record) => JSON.stringify(record)));
          for await (const record of queue) {
            if (sent.size > 0) {
              if (sent.delete(JSON.stringify(record))) continue;
              sent.clear();
            }
            yield create(WatchAuditEventsResponseSchema, { event: auditRecordToProto(record) });
          }
        } finally {
          unsubscribe?.();
        }
      },
    });
  };
}
