import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  LogLineSchema,
  LogSource,
  ProtocolEra,
  ServerSchema,
  ServerState,
  ServerTransport,
  StartupMode,
  type LogLine,
  type Server,
} from "../../gen/deploystack/gateway/v1/server_pb.js";
import { ConfigErrorSchema, ServerCountsSchema, EventSchema, type ConfigError, type Event, type ServerCounts } from "../../gen/deploystack/gateway/v1/gateway_pb.js";
import {
  PolicyDecisionSchema,
  ServerChangeKind,
  ServerChangeSchema,
  TeamSchema,
  type PolicyDecision,
  type ServerChange as ProtoServerChange,
  type Team,
} from "../../gen/deploystack/gateway/v1/team_pb.js";
import { UserSchema, type User } from "../../gen/deploystack/gateway/v1/auth_pb.js";
import type { CloudUser } from "../cloud/cloud-contract.js";
import type { PolicyDecision as DomainPolicyDecision } from "../policy/access-policy.js";
import type { TeamConfig } from "../config/types.js";
import type { GatewayEvent, ServerChange } from "../events.js";
import type { LogEntry, LogSource as DomainLogSource, ServerSnapshot, ServerState as DomainServerState } from "../supervisor/types.js";
import type { HiddenToolReason, ToolCount } from "../mcp/registry.js";

/**
 * Domain → proto conversions for the control API. The domain never sees proto types; these
 * functions are the only place that knows both. Snapshots carry env variable names only, so
 * nothing here can leak a secret value.
 */

const stateToProto: Readonly<Record<DomainServerState, ServerState>> = {
  stopped: ServerState.STOPPED,
  starting: ServerState.STARTING,
  running: ServerState.RUNNING,
  backoff: ServerState.BACKOFF,
  failed: ServerState.FAILED,
  idle: ServerState.IDLE,
  unhealthy: ServerState.UNHEALTHY,
  needs_auth: ServerState.NEEDS_AUTH,
  invalid: ServerState.INVALID,
};

/** The proto `ServerState` of a domain state. */
export function serverStateToProto(state: DomainServerState): ServerState {
  return stateToProto[state];
}

/**
 * A server snapshot as the control API's `Server`; `now` (epoch ms) computes the uptime. `tools` is the
 * registry's count for it (`Registry.toolCounts`, the one definition of a tool count); without a registry
 * (adapter tests) the supervisor's discovered count stands in.
 */
export function serverToProto(snapshot: ServerSnapshot, now: number = Date.now(), tools?: ToolCount): Server {
  // A remote server has no pid: its uptime is its connection's.
  const running = (snapshot.pid !== undefined || (snapshot.url !== undefined && snapshot.state === "running")) && snapshot.startedAt !== undefined;
  return create(ServerSchema, {
    name: snapshot.name,
    state: serverStateToProto(snapshot.state),
    enabled: snapshot.enabled,
    pid: snapshot.pid ?? 0,
    restarts: snapshot.restarts,
    lastError: snapshot.lastError ?? "",
    uptime: running ? durationFromMs(Math.max(0, now - (snapshot.startedAt ?? now))) : undefined,
    toolCount: tools ? tools.exposed : snapshot.toolCount,
    hiddenToolCount: tools?.hidden ?? 0,
    transport: snapshot.transport === "sse" ? ServerTransport.SSE : snapshot.transport === "streamable-http" ? ServerTransport.STREAMABLE_HTTP : ServerTransport.STDIO,
    url: snapshot.url ?? "",
    insecure: snapshot.insecure ?? false,
    command: snapshot.command,
    args: [...snapshot.args],
    envNames: [...snapshot.envNames],
    startup: snapshot.startup === "lazy" ? StartupMode.LAZY : StartupMode.EAGER,
    prefix: snapshot.prefix,
    serverInfoName: snapshot.identity?.serverInfo.name ?? "",
    serverInfoVersion: snapshot.identity?.serverInfo.version ?? "",
    protocolVersion: snapshot.identity?.protocolVersion ?? "",
    protocolEra: snapshot.era === "modern" ? ProtocolEra.MODERN : snapshot.era === "legacy" ? ProtocolEra.LEGACY : ProtocolEra.UNSPECIFIED,
    nextStartTime: snapshot.nextStartAt !== undefined ? timestampFromMs(snapshot.nextStartAt) : undefined,
    startTime: running ? timestampFromMs(snapshot.startedAt ?? now) : undefined,
  });
}

const logSourceToProto: Readonly<Record<DomainLogSource, LogSource>> = {
  stderr: LogSource.STDERR,
  supervisor: LogSource.SUPERVISOR,
};

