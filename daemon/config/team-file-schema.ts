import * as z from "zod";
import { DURATION_HINT, parseDuration } from "./duration.js";
import { DEFAULT_HTTP_LIMITS } from "../../shared/http-limits.js";

/**
 * The shape of a team file as written by people (YAML) or tools (JSON), validated with
 * zod before anything is derived from it. Every object is strict, so a misspelt field
 * (`comand:`) is an error with its position instead of a silently ignored line.
 * Defaults are applied later, in load-team-file.ts, where they are documented once.
 * Custom messages here must never echo the input: env values are secrets.
 */

/** Server names appear in the CLI, the control API and exposed tool names. */
export const SERVER_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Prefixes become the front of exposed names (`<prefix>-<tool>`, at most 64 characters),
 * so they are kept short enough to leave room for the tool's own name. Empty means none.
 */
export const PREFIX_PATTERN = /^[A-Za-z0-9_-]{0,32}$/;

/** Team ids are used in `dsctl teams switch` and in cache paths. */
export const TEAM_ID_PATTERN = /^[A-Za-z0-9_.-]{1,128}$/;

/** Names of environment variables, as POSIX shells accept them. */
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

const duration = z.unknown().transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined) {
    ctx.addIssue({ code: "custom", message: DURATION_HINT });
    return z.NEVER;
  }
  return ms;
});

/**
 * Env values are secrets: a wrong type is reported by field name and expected type
 * only. Numbers and booleans are accepted and stringified, because `PORT: 8080` and
 * `DEBUG: true` are how people write YAML.
 */
const envValue = z.unknown().transform((value, ctx) => {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  ctx.addIssue({ code: "custom", message: "expected a string (the value is not shown)" });
  return z.NEVER;
});

const envMap = z.record(
  z.string().regex(ENV_NAME_PATTERN, "environment variable names must match ^[A-Za-z_][A-Za-z0-9_]*$"),
  envValue,
);

/** HTTP header names (RFC 9110 tokens). */
export const HEADER_NAME_PATTERN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/;

/**
 * Headers the gateway sets itself on a remote server's requests: configuring them would break the
 * protocol (session, version, method) or bypass the sign-in (`Authorization` comes from `oauth:`
 * or, for a static token, from a header of another name the server accepts — see docs).
 */
const RESERVED_HEADERS = new Set(["host", "content-type", "content-length", "accept", "mcp-session-id", "mcp-protocol-version", "mcp-method", "mcp-name", "connection", "transfer-encoding", "last-event-id"]);

/** `headers:` of a remote server: values are secrets (masked like env, never echoed in messages). */
const headerMap = z.record(
  z
    .string()
    .regex(HEADER_NAME_PATTERN, "header names must be HTTP tokens (letters, digits and !#$%&'*+.^_`|~-)")
    .refine((name) => !RESERVED_HEADERS.has(name.toLowerCase()), "this header is set by the gateway itself"),
  envValue,
);

/**
 * `oauth:` of a remote server: OAuth 2.1 sign-in (the fields of a pre-registered client; `{}` for
 * discovery and registration by the gateway). Stored as written; the sign-in itself is `dsctl servers login`.
 */
const oauthSchema = z.strictObject({
  clientId: z.string().min(1).optional(),
  clientSecret: envValue.optional(),
  scopes: z.array(z.string().min(1)).optional(),
  /** A Client ID Metadata Document URL (https, with a path) used as the client id where the AS supports it. */
  clientMetadataUrl: z
    .url({ protocol: /^https$/ })
    .refine((value) => URL.canParse(value) && new URL(value).pathname !== "/", "must be an https URL with a path")
    .optional(),
});

/** Fields that only a process server has, and only a remote (URL) server has: a server is one or the other. */
const PROCESS_ONLY = ["args", "env", "cwd", "startup"] as const;
const REMOTE_ONLY = ["transport", "headers", "oauth", "insecure"] as const;

