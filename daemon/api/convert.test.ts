import test from "ava";
import { ProtocolEra, ServerState } from "../../gen/deploystack/gateway/v1/server_pb.js";
import type { ServerSnapshot, ServerState as DomainServerState } from "../supervisor/types.js";
import { eventToProto, serverCountsToProto, serverStateToProto, serverToProto } from "./convert.js";

const DOMAIN_STATES: readonly DomainServerState[] = ["stopped", "starting", "running", "backoff", "failed", "idle", "unhealthy"];

function snapshot(name: string, state: DomainServerState): ServerSnapshot {
  return {
    name,
    state,
    enabled: true,
    restarts: 0,
    toolCount: 2,
    command: "node",
    args: [],
    envNames: [],
    startup: "eager",
    prefix: name,
  };
}

test("every domain state has its own proto state, never UNSPECIFIED", (t) => {
  const mapped = DOMAIN_STATES.map(serverStateToProto);
  t.false(mapped.includes(ServerState.UNSPECIFIED));
  t.is(new Set(mapped).size, DOMAIN_STATES.length);
  t.is(serverStateToProto("unhealthy"), ServerState.UNHEALTHY);
});

test("an unhealthy server counts as unhealthy in GetStatus", (t) => {
  const counts = serverCountsToProto([snapshot("a", "running"), snapshot("b", "unhealthy"), snapshot("c", "backoff")]);
  t.like(counts, { total: 3, running: 1, unhealthy: 2, tools: 6 });
});

test("WatchEvents carries the RUNNING → UNHEALTHY change", (t) => {
  const event = eventToProto({
    kind: "server_state",
    time: 1_700_000_000_000,
    server: { ...snapshot("hung", "unhealthy"), lastError: "stopped responding: no answer to a ping within 30s" },
    previous: "running",
  });
  t.is(event.kind.case, "serverStateChanged");
  const change = event.kind.value as { server?: { state: ServerState; lastError: string }; previousState: ServerState };
  t.is(change.server?.state, ServerState.UNHEALTHY);
  t.is(change.previousState, ServerState.RUNNING);
  t.is(change.server?.lastError, "stopped responding: no answer to a ping within 30s");
});

test("a server's era and protocol version reach the proto Server; an unknown era is UNSPECIFIED", (t) => {
  const identity = { era: "modern" as const, protocolVersion: "2026-07-28", capabilities: {}, serverInfo: { name: "m", version: "2" } };
  const modern = serverToProto({ ...snapshot("m", "running"), era: "modern", identity });
  t.is(modern.protocolEra, ProtocolEra.MODERN);
  t.is(modern.protocolVersion, "2026-07-28");
  t.is(serverToProto({ ...snapshot("l", "running"), era: "legacy" }).protocolEra, ProtocolEra.LEGACY);
  t.is(serverToProto(snapshot("new", "starting")).protocolEra, ProtocolEra.UNSPECIFIED);
});
