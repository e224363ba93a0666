import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { LineCounter, parseDocument } from "yaml";
import { GatewayError } from "../errors.js";
import { resolveHome } from "../../shared/paths.js";
import {
  formatProblems,
  placeProblems,
  yamlErrorToProblem,
  zodIssuesToProblems,
  type FieldPath,
  type TeamFileProblem,
  type UnplacedProblem,
} from "./team-file-problems.js";
import { knownFieldsAt, teamFileSchema, type RawServer, type RawTeam, type RawTeamFile } from "./team-file-schema.js";
import { ResolveProblem, resolveCommand, resolveCwd, resolvePackageReference, resolveRoot, substituteVariables } from "./resolve-server-strings.js";
import { isLoopbackHost } from "../upstream/remote-url.js";
import type { GatewaySettings, ProfileConfig, ServerConfig, TeamConfig, TeamsFile } from "./types.js";
import type { HttpLimits } from "../../shared/http-limits.js";
import { findPrefixOverlaps } from "../mcp/exposed-names.js";
import { closestMatch } from "../did-you-mean.js";

/**
 * The file control plane's loader: reads a YAML or JSON team file (JSON is read by the
 * same YAML 1.2 parser, so both get positions), validates it, applies the defaults and
 * resolves paths, and produces the `TeamsFile` the daemon runs. Every problem in the
 * file is reported at once, each with file, line, column and field, in one
 * `GatewayError("invalid_argument")`; no message ever contains a value from the file.
 */

/** Defaults of a server entry, in one place (documented in README's config section). */
export const SERVER_DEFAULTS = {
  enabled: true,
  startup: "eager",
  idleTimeoutMs: 10 * 60_000,
  startupTimeoutMs: 120_000,
} as const;

/** Defaults of the `gateway:` section. */
export const GATEWAY_DEFAULTS: GatewaySettings = {
  port: 9095,
  clientAuth: "none",
  allowedOrigins: [],
  controlAllowedOrigins: [],
  sessionIdleTimeoutMs: 30 * 60_000,
  maxSessions: 256,
  watch: true,
};

/** The role a user has in a team from a local file: it is their own file. */
export const FILE_TEAM_ROLE = "team_admin";

/** Team files larger than this are refused before parsing: no real team needs it. */
export const MAX_TEAM_FILE_BYTES = 1024 * 1024;

/** Options of the loader. */
export interface LoadTeamFileOptions {
  /**
   * Values for `${NAME}` in server strings. Default: the process environment plus
   * `DEPLOYSTACK_HOME` (the resolved state folder, even when the variable is unset).
   */
  readonly variables?: Readonly<Record<string, string | undefined>>;
  /** How the file is named in messages; default the path as given. */
  readonly displayPath?: string;
}

/**
 * Reads, validates and resolves a team file. Rejects with
 * `GatewayError("invalid_argument")` listing every problem, or `not_found` when the
 * file does not exist.
 */
export async function loadTeamFile(path: string, options: LoadTeamFileOptions = {}): Promise<TeamsFile> {
  const displayPath = options.displayPath ?? path;
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new GatewayError("not_found", `team file "${displayPath}" not found`, { cause: error });
    throw new GatewayError("invalid_argument", `cannot read team file "${displayPath}" (${code ?? "error"})`, { cause: error });
  }
  return parseTeamFile(text, path, options);
}

