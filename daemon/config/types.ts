/**
 * The daemon's view of a team configuration, whichever control plane it came from
 * (the local team file or, later, the DeployStack cloud). Loaders validate into these
 * types; nothing downstream ever sees raw YAML or JSON.
 */

import type { HttpLimits } from "../../shared/http-limits.js";

/** When a server is started: with the daemon, or on first use. */
export type StartupMode = "eager" | "lazy";

/** One MCP server as configured. `env` values are secrets and must never leave the process except into the child. */
export interface ServerConfig {
  /** Unique within the team; used in the CLI and the control API. */
  readonly name: string;
  /** The executable (`npx`, `node`, `python3`, a binary path); empty for a remote server. */
  readonly command: string;
  readonly args: readonly string[];
  /** Variables the child gets on top of the minimal base environment. Values are secrets. */
  readonly env: Readonly<Record<string, string>>;
  /**
   * Working directory of the child. The team file sets it to the file's folder unless `cwd` says
   * otherwise (relative scripts beside the file are found); the cloud source gives each server a
   * folder of its own under the state folder. Absent only for configs built in code.
   */
  readonly cwd?: string;
  /** Whether the server is meant to run; `false` keeps it STOPPED until enabled. */
  readonly enabled: boolean;
  readonly startup: StartupMode;
  /** For lazy servers: stop after this long without traffic. */
  readonly idleTimeoutMs: number;
  /** How long the process may take to answer `initialize` (a cold `npx` install is slow). */
  readonly startupTimeoutMs: number;
  /**
   * Bound on every request to the server (`requestTimeout`); absent: 5 min for `tools/call`
   * (restarted by the call's progress) and 60 s for anything else. A hung server must never
   * hang its callers.
   */
  readonly requestTimeoutMs?: number;
  /** Exposed tool and prompt names are `<prefix>-<name>`; empty means no prefix. */
  readonly prefix: string;
  /**
   * The server's own roots: what the gateway answers its `roots/list` with when no call from a
   * client that declared roots is in flight on it (never another session's roots). Absent: none.
   */
  readonly roots?: readonly ServerRoot[];
  /**
   * Set for a remote MCP server (`url:` in the team file): it is reached over HTTP instead of
   * being spawned, and `command`, `args` and `env` are empty. Its headers are secrets like `env`.
   */
  readonly remote?: RemoteServerConfig;
}

/** How a remote server is reached: `auto` tries Streamable HTTP and falls back to the legacy HTTP+SSE transport. */
export type RemoteTransportMode = "auto" | "http" | "sse";

/** A remote MCP server's connection settings (issue: remote servers). */
export interface RemoteServerConfig {
  /** The server's URL, `${VAR}` resolved; may hold credentials (userinfo, a token query parameter): never shown as is. */
  readonly url: string;
  readonly transport: RemoteTransportMode;
  /** Sent with every request to the server's own origin only. Values are secrets. */
  readonly headers: Readonly<Record<string, string>>;
  /** Plain http:// to a host other than loopback was allowed explicitly (shown in status). */
  readonly insecure: boolean;
  /** OAuth 2.1 sign-in settings, as written (`{}`: discovery and registration by the gateway). */
  readonly oauth?: RemoteOAuthConfig;
}

/** `oauth:` of a remote server. `clientSecret` is a secret. */
export interface RemoteOAuthConfig {
  readonly clientId?: string;
  readonly clientSecret?: string;
  readonly scopes?: readonly string[];
  /** An https URL hosting the gateway's Client ID Metadata Document, used where the AS supports those. */
  readonly clientMetadataUrl?: string;
}

/** One configured root, in the shape of MCP's `Root` (2025-11-25 "Client Features › Roots"). */
export interface ServerRoot {
  /** An absolute `file://` URI of a folder. */
  readonly uri: string;
  /** A human-readable name: the folder's last path segment. */
  readonly name: string;
}

/** Allow/deny globs over exposed tool names. */
export interface PolicyRules {
  readonly allow: readonly string[];
  readonly deny: readonly string[];
}

/** A team's access policy: base rules plus optional per-role rules (`team_admin`, `team_user`). */
export interface PolicyConfig extends PolicyRules {
  readonly roles: Readonly<Record<string, PolicyRules>>;
  /** Expose one management tool per server (enable | disable | status). */
  readonly managementTools: boolean;
}