/** One (already masked) log entry as a `LogLine`. */
export function logEntryToProto(entry: LogEntry): LogLine {
  return create(LogLineSchema, {
    time: timestampFromMs(entry.time),
    source: logSourceToProto[entry.source],
    text: entry.text,
  });
}

/** Why a tool is hidden, as `Tool.hidden_reason` says it (and `dsctl tools list --all` shows it). */
export function hiddenReasonToText(reason: HiddenToolReason): string {
  switch (reason.kind) {
    case "task_only":
      return "task-only (tasks not supported)";
    case "denied":
      return `denied by policy (${reason.rule})`;
    case "server_disabled":
      return "server disabled";
    case "server_failed":
      return "server failed";
  }
}

/** Server counts by state, as `GetStatus` reports them; tools by the registry's `toolCounts` when given (see `serverToProto`). */
export function serverCountsToProto(snapshots: readonly ServerSnapshot[], tools?: ReadonlyMap<string, ToolCount>): ServerCounts {
  const counts = create(ServerCountsSchema, { total: snapshots.length });
  for (const snapshot of snapshots) {
    const count = tools?.get(snapshot.name);
    counts.tools += tools ? (count?.exposed ?? 0) : snapshot.toolCount;
    counts.hiddenTools += count?.hidden ?? 0;
    switch (snapshot.state) {
      case "running":
        counts.running++;
        break;
      case "starting":
        counts.starting++;
        break;
      case "backoff":
      case "failed":
      case "unhealthy":
      case "needs_auth":
        counts.unhealthy++;
        break;
      case "stopped":
      case "idle":
        counts.stopped++;
        break;
    }
  }
  return counts;
}

/** A team as the control API's `Team`. */
export function teamToProto(team: TeamConfig, isCurrent: boolean): Team {
  return create(TeamSchema, {
    id: team.id,
    name: team.name,
    slug: team.slug,
    role: team.role,
    isDefault: team.isDefault,
    isCurrent,
  });
}

const changeKindToProto: Readonly<Record<ServerChange["kind"], ServerChangeKind>> = {
  added: ServerChangeKind.ADDED,
  removed: ServerChangeKind.REMOVED,
  changed: ServerChangeKind.CHANGED,
  unchanged: ServerChangeKind.UNCHANGED,
  invalid: ServerChangeKind.INVALID,
};

/** One server's sync outcome as the control API's `ServerChange`. */
export function serverChangeToProto(change: ServerChange): ProtoServerChange {
  return create(ServerChangeSchema, {
    serverName: change.serverName,
    kind: changeKindToProto[change.kind],
    reason: change.reason ?? "",
  });
}

/** A policy decision (daemon/policy) as the control API's `PolicyDecision`. */
export function policyDecisionToProto(tool: string, decision: DomainPolicyDecision): PolicyDecision {
  return create(PolicyDecisionSchema, {
    tool,
    allowed: decision.allowed,
    rule: decision.rule,
    role: decision.role,
    explanation: decision.explanation,
  });
}

/** A DeployStack user as the control API's `User` (`id` is the OpenID `sub`). */
export function userToProto(user: CloudUser): User {
  return create(UserSchema, { id: user.sub, email: user.email, name: user.name ?? user.preferredUsername ?? "" });
}

/** A team file's load failure (status and events share it). */
export function configErrorToProto(error: { readonly path: string; readonly message: string; readonly time: number }): ConfigError {
  return create(ConfigErrorSchema, { path: error.path, message: error.message, time: timestampFromMs(error.time) });
}

/** A domain event as the control API's `Event`. */
export function eventToProto(event: GatewayEvent): Event {
  const time = timestampFromMs(event.time);
  switch (event.kind) {
    case "server_state":
      return create(EventSchema, {
        time,
        kind: {
          case: "serverStateChanged",
          value: { server: serverToProto(event.server, event.time, event.tools), previousState: serverStateToProto(event.previous) },
        },
      });
    case "catalog":
      return create(EventSchema, {
        time,
        kind: { case: "catalogChanged", value: { serverName: event.serverName, toolCount: event.toolCount } },
      });
    case "team_switched":
      return create(EventSchema, { time, kind: { case: "teamSwitched", value: { team: teamToProto(event.team, true) } } });
    case "config_synced":
      return create(EventSchema, {
        time,
        kind: {
          case: "configSynced",
          value: {
            changes: event.changes.map(serverChangeToProto),
          },
        },
      });
    case "config_error":
      return create(EventSchema, { time, kind: { case: "configError", value: configErrorToProto(event) } });
  }
}
