import { createHash } from "node:crypto";
import { join } from "node:path";
import { silentLogger, type Logger } from "../../shared/logger.js";
import { ensurePrivateDir } from "../../shared/paths.js";
import { SESSION_EXPIRED_MESSAGE, type CloudClient, type SessionStatus } from "../cloud/cloud-client.js";
import type { CloudUser } from "../cloud/cloud-contract.js";
import { loadCloudTeams, type CloudTeamsSnapshot } from "../cloud/cloud-teams.js";
import type { ProfileConfig, ServerConfig, TeamConfig, TeamsFile } from "../config/types.js";
import { GatewayError } from "../errors.js";
import type { EventHub, ServerChange } from "../events.js";
import type { ToolIdentity } from "../mcp/access-policy.js";
import { createTeamAccessPolicy, type PolicyDecision, type TeamAccessPolicy } from "../policy/access-policy.js";
import type { ServerCatalog, Supervisor } from "../supervisor/types.js";
import type { ProtocolEra } from "../upstream/types.js";
import type { CacheSeeding, SeedTarget } from "./cache-seeding.js";
import { findTeam } from "./find-team.js";
import { diffServers, processChanged, type InvalidServer } from "./server-diff.js";
import type { TeamChoiceStore } from "./team-choice.js";

/**
 * The control plane of the running daemon: which config source is in force (the team file,
 * or the DeployStack cloud once logged in), which team is current, and everything that
 * changes them — switching team, syncing, logging in and out, the periodic background sync.
 * Every change goes through one path (`applyTeam`): the policy is swapped, the registry is
 * seeded from the tool cache, and the supervisor gets the new server list, which it applies
 * as a diff (unchanged servers keep running, changed ones restart with the new config,
 * removed ones stop). MCP client sessions stay connected throughout: the engine tells them
 * the lists changed. Changes are serialised, so a sync never interleaves with a switch.
 *
 * With the file source every team has its own servers. With the cloud source the
 * configurations endpoint is not team-scoped, so every team has the same servers and a
 * switch changes the role, and with it the policy's effect (docs/control-plane.md).
 */

/** Which source the daemon's teams come from. */
export type ConfigSourceKind = "file" | "deploystack";

/** What the control plane drives once the daemon's parts exist. */
export interface ControlPlaneTargets {
  /** `get`, when there, gives the era a server spoke, saved with its catalog (see `knownEra`). */
  readonly supervisor: Pick<Supervisor, "replaceServers" | "config" | "catalog" | "on" | "off"> & Partial<Pick<Supervisor, "get">>;
  /** The MCP engine's registry, when the engine is wired. */
  readonly registry?: SeedTarget & {
    setPolicy(policy: TeamAccessPolicy): void;
    /** The team policy's `managementTools` switch (`<server>-manage` tools). */
    setManagementTools?(enabled: boolean): void;
    /** Tells management tools apart exactly, for the policy's admin-only rule. */
    isManagementTool?(exposedName: string): boolean;
  };
  /** The MCP engine's profiles (`/mcp/<profile>`): the current team's are put in force with its policy. */
  readonly profiles?: { setProfiles(profiles: readonly ProfileConfig[]): void };
}

/** Inputs of `createControlPlane`. */
export interface ControlPlaneOptions {
  readonly logger?: Logger;
  readonly events: EventHub;
  /** The team file loaded at start-up (it also carries the gateway settings). */
  readonly initialFile: TeamsFile;
  /** Re-reads the team file; rejects with `invalid_argument` naming file, line and field. */
  readonly loadFile: () => Promise<TeamsFile>;
  readonly choices: TeamChoiceStore;
  /** Absent when the vault could not be opened: the file source only. */
  readonly cloud?: CloudClient;
  /** Absent without a vault (the cache fingerprint is keyed by it). */
  readonly cache?: CacheSeeding;
  /** The periodic sync of the cloud source; 0 turns it off. Default 5 min. */
  readonly syncIntervalMs?: number;
  /** The loopback login callback's port; default the cloud client's (8976); 0 picks a free one. */
  readonly callbackPort?: number;
  /** Tells the engine's management tools apart for the policy (when the engine names them). */
  readonly isManagementTool?: (exposedToolName: string) => boolean;
  /**
   * Where the cloud source's servers get their working folders (`<serversDir>/<server>`,
   * created 0700); default none (they run in the daemon's folder).
   */
  readonly serversDir?: string;
}

/** Why the team file on disk is not the config in force, for `GetStatus` and the log. */
export interface ConfigError {
  /** The team file. */
  readonly path: string;
  /** Every problem, one per line: `file:line:column: field: message` (no values from the file). */
  readonly message: string;
  /** Epoch ms of the failed load. */
  readonly time: number;
}