const serverSchema = z.strictObject({
  name: z.string().regex(SERVER_NAME_PATTERN, "must match ^[A-Za-z0-9_-]{1,64}$"),
  command: z.string().min(1).optional(),
  /** A remote MCP server (Streamable HTTP or HTTP+SSE) instead of a process; may use ${VAR}. */
  url: z.string().min(1).optional(),
  transport: z.enum(["auto", "http", "sse"]).optional(),
  headers: headerMap.optional(),
  oauth: oauthSchema.optional(),
  /** Allow plain http:// to a host other than loopback (shown in status). */
  insecure: z.boolean().optional(),
  args: z.array(z.string()).optional(),
  env: envMap.optional(),
  cwd: z.string().min(1).optional(),
  enabled: z.boolean().optional(),
  startup: z.enum(["eager", "lazy"]).optional(),
  idleTimeout: duration.optional(),
  startupTimeout: duration.optional(),
  /** Bound on each request to the server; 0 would mean waiting forever on a hung server, so it is refused. */
  requestTimeout: duration.refine((ms) => ms > 0, "must be more than 0").optional(),
  prefix: z.string().regex(PREFIX_PATTERN, "must match ^[A-Za-z0-9_-]{0,32}$ (empty means no prefix)").optional(),
  /** Folders the server may see when it asks `roots/list` outside a client's call: paths or `file://` URIs. */
  roots: z.array(z.string().min(1)).optional(),
}).superRefine((server, ctx) => {
  if (server.command !== undefined && server.url !== undefined) {
    ctx.addIssue({ code: "custom", path: ["url"], message: '"command" and "url" are mutually exclusive: a server is either a process or a remote URL' });
    return;
  }
  if (server.command === undefined && server.url === undefined) {
    ctx.addIssue({ code: "custom", path: ["command"], message: "required" });
    return;
  }
  if (server.url !== undefined) {
    for (const field of PROCESS_ONLY) {
      if (server[field] === undefined) continue;
      const hint = field === "env" ? '; credentials for a remote server go in "headers" or "oauth"' : field === "startup" ? "; it is connected with the gateway" : "";
      ctx.addIssue({ code: "custom", path: [field], message: `does not apply to a URL server (it runs elsewhere)${hint}` });
    }
  } else {
    for (const field of REMOTE_ONLY) {
      if (server[field] !== undefined) ctx.addIssue({ code: "custom", path: [field], message: 'applies only to a URL server (one with "url" instead of "command")' });
    }
  }
});

const policyRulesSchema = z.strictObject({
  allow: z.array(z.string().min(1)).optional(),
  deny: z.array(z.string().min(1)).optional(),
});

const policySchema = z.strictObject({
  allow: z.array(z.string().min(1)).optional(),
  deny: z.array(z.string().min(1)).optional(),
  roles: z.record(z.string().min(1), policyRulesSchema).optional(),
  managementTools: z.boolean().optional(),
});

/** The audit log of a team's calls (docs/observability.md). */
const auditSchema = z.strictObject({
  enabled: z.boolean().optional(),
  arguments: z.enum(["none", "keys", "hash", "full"]).optional(),
});

/** Profile names are URL path segments (`/mcp/<profile>`) and appear in `dsctl profiles list`. */
export const PROFILE_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * A profile (daemon/mcp/profiles.ts). `tools` is the mode, as the issue names it (`tools: all | search`);
 * the tool globs are `include` and `exclude`, so a list under `tools` gets a message saying where globs go.
 */
const profileSchema = z.strictObject({
  description: z.string().max(200).optional(),
  servers: z.array(z.string().min(1)).optional(),
  include: z.array(z.string().min(1)).optional(),
  exclude: z.array(z.string().min(1)).optional(),
  tools: z
    .unknown()
    .transform((value, ctx) => {
      if (value === "all" || value === "search") return value;
      ctx.addIssue({
        code: "custom",
        message: Array.isArray(value)
          ? 'expected "all" or "search" (the mode); tool globs go in "include" and "exclude"'
          : 'expected "all" or "search"',
      });
      return z.NEVER;
    })
    .optional(),
});

const teamSchema = z.strictObject({
  id: z.string().regex(TEAM_ID_PATTERN, "must match ^[A-Za-z0-9_.-]{1,128}$"),
  name: z.string().min(1).optional(),
  slug: z.string().regex(TEAM_ID_PATTERN, "must match ^[A-Za-z0-9_.-]{1,128}$").optional(),
  role: z.string().min(1).optional(),
  servers: z.array(serverSchema).optional(),
  policy: policySchema.optional(),
  audit: auditSchema.optional(),
  profiles: z.record(z.string().regex(PROFILE_NAME_PATTERN, "profile names must match ^[A-Za-z0-9_-]{1,64}$"), profileSchema).optional(),
});

/** A timeout of an HTTP listener: more than zero, and within what node's timers accept. */
const listenerTimeout = duration.refine((ms) => ms >= 1 && ms <= 2 ** 31 - 1, "must be more than 0 and at most 24 days");