/** Validates and resolves a team file's text; `path` locates relative paths and names the file. */
export function parseTeamFile(text: string, path: string, options: LoadTeamFileOptions = {}): TeamsFile {
  const displayPath = options.displayPath ?? path;
  const fail = (problems: readonly TeamFileProblem[]): never => {
    throw new GatewayError("invalid_argument", formatProblems(displayPath, problems));
  };
  if (Buffer.byteLength(text, "utf8") > MAX_TEAM_FILE_BYTES) {
    fail([{ line: 1, column: 1, field: "", message: `file is larger than ${MAX_TEAM_FILE_BYTES} bytes` }]);
  }

  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) fail(doc.errors.map((error) => yamlErrorToProblem(error, lineCounter)));

  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch {
    fail([{ line: 1, column: 1, field: "", message: "syntax error: too many alias expansions" }]);
  }
  if (raw === null || raw === undefined) fail([{ line: 1, column: 1, field: "", message: "file is empty; expected a map with a teams list" }]);
  if (typeof raw !== "object" || Array.isArray(raw)) fail([{ line: 1, column: 1, field: "", message: "expected a map with a teams list" }]);

  const unplaced: UnplacedProblem[] = [...crossCheck(raw)];
  const parsed = teamFileSchema.safeParse(raw);
  if (!parsed.success) unplaced.push(...zodIssuesToProblems(parsed.error.issues, raw, knownFieldsAt));
  if (unplaced.length > 0 || !parsed.success) fail(placeProblems(doc, lineCounter, unplaced));

  const resolveProblems: UnplacedProblem[] = [];
  const file = buildTeamsFile(parsed.data!, resolve(path), options, resolveProblems);
  if (resolveProblems.length > 0) fail(placeProblems(doc, lineCounter, resolveProblems));
  const warnings = placeProblems(doc, lineCounter, prefixOverlapWarnings(parsed.data!, file)).map((warning) => formatProblems(displayPath, [warning]));
  return warnings.length === 0 ? file : { ...file, warnings };
}

/**
 * Checks that span entries (duplicates, references) on the raw value, so that they are
 * reported together with the schema's problems even when other fields are invalid.
 */
function crossCheck(raw: unknown): UnplacedProblem[] {
  const problems: UnplacedProblem[] = [];
  const root = raw as Record<string, unknown>;
  const teams = Array.isArray(root.teams) ? (root.teams as unknown[]) : [];
  const teamIds = new Map<string, number>();
  teams.forEach((team, teamIndex) => {
    if (team === null || typeof team !== "object") return;
    const { id, servers } = team as Record<string, unknown>;
    if (typeof id === "string") {
      const first = teamIds.get(id);
      if (first !== undefined) problems.push({ path: ["teams", teamIndex, "id"], anchor: "value", message: `duplicate team id "${id}" (first at teams[${first}])` });
      else teamIds.set(id, teamIndex);
    }
    if (!Array.isArray(servers)) return;
    const names = new Map<string, number>();
    servers.forEach((server: unknown, serverIndex) => {
      const name = server !== null && typeof server === "object" ? (server as Record<string, unknown>).name : undefined;
      if (typeof name !== "string") return;
      const first = names.get(name);
      const path: FieldPath = ["teams", teamIndex, "servers", serverIndex, "name"];
      if (first !== undefined) problems.push({ path, anchor: "value", message: `duplicate server name "${name}" (first at servers[${first}])` });
      else names.set(name, serverIndex);
    });
  });
  teams.forEach((team, teamIndex) => problems.push(...profileServerProblems(team, teamIndex)));
  if (typeof root.defaultTeam === "string" && teams.length > 0 && !teamIds.has(root.defaultTeam)) {
    problems.push({ path: ["defaultTeam"], anchor: "value", message: `no team has the id "${root.defaultTeam}"` });
  }
  return problems;
}

/**
 * A profile's `servers` must name servers of its team: a typo would otherwise serve an empty
 * profile without a word. Each unknown name is reported at its list entry, with the closest
 * server name as a "did you mean" hint.
 */
function profileServerProblems(team: unknown, teamIndex: number): UnplacedProblem[] {
  if (team === null || typeof team !== "object") return [];
  const { servers, profiles } = team as Record<string, unknown>;
  if (profiles === null || typeof profiles !== "object" || Array.isArray(profiles)) return [];
  const known = (Array.isArray(servers) ? servers : []).flatMap((server: unknown) => {
    const name = server !== null && typeof server === "object" ? (server as Record<string, unknown>).name : undefined;
    return typeof name === "string" ? [name] : [];
  });
  const problems: UnplacedProblem[] = [];
  for (const [profile, body] of Object.entries(profiles as Record<string, unknown>)) {
    const listed = body !== null && typeof body === "object" ? (body as Record<string, unknown>).servers : undefined;
    if (!Array.isArray(listed)) continue;
    listed.forEach((name: unknown, index) => {
      if (typeof name !== "string" || known.includes(name)) return;
      const hint = closestMatch(name, known);
      problems.push({
        path: ["teams", teamIndex, "profiles", profile, "servers", index],
        anchor: "value",
        message: `profile "${profile}" names server "${name}", which the team does not have${hint === undefined ? "" : `; did you mean "${hint}"?`}`,
      });
    });
  }
  return problems;
}