/** A login in progress, for `AuthService.Login`. */
export interface ControlPlaneLogin {
  readonly authorizationUrl: string;
  /** Resolves once signed in and switched to the cloud source. */
  readonly done: Promise<{ readonly user: CloudUser; readonly team: TeamConfig }>;
  cancel(): void;
}

/** Who is signed in, for `AuthService.WhoAmI`. */
export type WhoAmI =
  | { readonly loggedIn: false; readonly expired: boolean }
  | { readonly loggedIn: true; readonly user?: CloudUser; readonly url: string; readonly expiresAt: number };

/** The control plane. */
export interface ControlPlane {
  source(): ConfigSourceKind;
  /** The team file's path, or the cloud API's URL. */
  location(): string;
  teams(): readonly TeamConfig[];
  currentTeam(): TeamConfig;
  /** Servers the source lists but that are not started, with their reasons (cloud `invalid`). */
  invalidServers(): readonly InvalidServer[];
  /** Connects the supervisor and the registry: sets the policy and seeds the cache. Call before the servers start. */
  attach(targets: ControlPlaneTargets): Promise<void>;
  /** Starts the background work: the cloud source's online refresh and periodic sync. */
  startBackground(): void;
  switchTeam(reference: string): Promise<TeamConfig>;
  sync(): Promise<ServerChange[]>;
  /**
   * Re-reads the team file after it changed on disk (hot reload) and applies it exactly like
   * `sync`. A file with a mistake is not applied: the running config stays and the problem is
   * kept (`configError`) and announced until a later load succeeds. Never rejects. On the cloud
   * source the file is not in force, so nothing happens.
   */
  reloadFile(): Promise<void>;
  /** The team file as last loaded successfully (its gateway settings, e.g. `watch`). */
  loadedFile(): TeamsFile;
  /** The team file's last load failure, until a load succeeds again. */
  configError(): ConfigError | undefined;
  /** The current team's servers the tool cache answers for (their lazy ones need no discovery start). */
  cachedServers(): ReadonlySet<string>;
  /** The era the tool cache remembers for a server of the current team run with `config` (skips the era probe). */
  knownEra(config: ServerConfig): ProtocolEra | undefined;
  /** The policy's decision for a tool: by name, or by identity (canonical and exposed name) when the registry knows it. */
  explain(tool: string | ToolIdentity): PolicyDecision & { readonly tool: string };
  beginLogin(options: { url?: string; timeoutMs?: number; signal?: AbortSignal }): Promise<ControlPlaneLogin>;
  logout(): Promise<void>;
  whoAmI(): Promise<WhoAmI>;
  close(): void;
}

interface SourceState {
  readonly kind: ConfigSourceKind;
  readonly teams: readonly TeamConfig[];
  readonly defaultTeamId: string | undefined;
  readonly invalid: readonly InvalidServer[];
  readonly location: string;
}

const DEFAULT_SYNC_INTERVAL_MS = 5 * 60_000;

function fileState(file: TeamsFile): SourceState {
  return { kind: "file", teams: file.teams, defaultTeamId: file.defaultTeamId, invalid: [], location: file.path };
}

/** A folder name for a server: its own name when that is a plain one, else a digest of it (never `..`). */
function folderName(serverName: string): string {
  return /^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/.test(serverName) ? serverName : `server-${createHash("sha256").update(serverName).digest("hex").slice(0, 16)}`;
}

/**
 * Gives each cloud server a working folder of its own under the state folder, created 0700. It is
 * per server, not per team: the configurations endpoint is not team-scoped, so a team switch keeps
 * the same processes, which a per-team folder (a changed `cwd`) would restart.
 */
function withServerFolders(teams: readonly TeamConfig[], serversDir: string | undefined): readonly TeamConfig[] {
  if (serversDir === undefined) return teams;
  return teams.map((team) => ({
    ...team,
    servers: team.servers.map((server) => {
      if (server.cwd !== undefined) return server;
      const cwd = join(serversDir, folderName(server.name));
      ensurePrivateDir(cwd);
      return { ...server, cwd };
    }),
  }));
}

function cloudState(snapshot: CloudTeamsSnapshot, baseUrl: string, serversDir: string | undefined): SourceState {
  return {
    kind: "deploystack",
    teams: withServerFolders(snapshot.teams, serversDir),
    defaultTeamId: snapshot.defaultTeamId,
    invalid: snapshot.invalid.map((server) => ({ name: server.name, reason: server.reason })),
    location: baseUrl,
  };
}

