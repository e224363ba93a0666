/**
 * The daemon's observability: the `CallObserver` that the data plane reports to, fanning each event out to the
 * Prometheus metrics (gateway-metrics.ts), the windowed figures of `dsctl top` (call-stats.ts) and the audit log
 * (audit-log.ts). One place decides an operation's outcome and error code, so the three agree by construction.
 */
import { GatewayError } from "../errors.js";
import { maskJsonValue, type Masker } from "../supervisor/masking.js";
import { RawJson } from "../upstream/raw-json.js";
import { UpstreamRpcError } from "../upstream/types.js";
import type { AuditConfig } from "../config/types.js";
import { auditArguments } from "./audit-arguments.js";
import { isoTime } from "./audit-line.js";
import type { AuditLog, AuditRecord } from "./audit-log.js";
import type { CallObserver } from "./call-observer.js";
import type { CallClient, CallOutcome, ClientEra, SessionTransportLabel } from "./call-record.js";
import { createCallStats, type CallStats } from "./call-stats.js";
import type { GatewayMetrics } from "./gateway-metrics.js";

/**
 * A team's `audit:` settings, with defaults applied: on by default (the audit log is how a team answers "who called
 * what"), arguments `none`.
 */
export type AuditSettings = AuditConfig;

/** The settings when a team has no `audit:` section. */
export const DEFAULT_AUDIT_SETTINGS: AuditSettings = { enabled: true, arguments: "none" };

/** Open sessions of one era and transport. */
export interface SessionCount {
  readonly era: ClientEra;
  readonly transport: SessionTransportLabel;
  readonly open: number;
}

/** Options of `createObservability`. */
export interface ObservabilityOptions {
  readonly metrics: GatewayMetrics;
  readonly audit: AuditLog;
  /** The current team's id and audit settings (read per operation: a team switch applies at once). */
  readonly team: () => { readonly id: string; readonly audit: AuditSettings };
  /** The signed-in account, when there is one. */
  readonly account: () => string | undefined;
  /** Masks every configured server's secrets (for names a client sent and `full` arguments). */
  readonly masker: () => Masker;
  /** The installation's audit key (audit-key.ts). */
  readonly auditKey: () => Buffer;
  /** Wall clock in epoch ms; default `Date.now`. */
  readonly wallClock?: () => number;
  /** Monotonic clock in ms; default `performance.now`. */
  readonly monotonic?: () => number;
}

/** The daemon's observability. */
export interface Observability extends CallObserver {
  readonly metrics: GatewayMetrics;
  readonly stats: CallStats;
  readonly audit: AuditLog;
  /** Open sessions by era and transport (non-zero ones). */
  sessions(): SessionCount[];
  /** Wall clock (epoch ms), the time base of `stats`. */
  wallNow(): number;
}

/** The outcome of an operation that ended with `result` or `error`. */
export function callOutcome(result: unknown, error: unknown): CallOutcome {
  if (error === undefined) {
    const isToolError = typeof result === "object" && result !== null && !(result instanceof RawJson) && (result as { isError?: unknown }).isError === true;
    return isToolError ? "tool_error" : "ok";
  }
  if (error instanceof GatewayError) {
    if (error.kind === "permission_denied") return "denied";
    if (error.kind === "cancelled") return "cancelled";
  }
  return "error";
}

/** The error code an audit record names: a gateway error kind or a JSON-RPC code; never a message. */
export function callErrorCode(error: unknown): string | undefined {
  if (error === undefined) return undefined;
  if (error instanceof GatewayError) return error.kind;
  if (error instanceof UpstreamRpcError) return String(error.code);
  return "internal";
}

/** Distinct clients whose audit description is remembered (names come from clients: the memory stays bounded). */
const MAX_AUDIT_CLIENTS = 256;

const UNSPECIFIED_CLIENT: AuditRecord["client"] = { transport: "unspecified" };