/**
 * Servers whose prefixes let their exposed names collide (`kb` listing `memory-x` wants the
 * name `kb-memory` wants for `x`). Naming settles it safely (the longer prefix owns its name
 * space; a name once held stays), but the admin should hear of it where the file is written:
 * a warning at the second server's `prefix` (or `name`), never a rejection.
 */
function prefixOverlapWarnings(raw: RawTeamFile, file: TeamsFile): UnplacedProblem[] {
  const warnings: UnplacedProblem[] = [];
  file.teams.forEach((team, teamIndex) => {
    const indexOf = new Map(team.servers.map((server, index) => [server.name, index]));
    for (const { shorter, longer } of findPrefixOverlaps(team.servers)) {
      const index = indexOf.get(longer.server)!;
      const field = raw.teams[teamIndex]?.servers?.[index]?.prefix === undefined ? "name" : "prefix";
      const message =
        shorter.prefix === longer.prefix
          ? `server "${longer.server}" has the same prefix "${longer.prefix}" as server "${shorter.server}": their tool and prompt names can collide (the first to hold a name keeps it, the other is renamed)`
          : shorter.prefix === ""
            ? `server "${shorter.server}" has an empty prefix: its tool and prompt names can collide with those of server "${longer.server}" (prefix "${longer.prefix}"), which keeps them`
            : `prefix "${longer.prefix}" of server "${longer.server}" begins with prefix "${shorter.prefix}" of server "${shorter.server}": tool and prompt names can collide (server "${longer.server}" keeps the names that begin with "${longer.prefix}-")`;
      warnings.push({ path: ["teams", teamIndex, "servers", index, field], anchor: "value", message: `warning: ${message}` });
    }
  });
  return warnings;
}

/** `gateway.http` / `gateway.controlHttp` in the listeners' terms: only the limits the file sets. */
function httpLimitsOf(raw: { readonly headersTimeout?: number; readonly requestTimeout?: number; readonly maxConnections?: number }): Partial<HttpLimits> {
  return {
    ...(raw.headersTimeout !== undefined ? { headersTimeoutMs: raw.headersTimeout } : {}),
    ...(raw.requestTimeout !== undefined ? { requestTimeoutMs: raw.requestTimeout } : {}),
    ...(raw.maxConnections !== undefined ? { maxConnections: raw.maxConnections } : {}),
  };
}

function buildTeamsFile(raw: RawTeamFile, absolutePath: string, options: LoadTeamFileOptions, problems: UnplacedProblem[]): TeamsFile {
  const variables = options.variables ?? { ...process.env, DEPLOYSTACK_HOME: resolveHome() };
  const fileDir = dirname(absolutePath);
  const defaultTeamId = raw.defaultTeam ?? raw.teams[0].id;
  const gateway = raw.gateway ?? {};
  return {
    path: absolutePath,
    defaultTeamId,
    gateway: {
      port: gateway.port ?? GATEWAY_DEFAULTS.port,
      clientAuth: gateway.clientAuth ?? GATEWAY_DEFAULTS.clientAuth,
      allowedOrigins: gateway.allowedOrigins ?? GATEWAY_DEFAULTS.allowedOrigins,
      controlAllowedOrigins: gateway.controlAllowedOrigins ?? GATEWAY_DEFAULTS.controlAllowedOrigins,
      sessionIdleTimeoutMs: gateway.sessionIdleTimeout ?? GATEWAY_DEFAULTS.sessionIdleTimeoutMs,
      maxSessions: gateway.maxSessions ?? GATEWAY_DEFAULTS.maxSessions,
      watch: gateway.watch ?? GATEWAY_DEFAULTS.watch,
      ...(gateway.tracing ? { tracing: gateway.tracing } : {}),
      ...(gateway.sessionInitTimeout !== undefined ? { sessionInitTimeoutMs: gateway.sessionInitTimeout } : {}),
      ...(gateway.http ? { http: httpLimitsOf(gateway.http) } : {}),
      ...(gateway.controlHttp ? { controlHttp: httpLimitsOf(gateway.controlHttp) } : {}),
    },
    teams: raw.teams.map((team, teamIndex) =>
      buildTeam(team, team.id === defaultTeamId, (server, serverIndex) =>
        buildServer(server, ["teams", teamIndex, "servers", serverIndex], fileDir, variables, problems),
      ),
    ),
  };
}