/** The remembered team when it still exists, else the source's default team, else its first. */
function pickTeam(state: SourceState, chosenId: string | undefined): TeamConfig | undefined {
  return (
    state.teams.find((team) => team.id === chosenId) ??
    state.teams.find((team) => team.id === state.defaultTeamId) ??
    state.teams[0]
  );
}

/**
 * Creates the control plane and decides the start-up source: the cloud when a session is in
 * the vault and configurations were downloaded before (from the vault at once, offline —
 * the online refresh follows in the background), else the team file.
 */
export async function createControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const logger = options.logger ?? silentLogger;
  const { events, choices, cloud, cache } = options;
  const syncIntervalMs = options.syncIntervalMs ?? DEFAULT_SYNC_INTERVAL_MS;
  let lastFile = options.initialFile;
  let state: SourceState = fileState(lastFile);
  let targets: ControlPlaneTargets | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let lastBackgroundError: string | undefined;
  let configError: ConfigError | undefined;
  let cached: ReadonlySet<string> = new Set();
  const unsubscribers: (() => void)[] = [];

  if (cloud) {
    try {
      const status = await cloud.status();
      if (status.loggedIn) {
        const snapshot = await loadCloudTeams(cloud, { online: false, logger });
        if (snapshot && snapshot.teams.length > 0) state = cloudState(snapshot, status.baseUrl, options.serversDir);
        else logger.info("logged in to DeployStack, but no configurations were downloaded yet; fetching them in the background");
      }
    } catch (error) {
      logger.error({ reason: (error as Error).message }, "cannot read the DeployStack session from the vault; using the team file");
    }
  }

  let initialTeam = pickTeam(state, await choices.read(state.kind));
  if (!initialTeam) {
    state = fileState(lastFile);
    initialTeam = pickTeam(state, await choices.read("file"));
  }
  if (!initialTeam) throw new GatewayError("invalid_argument", `team file "${lastFile.path}" defines no team`);
  let team: TeamConfig = initialTeam;
  /** The policy of a team, with management tools told apart by the engine once it is attached. */
  const policyOf = (of: TeamConfig): TeamAccessPolicy =>
    createTeamAccessPolicy(of, { isManagementTool: options.isManagementTool ?? targets?.registry?.isManagementTool });
  let policy = policyOf(team);

  /** Puts the current team's policy (and management-tools switch) in force in the engine. */
  const enforcePolicy = (): void => {
    targets?.registry?.setManagementTools?.(team.policy.managementTools);
    targets?.registry?.setPolicy(policy);
    targets?.profiles?.setProfiles(team.profiles ?? []);
  };

  /** One change at a time: switch, sync, login and logout never interleave. */
  let queue: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(work: () => Promise<T>): Promise<T> => {
    const run = queue.then(work, work);
    queue = run.catch(() => {});
    return run;
  };

  /** The single path every change takes. */
  const applyTeam = async (next: TeamConfig): Promise<void> => {
    team = next;
    policy = policyOf(next);
    if (!targets) return;
    enforcePolicy();
    if (cache && targets.registry) cached = new Set(await cache.seed(next, targets.registry));
    await targets.supervisor.replaceServers(next.servers);
    // Servers that kept running (a cloud team switch keeps them all) list nothing new, so
    // their live catalogs are saved for the new team now, for its next instant start-up.
    for (const server of next.servers) {
      const live = targets.supervisor.catalog(server.name);
      if (live) saveCatalog(server.name, live);
    }
  };

  /** Saves a discovered catalog, only for a server of the current team running the config the team has for it. */
  const saveCatalog = (serverName: string, catalog: ServerCatalog): void => {
    if (!cache || !targets) return;
    const owner = team;
    const configured = owner.servers.find((server) => server.name === serverName);
    let running: ServerConfig;
    try {
      running = targets.supervisor.config(serverName);
    } catch {
      return;
    }
    if (!configured || processChanged(configured, running)) return;
    let era: ProtocolEra | undefined;
    try {
      era = targets.supervisor.get?.(serverName).era;
    } catch {
      era = undefined;
    }
    void cache.save(owner, configured, catalog, era);
  };

  const remember = async (next: TeamConfig): Promise<void> => {
    try {
      await choices.write(state.kind, next.id);
    } catch (error) {
      logger.warn({ reason: (error as Error).message }, "cannot remember the current team; the default applies after a restart");
    }
  };

  /** Replaces the source's teams, keeping the current team when it still exists. */
  const applyState = async (next: SourceState, announce: boolean): Promise<{ changes: ServerChange[]; switched: boolean }> => {
    const previousTeam = team;
    const previousKind = state.kind;
    const chosen = next.kind === previousKind ? team.id : await choices.read(next.kind);
    const nextTeam = pickTeam(next, chosen);
    if (!nextTeam) throw new GatewayError("failed_precondition", `the ${next.kind === "file" ? "team file" : "DeployStack account"} has no team`);
    const changes = diffServers(previousTeam.servers, nextTeam.servers, next.invalid);
    state = next;
    await applyTeam(nextTeam);
    const switched = previousTeam.id !== nextTeam.id || previousKind !== next.kind;
    if (switched) {
      if (next.kind === previousKind) logger.warn({ previous: previousTeam.id, team: nextTeam.id }, "the current team is gone from the config; switched to the default team");
      logger.info({ source: next.kind, team: nextTeam.id }, "current team changed");
      events.publish({ kind: "team_switched", time: Date.now(), team: nextTeam });
    }
    if (announce) events.publish({ kind: "config_synced", time: Date.now(), changes });
    return { changes, switched };
  };

  const loadCloudState = async (): Promise<SourceState> => {
    if (!cloud) throw new GatewayError("failed_precondition", "the DeployStack source is unavailable: the vault could not be opened (see the daemon log)");
    const status = await cloud.status();
    if (!status.loggedIn) {
      throw new GatewayError("failed_precondition", status.expired ? SESSION_EXPIRED_MESSAGE : "not logged in to DeployStack — run `dsctl login`");
    }
    const snapshot = await loadCloudTeams(cloud, { online: true, logger });
    if (!snapshot) throw new GatewayError("unavailable", "the DeployStack API cannot be reached and no configurations were downloaded yet");
    if (snapshot.origin === "vault") {
      throw new GatewayError("unavailable", "the DeployStack API cannot be reached; the configurations downloaded before stay in use");
    }
    return cloudState(snapshot, status.baseUrl, options.serversDir);
  };

  /**
   * Loads the team file, keeping its problems in `configError` (logged and announced) until a
   * load succeeds; the one way both `sync` and the hot reload read it.
   */
  const loadFileTracked = async (): Promise<TeamsFile> => {
    try {
      const file = await options.loadFile();
      if (configError) logger.info({ path: configError.path }, "the team file is valid again");
      configError = undefined;
      return file;
    } catch (error) {
      const message = (error as Error).message;
      configError = { path: lastFile.path, message, time: Date.now() };
      logger.error({ path: lastFile.path, problems: message }, "the team file has mistakes; the running config is kept");
      events.publish({ kind: "config_error", time: configError.time, path: configError.path, message });
      throw error;
    }
  };

  const syncFile = async (): Promise<ServerChange[]> => {
    const file = await loadFileTracked();
    const { watch: _watchBefore, ...settingsBefore } = lastFile.gateway;
    const { watch: _watchAfter, ...settingsAfter } = file.gateway;
    if (JSON.stringify(settingsBefore) !== JSON.stringify(settingsAfter)) {
      // The frontend's port, auth and limits are fixed for the daemon's life; only servers, teams and policies reload.
      logger.warn("the team file's gateway settings changed: they apply after a restart (dsctl stop, then dsctl start)");
    }
    lastFile = file;
    const { changes } = await applyState(fileState(file), true);
    logger.info({ changes: changes.filter((change) => change.kind !== "unchanged").length }, "team file synced");
    return changes;
  };

  const sync = (): Promise<ServerChange[]> =>
    exclusive(async () => {
      if (state.kind === "file") return syncFile();
      const { changes } = await applyState(await loadCloudState(), true);
      logger.info({ changes: changes.filter((change) => change.kind !== "unchanged").length }, "DeployStack configurations synced");
      return changes;
    });

  /** Background sync: errors are logged once per distinct message, never thrown. */
  const backgroundSync = async (): Promise<void> => {
    if (closed || (state.kind !== "deploystack" && !(await loggedInWithoutData()))) return;
    try {
      if (state.kind === "deploystack") await sync();
      else await exclusive(async () => void (await applyState(await loadCloudState(), true)));
      lastBackgroundError = undefined;
    } catch (error) {
      const message = (error as Error).message;
      if (message !== lastBackgroundError) logger.warn({ reason: message }, "background sync with DeployStack failed; the running config is kept");
      lastBackgroundError = message;
    }
  };

  /** Logged in but started on the file (nothing downloaded yet): the first refresh switches. */
  const loggedInWithoutData = async (): Promise<boolean> => {
    if (!cloud) return false;
    try {
      return (await cloud.status()).loggedIn;
    } catch {
      return false;
    }
  };

  const whoAmI = async (): Promise<WhoAmI> => {
    if (!cloud) return { loggedIn: false, expired: false };
    const status: SessionStatus = await cloud.status();
    if (!status.loggedIn) return { loggedIn: false, expired: status.expired };
    return { loggedIn: true, user: status.user ?? (await cloud.whoAmI()), url: status.baseUrl, expiresAt: status.expiresAt };
  };

  return {
    source: () => state.kind,
    location: () => state.location,
    teams: () => state.teams,
    currentTeam: () => team,
    invalidServers: () => state.invalid,

    async attach(next) {
      targets = next;
      policy = policyOf(team);
      enforcePolicy();
      if (cache && next.registry) cached = new Set(await cache.seed(team, next.registry));
      const onCatalog = (serverName: string, catalog: ServerCatalog): void => saveCatalog(serverName, catalog);
      next.supervisor.on("catalog", onCatalog);
      unsubscribers.push(() => next.supervisor.off("catalog", onCatalog));
    },

    startBackground() {
      if (closed) return;
      void backgroundSync();
      if (syncIntervalMs > 0) {
        timer = setInterval(() => void backgroundSync(), syncIntervalMs);
        timer.unref();
      }
    },

    switchTeam: (reference) =>
      exclusive(async () => {
        const next = findTeam(state.teams, reference);
        if (next.id !== team.id) {
          await applyTeam(next);
          logger.info({ team: next.id, source: state.kind }, "switched team");
          events.publish({ kind: "team_switched", time: Date.now(), team: next });
        }
        await remember(next);
        return next;
      }),

    sync,

    reloadFile: () =>
      exclusive(async () => {
        if (closed) return;
        if (state.kind !== "file") {
          logger.info("the team file changed; it applies again after `dsctl logout` (the DeployStack source is in force)");
          return;
        }
        logger.info({ path: lastFile.path }, "the team file changed; reloading");
        try {
          await syncFile();
        } catch (error) {
          // Logged and announced by loadFileTracked when the file is wrong; anything else here.
          if (!configError) logger.error({ reason: (error as Error).message }, "reloading the team file failed; the running config is kept");
        }
      }),

    configError: () => configError,

    loadedFile: () => lastFile,

    cachedServers: () => cached,

    knownEra: (config) => cache?.knownEra(config),

    explain(tool) {
      const name = (typeof tool === "string" ? tool : tool.exposedName).trim();
      if (name === "") throw new GatewayError("invalid_argument", "a tool name is required");
      return { tool: name, ...policy.decide(typeof tool === "string" ? name : tool) };
    },

    async beginLogin(loginOptions) {
      if (!cloud) {
        throw new GatewayError("failed_precondition", "login needs the vault to keep the session, and the vault could not be opened (see the daemon log)");
      }
      const previousTeams = ((await cloud.storedTeams().catch(() => undefined)) ?? []).map((stored) => stored.id);
      const attempt = await cloud.beginLogin({
        baseUrl: loginOptions.url,
        timeoutMs: loginOptions.timeoutMs,
        signal: loginOptions.signal,
        ...(options.callbackPort !== undefined ? { callbackPort: options.callbackPort } : {}),
      });
      const done = attempt.done.then(async (result) => {
        if (result.accountChanged) await cache?.clear(previousTeams);
        const next = await loadCloudState();
        const current = await exclusive(async () => {
          await applyState(next, false);
          return team;
        });
        lastBackgroundError = undefined;
        return { user: result.user, team: current };
      });
      done.catch(() => {});
      return { authorizationUrl: attempt.authorizationUrl, done, cancel: () => attempt.cancel() };
    },

    logout: () =>
      exclusive(async () => {
        if (!cloud) return;
        const { teamIds } = await cloud.logout();
        const cloudTeamIds = new Set([...teamIds, ...(state.kind === "deploystack" ? state.teams.map((known) => known.id) : [])]);
        if (state.kind === "deploystack") {
          let file = lastFile;
          try {
            file = await options.loadFile();
            lastFile = file;
          } catch (error) {
            logger.warn({ reason: (error as Error).message }, "the team file cannot be read; using the one loaded before");
          }
          await applyState(fileState(file), false);
        }
        // After the switch: the cloud servers are stopped, so nothing saves into these caches again.
        await cache?.clear([...cloudTeamIds]);
        logger.info("logged out of DeployStack");
      }),

    whoAmI,

    close() {
      closed = true;
      if (timer) clearInterval(timer);
      for (const unsubscribe of unsubscribers.splice(0)) unsubscribe();
    },
  };
}
