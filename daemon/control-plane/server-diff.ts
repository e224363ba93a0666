import type { ServerConfig } from "../config/types.js";
import type { ServerChange } from "../events.js";

/**
 * What applying a new server list does to each server, for `SyncConfig`'s answer and the
 * `config_synced` event. It mirrors the supervisor's own rule (`replaceServers` restarts a
 * server only when what defines its process changed), so the report says what really
 * happened: a server whose command, args, cwd or env changed restarts with the new config;
 * other setting changes (prefix, timeouts, start-up mode) apply without a restart.
 */

/** A server the source knows of but will not start, with the reason users see. */
export interface InvalidServer {
  readonly name: string;
  readonly reason: string;
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((value, index) => value === b[index]);
}

function sameEnv(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && a[key] === b[key]);
}

/** Whether the process of a server must restart to apply `next` (same rule as the supervisor). */
export function processChanged(previous: ServerConfig, next: ServerConfig): boolean {
  return (
    previous.command !== next.command ||
    previous.cwd !== next.cwd ||
    !sameStrings(previous.args, next.args) ||
    !sameEnv(previous.env, next.env) ||
    remoteChanged(previous, next)
  );
}

/** Whether a remote server's connection settings changed (URL, transport, headers, insecure, oauth): it reconnects. */
function remoteChanged(previous: ServerConfig, next: ServerConfig): boolean {
  return JSON.stringify(previous.remote ?? null) !== JSON.stringify(next.remote ?? null);
}

function settingsChanged(previous: ServerConfig, next: ServerConfig): boolean {
  return (
    previous.enabled !== next.enabled ||
    previous.startup !== next.startup ||
    previous.prefix !== next.prefix ||
    previous.idleTimeoutMs !== next.idleTimeoutMs ||
    previous.startupTimeoutMs !== next.startupTimeoutMs ||
    previous.requestTimeoutMs !== next.requestTimeoutMs
  );
}

/**
 * The change of every server between two lists, sorted by name. Reasons never contain env
 * values: they name what changed (`command`, `args`, `env`), not how.
 */
export function diffServers(
  previous: readonly ServerConfig[],
  next: readonly ServerConfig[],
  invalid: readonly InvalidServer[] = [],
): ServerChange[] {
  const before = new Map(previous.map((server) => [server.name, server]));
  const after = new Map(next.map((server) => [server.name, server]));
  const changes: ServerChange[] = [];
  for (const [name, server] of after) {
    const old = before.get(name);
    if (!old) {
      changes.push({ serverName: name, kind: "added" });
      continue;
    }
    if (processChanged(old, server)) {
      const fields = [
        old.command !== server.command ? "command" : undefined,
        !sameStrings(old.args, server.args) ? "args" : undefined,
        old.cwd !== server.cwd ? "cwd" : undefined,
        !sameEnv(old.env, server.env) ? "env" : undefined,
        remoteChanged(old, server) ? "url, transport, headers or oauth" : undefined,
      ].filter((field) => field !== undefined);
      changes.push({ serverName: name, kind: "changed", reason: `${fields.join(", ")} changed — restarted with the new config` });
    } else if (settingsChanged(old, server)) {
      changes.push({ serverName: name, kind: "changed", reason: "settings changed — applied without a restart" });
    } else {
      changes.push({ serverName: name, kind: "unchanged" });
    }
  }
  const invalidNames = new Set<string>();
  for (const server of invalid) {
    if (after.has(server.name)) continue;
    invalidNames.add(server.name);
    changes.push({ serverName: server.name, kind: "invalid", reason: `not started: ${server.reason}` });
  }
  for (const name of before.keys()) {
    if (!after.has(name) && !invalidNames.has(name)) changes.push({ serverName: name, kind: "removed" });
  }
  return changes.sort((a, b) => (a.serverName < b.serverName ? -1 : a.serverName > b.serverName ? 1 : 0));
}