function buildTeam(team: RawTeam, isDefault: boolean, server: (raw: RawServer, index: number) => ServerConfig): TeamConfig {
  const policy = team.policy ?? {};
  return {
    id: team.id,
    name: team.name ?? team.id,
    slug: team.slug ?? team.id.toLowerCase(),
    role: team.role ?? FILE_TEAM_ROLE,
    isDefault,
    servers: (team.servers ?? []).map(server),
    policy: {
      allow: policy.allow ?? ["*"],
      deny: policy.deny ?? [],
      roles: Object.fromEntries(
        Object.entries(policy.roles ?? {}).map(([role, rules]) => [role, { allow: rules.allow ?? [], deny: rules.deny ?? [] }]),
      ),
      managementTools: policy.managementTools ?? false,
    },
    ...(team.audit ? { audit: { enabled: team.audit.enabled ?? true, arguments: team.audit.arguments ?? "none" } } : {}),
    ...(team.profiles ? { profiles: buildProfiles(team.profiles) } : {}),
  };
}

/** Profiles in file order, with the mode's default (`all`). */
function buildProfiles(raw: NonNullable<RawTeam["profiles"]>): ProfileConfig[] {
  return Object.entries(raw).map(([name, profile]) => ({
    name,
    ...(profile.description !== undefined ? { description: profile.description } : {}),
    ...(profile.servers !== undefined ? { servers: profile.servers } : {}),
    ...(profile.include !== undefined ? { include: profile.include } : {}),
    ...(profile.exclude !== undefined ? { exclude: profile.exclude } : {}),
    tools: profile.tools ?? "all",
  }));
}

function buildServer(
  raw: RawServer,
  path: FieldPath,
  fileDir: string,
  variables: Readonly<Record<string, string | undefined>>,
  problems: UnplacedProblem[],
): ServerConfig {
  const attempt = <T>(fieldPath: FieldPath, fallback: T, work: () => T): T => {
    try {
      return work();
    } catch (error) {
      if (!(error instanceof ResolveProblem)) throw error;
      problems.push({ path: fieldPath, anchor: "value", message: error.message });
      return fallback;
    }
  };
  if (raw.url !== undefined) return buildRemoteServer(raw, path, variables, attempt);
  const command = attempt([...path, "command"], raw.command ?? "", () =>
    resolveCommand(substituteVariables(raw.command ?? "", variables), fileDir),
  );
  const args = (raw.args ?? []).map((arg, index) =>
    attempt([...path, "args", index], arg, () => resolvePackageReference(substituteVariables(arg, variables), fileDir)),
  );
  const env = Object.fromEntries(
    Object.entries(raw.env ?? {}).map(([name, value]) => [
      name,
      attempt([...path, "env", name], "", () => substituteVariables(value, variables, { secret: true })),
    ]),
  );
  // Default: the team file's folder, so `args: ["server.py"]` beside the file finds its script.
  const cwd = raw.cwd === undefined ? fileDir : attempt([...path, "cwd"], raw.cwd, () => resolveCwd(substituteVariables(raw.cwd!, variables), fileDir));
  const roots = raw.roots?.map((entry, index) =>
    attempt([...path, "roots", index], { uri: "", name: "" }, () => resolveRoot(substituteVariables(entry, variables), fileDir)),
  );
  return {
    name: raw.name,
    command,
    args,
    env,
    cwd,
    enabled: raw.enabled ?? SERVER_DEFAULTS.enabled,
    startup: raw.startup ?? SERVER_DEFAULTS.startup,
    idleTimeoutMs: raw.idleTimeout ?? SERVER_DEFAULTS.idleTimeoutMs,
    startupTimeoutMs: raw.startupTimeout ?? SERVER_DEFAULTS.startupTimeoutMs,
    ...(raw.requestTimeout === undefined ? {} : { requestTimeoutMs: raw.requestTimeout }),
    prefix: raw.prefix ?? raw.name,
    ...(roots === undefined ? {} : { roots }),
  };
}