/** A record under construction (finished() assigns its fields in order). */
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Creates the observer and its sinks. */
export function createObservability(options: ObservabilityOptions): Observability {
  const { metrics, audit } = options;
  const wallNow = options.wallClock ?? Date.now;
  const monotonic = options.monotonic ?? (() => performance.now());
  const stats = createCallStats();
  const open = new Map<string, SessionCount & { open: number }>();

  const sessionEntry = (era: ClientEra, transport: SessionTransportLabel): { open: number } => {
    const key = `${era} ${transport}`;
    let entry = open.get(key);
    if (!entry) open.set(key, (entry = { era, transport, open: 0 }));
    return entry;
  };

  // A client's audit description repeats on every call it makes: made (its name masked) once per client and masker
  // (the masker changes with the team), and the same object each time, so the line writer keeps its text too
  // (audit-line.ts). Found by the caller's identity object first (a session's, or a stateless channel's per client
  // name: modern-requests.ts `clientNamed`), else by the client's name, era and transport (another object, same client).
  let clientsMaskedBy: Masker | undefined;
  const auditClients = new Map<string, AuditRecord["client"]>();
  let auditClientsByObject = new WeakMap<CallClient, AuditRecord["client"]>();
  const auditClient = (mask: Masker, client: CallClient): AuditRecord["client"] => {
    if (mask !== clientsMaskedBy || auditClients.size >= MAX_AUDIT_CLIENTS) {
      auditClients.clear();
      auditClientsByObject = new WeakMap();
      clientsMaskedBy = mask;
    }
    let described = auditClientsByObject.get(client);
    if (described !== undefined) return described;
    const key = `${client.transport}\u0000${client.era ?? ""}\u0000${client.name ?? "\u0000"}`;
    described = auditClients.get(key);
    if (described === undefined) {
      const named = {} as Mutable<AuditRecord["client"]>;
      if (client.name !== undefined) named.name = mask(client.name);
      if (client.era) named.era = client.era;
      named.transport = client.transport;
      auditClients.set(key, (described = named));
    }
    auditClientsByObject.set(client, described);
    return described;
  };

  return {
    metrics,
    stats,
    audit,
    wallNow,
    now: monotonic,
    finished(operation, name, server, canonicalName, client, args, startedAt, result, error) {
      const durationMs = monotonic() - startedAt;
      const outcome = callOutcome(result, error);
      const now = wallNow();
      metrics.observeCall(operation, server, operation === "tools/call" ? name : undefined, outcome, durationMs / 1000);
      if (server !== undefined) stats.record(server, operation === "tools/call" ? name : undefined, outcome !== "ok", durationMs, now);
      const team = options.team();
      if (!team.audit.enabled) return;
      const mask = options.masker();
      const errorCode = callErrorCode(error);
      const account = options.account();
      const kept =
        team.audit.arguments === "none"
          ? undefined
          : auditArguments(team.audit.arguments, args, { key: options.auditKey, mask: (value) => maskJsonValue(mask, value) });
      // Built by assignment in the record's key order (JSON keeps insertion order, so the line is the same) instead of
      // spreading a temporary object per optional field: this runs once per call and the spreads cost ~1 µs each time.
      const record = { time: isoTime(now), team: team.id } as Mutable<AuditRecord>;
      if (account !== undefined) record.account = account;
      record.client = client ? auditClient(mask, client) : UNSPECIFIED_CLIENT;
      record.operation = operation;
      // A resource URI or an unresolved name is whatever the client sent: masked like server text.
      record.name = server !== undefined && operation !== "resources/read" ? name : mask(name);
      if (canonicalName !== undefined) record.canonicalName = canonicalName;
      if (server !== undefined) record.server = server;
      record.outcome = outcome;
      record.durationMs = Math.round(durationMs * 1000) / 1000;
      if (errorCode !== undefined) record.errorCode = errorCode;
      if (kept) record.arguments = kept;
      audit.append(record);
    },
    upstream: (server, method, failed) => metrics.upstream(server, method, failed),
    sessionOpened(era, transport) {
      sessionEntry(era, transport).open++;
      metrics.sessionOpened(era, transport);
    },
    sessionClosed(era, transport) {
      const entry = sessionEntry(era, transport);
      entry.open = Math.max(0, entry.open - 1);
      metrics.sessionClosed(era, transport);
    },
    bytes: (direction, transport, count) => metrics.bytes(direction, transport, count),
    sessions: () => [...open.values()].filter((entry) => entry.open > 0).map(({ era, transport, open: count }) => ({ era, transport, open: count })),
  };
}