/** What the audit log keeps of a call's arguments (docs/observability.md). */
export type AuditArgumentsMode = "none" | "keys" | "hash" | "full";

/** A team's `audit:` section. */
export interface AuditConfig {
  /** Record tool calls, prompt gets and resource reads in `logs/audit.jsonl`. */
  readonly enabled: boolean;
  readonly arguments: AuditArgumentsMode;
}

/**
 * How a profile shows its tools: `all` lists the profile's whole catalog; `search` lists only the
 * gateway's meta-tools (`find_tools`, `call_tool`), so a client pays for the catalog only when it asks.
 */
export type ProfileToolMode = "all" | "search";

/**
 * A named subset of a team's servers and tools (`profiles:` in the team file), served at
 * `/mcp/<name>` and `/sse/<name>`. Applied after the team policy: a profile can only narrow.
 */
export interface ProfileConfig {
  /** The URL path segment; `default` is the profile the bare `/mcp` and `/sse` serve. */
  readonly name: string;
  /** For `dsctl profiles list` and the banner. */
  readonly description?: string;
  /** The servers whose tools, prompts and resources the profile serves; absent: every server. */
  readonly servers?: readonly string[];
  /** Globs over canonical tool names (`<prefix>-<tool>`): only matching tools are served; absent: all. */
  readonly include?: readonly string[];
  /** Globs over canonical (or exposed) tool names that are left out, whatever `include` says. */
  readonly exclude?: readonly string[];
  readonly tools: ProfileToolMode;
}

/** One team and its servers. */
export interface TeamConfig {
  readonly id: string;
  readonly name: string;
  readonly slug: string;
  /** The user's role in the team. */
  readonly role: string;
  readonly isDefault: boolean;
  readonly servers: readonly ServerConfig[];
  readonly policy: PolicyConfig;
  /** The audit log's settings; absent: on, without arguments (daemon/observability). */
  readonly audit?: AuditConfig;
  /** Named subsets of the team's servers and tools (served at `/mcp/<name>`); absent: none. */
  readonly profiles?: readonly ProfileConfig[];
}

/** How MCP clients must authenticate to the frontend. */
export type ClientAuthMode = "none" | "token";

/** Gateway-wide settings from the team file's `gateway:` section. */
export interface GatewaySettings {
  /** The frontend's port on 127.0.0.1. */
  readonly port: number;
  readonly clientAuth: ClientAuthMode;
  /** Extra browser origins allowed to call the MCP endpoint besides loopback ones. */
  readonly allowedOrigins: readonly string[];
  /** Browser origins allowed (CORS) on the TCP control listener. */
  readonly controlAllowedOrigins: readonly string[];
  /** Idle timeout of MCP client sessions. */
  readonly sessionIdleTimeoutMs: number;
  /** Cap on concurrent MCP client sessions. */
  readonly maxSessions: number;
  /** `gateway.sessionInitTimeout`: how long a session may go unused after it opened; absent: the frontend's default. */
  readonly sessionInitTimeoutMs?: number;
  /** `gateway.http`: the MCP port's HTTP limits that the file sets (the rest keep the frontend's defaults). */
  readonly http?: Partial<HttpLimits>;
  /** `gateway.controlHttp`: the TCP control listener's HTTP limits that the file sets (the rest keep its defaults). */
  readonly controlHttp?: Partial<HttpLimits>;
  /** Whether the daemon reloads the team file when it is saved (hot reload); `false` leaves it to `dsctl teams sync`. */
  readonly watch: boolean;
  /** `gateway.tracing`: the OTLP/HTTP endpoint traces go to (daemon/tracing/tracing-settings.ts); absent: none from the file. */
  readonly tracing?: { readonly endpoint?: string };
}

/** A loaded team file: where it came from, its teams, and the settings. */
export interface TeamsFile {
  /** Absolute path of the file, for messages. */
  readonly path: string;
  readonly teams: readonly TeamConfig[];
  /** Id of the team to select when none was chosen. */
  readonly defaultTeamId: string;
  readonly gateway: GatewaySettings;
  /**
   * Things that load but deserve a look, one positioned line each (`team.yaml:9:15: …`), for
   * the daemon log: for example two servers whose prefixes let tool names collide.
   */
  readonly warnings?: readonly string[];
}