/**
 * A remote server (`url:`): `${VAR}` resolved in the URL and the header values (secrets: their
 * values never appear in a message), plain `http://` refused for a host off loopback unless
 * `insecure: true`. It is connected with the gateway (eager), like an eager process.
 */
function buildRemoteServer(
  raw: RawServer,
  path: FieldPath,
  variables: Readonly<Record<string, string | undefined>>,
  attempt: <T>(fieldPath: FieldPath, fallback: T, work: () => T) => T,
): ServerConfig {
  const insecure = raw.insecure ?? false;
  const url = attempt([...path, "url"], "", () => checkRemoteUrl(substituteVariables(raw.url!, variables, { secret: true }), insecure));
  const headers = Object.fromEntries(
    Object.entries(raw.headers ?? {}).map(([name, value]) => [
      name,
      attempt([...path, "headers", name], "", () => substituteVariables(value, variables, { secret: true })),
    ]),
  );
  const oauth = raw.oauth
    ? {
        ...(raw.oauth.clientId !== undefined ? { clientId: raw.oauth.clientId } : {}),
        ...(raw.oauth.clientSecret !== undefined
          ? { clientSecret: attempt([...path, "oauth", "clientSecret"], "", () => substituteVariables(raw.oauth!.clientSecret!, variables, { secret: true })) }
          : {}),
        ...(raw.oauth.scopes !== undefined ? { scopes: raw.oauth.scopes } : {}),
        ...(raw.oauth.clientMetadataUrl !== undefined ? { clientMetadataUrl: raw.oauth.clientMetadataUrl } : {}),
      }
    : undefined;
  return {
    name: raw.name,
    command: "",
    args: [],
    env: {},
    enabled: raw.enabled ?? SERVER_DEFAULTS.enabled,
    startup: "eager",
    idleTimeoutMs: raw.idleTimeout ?? SERVER_DEFAULTS.idleTimeoutMs,
    startupTimeoutMs: raw.startupTimeout ?? SERVER_DEFAULTS.startupTimeoutMs,
    ...(raw.requestTimeout === undefined ? {} : { requestTimeoutMs: raw.requestTimeout }),
    prefix: raw.prefix ?? raw.name,
    remote: { url, transport: raw.transport ?? "auto", headers, insecure, ...(oauth ? { oauth } : {}) },
  };
}

/** A remote server's URL, checked; messages never repeat it (it may hold a credential). */
function checkRemoteUrl(text: string, insecure: boolean): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ResolveProblem("not a valid URL (the value is not shown)");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new ResolveProblem("must be an https:// URL (or http:// for a loopback host)");
  if (url.protocol === "http:" && !insecure && !isLoopbackHost(url.hostname)) {
    throw new ResolveProblem('plain http:// is allowed only for loopback hosts (localhost, 127.0.0.1, ::1): use https://, or set "insecure: true" to send this server\'s traffic unencrypted');
  }
  return url.href;
}

/**
 * The embedded default team file (`examples/demo-team.yaml`), located from this module
 * so that it is found from the source tree, from `dist/`, and from an npm installation
 * (the package ships `examples/`).
 */
export function embeddedTeamFilePath(): string {
  const candidates = ["../../examples/demo-team.yaml", "../../../examples/demo-team.yaml"].map((relative) =>
    fileURLToPath(new URL(relative, import.meta.url)),
  );
  return candidates.find((candidate) => existsSync(candidate)) ?? candidates[0];
}