/**
 * `gateway.http` (the MCP port) and `gateway.controlHttp` (the TCP control listener): the limits against slow and
 * greedy local clients (shared/http-limits.ts); what is left out keeps the listener's default. A request timeout
 * covers the headers too, so it may not be shorter than the headers timeout (node refuses that as well).
 */
const httpLimitsSchema = z
  .strictObject({
    headersTimeout: listenerTimeout.optional(),
    requestTimeout: listenerTimeout.optional(),
    maxConnections: z.number().int().min(1).max(1_000_000).optional(),
  })
  .superRefine((limits, ctx) => {
    const headers = limits.headersTimeout ?? DEFAULT_HTTP_LIMITS.headersTimeoutMs;
    const request = limits.requestTimeout ?? DEFAULT_HTTP_LIMITS.requestTimeoutMs;
    if (request < headers) {
      ctx.addIssue({
        code: "custom",
        path: [limits.requestTimeout !== undefined ? "requestTimeout" : "headersTimeout"],
        message: `requestTimeout (${request} ms) must not be shorter than headersTimeout (${headers} ms)`,
      });
    }
  });

const gatewaySchema = z.strictObject({
  port: z.number().int().min(0).max(65_535).optional(),
  clientAuth: z.enum(["none", "token"]).optional(),
  allowedOrigins: z.array(z.string().min(1)).optional(),
  controlAllowedOrigins: z.array(z.string().min(1)).optional(),
  sessionIdleTimeout: duration.optional(),
  maxSessions: z.number().int().min(1).optional(),
  /** A session not used after its `initialize` (or a legacy SSE stream with no request) ends after this long. */
  sessionInitTimeout: listenerTimeout.optional(),
  /** Limits of the MCP port's HTTP listener. */
  http: httpLimitsSchema.optional(),
  /** Limits of the TCP control listener (`--control-listen`, `dsctl dashboard`). */
  controlHttp: httpLimitsSchema.optional(),
  /** Reload the file when it is saved (default true); false: only `dsctl teams sync` re-reads it. */
  watch: z.boolean().optional(),
  /** OpenTelemetry traces to an OTLP/HTTP collector (the OTEL_EXPORTER_OTLP_* variables take precedence). */
  tracing: z
    .strictObject({
      endpoint: z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" }).optional(),
    })
    .optional(),
});

/** The whole file. */
export const teamFileSchema = z.strictObject({
  gateway: gatewaySchema.optional(),
  defaultTeam: z.string().min(1).optional(),
  teams: z.array(teamSchema).min(1),
});

/** A validated file before defaults and path resolution. */
export type RawTeamFile = z.output<typeof teamFileSchema>;
/** One validated server entry before defaults and path resolution. */
export type RawServer = z.output<typeof serverSchema>;
/** One validated team entry before defaults. */
export type RawTeam = z.output<typeof teamSchema>;

interface SchemaDef {
  readonly type: string;
  readonly shape?: Readonly<Record<string, { _zod: { def: SchemaDef } }>>;
  readonly element?: { _zod: { def: SchemaDef } };
  readonly innerType?: { _zod: { def: SchemaDef } };
  readonly in?: { _zod: { def: SchemaDef } };
  readonly valueType?: { _zod: { def: SchemaDef } };
}

/**
 * The field names valid at a path of the file, read from the schema itself so that
 * the "did you mean" hint for a misspelt field can never drift from what is accepted.
 */
export function knownFieldsAt(path: readonly (string | number)[]): readonly string[] {
  let def: SchemaDef | undefined = (teamFileSchema as unknown as { _zod: { def: SchemaDef } })._zod.def;
  let index = 0;
  while (def) {
    const next: { _zod: { def: SchemaDef } } | undefined =
      def.type === "optional" || def.type === "default" || def.type === "nullable"
        ? def.innerType
        : def.type === "pipe"
          ? def.in
          : undefined;
    if (next) {
      def = next._zod.def;
      continue;
    }
    if (index === path.length) return def.type === "object" && def.shape ? Object.keys(def.shape) : [];
    const segment = path[index++];
    if (def.type === "object") def = def.shape?.[String(segment)]?._zod.def;
    else if (def.type === "array") def = def.element?._zod.def;
    else if (def.type === "record") def = def.valueType?._zod.def;
    else return [];
  }
  return [];
}
