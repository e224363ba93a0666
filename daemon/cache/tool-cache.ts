import { createHash } from "node:crypto";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { silentLogger, type Logger } from "../../shared/logger.js";
import { ensurePrivateDir } from "../../shared/paths.js";
import { EMPTY_NAME_LEDGER, EXPOSED_NAME_PATTERN, type HeldName, type NameLedger } from "../mcp/exposed-names.js";
import type { ServerCatalog } from "../supervisor/types.js";
import type { ProtocolEra } from "../upstream/types.js";
import { writeFileAtomic } from "../vault/atomic-file.js";

/**
 * The start-up cache: `cache/teams/<team>/tools.json` holds, per server, the catalog
 * (tools, prompts, resources, resource templates) last discovered from the running server
 * and the fingerprint of the configuration it was discovered with (config-hash.ts). On
 * start-up and on team switch the registry is filled from it at once, so `tools/list`
 * answers before any server is ready; live discovery then replaces it.
 *
 * It also holds the team's name ledger (exposed-names.ts): which exposed name, resource URI
 * and URI template each server's items hold. Names are sticky for the life of the team, so
 * they must survive a restart: otherwise a server that starts first after a reboot could take
 * names another server held. The ledger is names only (no secrets, no definitions).
 *
 * The file never holds env values (only the keyed fingerprint). A missing, unreadable or
 * malformed file — or one entry of it — is a cache miss with a warning, never a crash:
 * the cache is an optimisation, and the next save rewrites the file whole.
 */

/** One server's cached catalog. */
export interface CachedCatalog {
  readonly configHash: string;
  /** Epoch ms of the discovery. */
  readonly savedAt: number;
  readonly catalog: ServerCatalog;
  /**
   * The era the server spoke when it listed the catalog (absent in files written before eras were kept): the next
   * start of the same configuration opens in it without the `server/discover` probe.
   */
  readonly era?: ProtocolEra;
}

/** The tool cache of all teams. */
export interface ToolCache {
  /** Every server's cached catalog for `team` (empty when there is no usable file); waits for pending saves. */
  load(team: string): Promise<ReadonlyMap<string, CachedCatalog>>;
  /** The names `team` held (empty when there is no usable file or ledger); waits for pending saves. */
  loadNames(team: string): Promise<NameLedger>;
  /** Stores the names `team` holds now. */
  saveNames(team: string, names: NameLedger): Promise<void>;
  /** The catalog cached for `server` if it was discovered with the same `configHash`. */
  lookup(team: string, server: string, configHash: string): Promise<ServerCatalog | undefined>;
  /** Stores `server`'s freshly discovered catalog, and the era it spoke when known. */
  save(team: string, server: string, catalog: ServerCatalog, configHash: string, era?: ProtocolEra): Promise<void>;
  /** Forgets one server (removed from the team). */
  remove(team: string, server: string): Promise<void>;
  /** Keeps only the listed servers of `team`, dropping the rest (their catalogs and held names). */
  retain(team: string, servers: readonly string[]): Promise<void>;
  /** Deletes the cache of `team`, or of every team when omitted (logout). */
  clear(team?: string): Promise<void>;
}

/** Inputs of `createToolCache`. */
export interface ToolCacheOptions {
  /** `statePaths().cacheDir` (`$DEPLOYSTACK_HOME/cache`). */
  readonly cacheDir: string;
  readonly logger?: Logger;
  readonly now?: () => number;
}

const FILE_VERSION = 1;

interface CacheFile {
  version: number;
  team: string;
  servers: Record<string, CachedCatalog>;
  /** Optional: files written before sticky names lack it (read as an empty ledger). */
  names?: SerializedLedger;
}

/** A held name on disk: `[exposedName, server, upstreamName]` or with the kept server as a fourth entry. */
type SerializedHeld = [string, string, string] | [string, string, string, string];
type SerializedLedger = Record<keyof NameLedger, SerializedHeld[]>;

const LEDGER_KINDS = ["tools", "prompts", "resources", "resourceTemplates"] as const;

/** One team's file as read. */
interface TeamCache {
  readonly entries: Map<string, CachedCatalog>;
  names: NameLedger;
}

/** Creates the cache; nothing touches the disk until the first call. */
export function createToolCache(options: ToolCacheOptions): ToolCache {
  const logger = options.logger ?? silentLogger;
  const now = options.now ?? Date.now;
  const teamsDir = join(options.cacheDir, "teams");
  /** Saves to one team's file are serialised so concurrent discoveries never drop each other. */
  const queues = new Map<string, Promise<unknown>>();

  const fileOf = (team: string): string => join(teamsDir, teamDirName(team), "tools.json");

  const empty = (): TeamCache => ({ entries: new Map(), names: EMPTY_NAME_LEDGER });

  const read = async (team: string): Promise<TeamCache> => {
    const path = fileOf(team);
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") logger.warn({ path, err: String(error) }, "tool cache unreadable; ignoring it");
      return empty();
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      logger.warn({ path }, "tool cache is not valid JSON; ignoring it");
      return empty();
    }
    if (!isObject(parsed) || parsed.version !== FILE_VERSION || !isObject(parsed.servers)) {
      logger.warn({ path }, "tool cache has an unknown format; ignoring it");
      return empty();
    }
    const entries = new Map<string, CachedCatalog>();
    for (const [server, entry] of Object.entries(parsed.servers)) {
      const valid = validEntry(entry);
      if (valid) entries.set(server, valid);
      else logger.warn({ path, server }, "tool cache entry malformed; ignoring it");
    }
    const names = parsed.names === undefined ? EMPTY_NAME_LEDGER : validLedger(parsed.names);
    if (names === undefined) logger.warn({ path }, "tool cache name ledger malformed; ignoring it");
    return { entries, names: names ?? EMPTY_NAME_LEDGER };
  };

  const write = async (team: string, cache: TeamCache): Promise<void> => {
    const path = fileOf(team);
    ensurePrivateDir(options.cacheDir);
    ensurePrivateDir(teamsDir);
    ensurePrivateDir(join(teamsDir, teamDirName(team)));
    const file: CacheFile = {
      version: FILE_VERSION,
      team,
      servers: Object.fromEntries([...cache.entries].sort(([a], [b]) => a.localeCompare(b))),
      names: serializeLedger(cache.names),
    };
    await writeFileAtomic(path, JSON.stringify(file), { mode: 0o600 });
  };

  /** Runs after every queued save of `team`, so a read never misses a change made before it. */
  const afterPending = <T>(team: string, work: () => Promise<T>): Promise<T> =>
    (queues.get(team) ?? Promise.resolve()).catch(() => {}).then(work);

  const update = (team: string, change: (cache: TeamCache) => void): Promise<void> => {
    const previous = queues.get(team) ?? Promise.resolve();
    const next = previous
      .catch(() => {})
      .then(async () => {
        const cache = await read(team);
        change(cache);
        await write(team, cache);
      });
    queues.set(team, next);
    void next.finally(() => {
      if (queues.get(team) === next) queues.delete(team);
    }).catch(() => {});
    return next;
  };

  return {
    load: (team) => afterPending(team, async () => (await read(team)).entries),
    loadNames: (team) => afterPending(team, async () => (await read(team)).names),
    saveNames: (team, names) =>
      update(team, (cache) => {
        cache.names = names;
      }),
    async lookup(team, server, configHash) {
      const entry = (await read(team)).entries.get(server);
      return entry && entry.configHash === configHash ? entry.catalog : undefined;
    },
    save: (team, server, catalog, configHash, era) =>
      update(team, ({ entries }) => {
        entries.set(server, {
          configHash,
          savedAt: now(),
          catalog: {
            tools: catalog.tools,
            prompts: catalog.prompts,
            resources: catalog.resources,
            resourceTemplates: catalog.resourceTemplates,
          },
          ...(era !== undefined ? { era } : {}),
        });
      }),
    remove: (team, server) =>
      update(team, (cache) => {
        cache.entries.delete(server);
        cache.names = filterLedger(cache.names, (name) => name !== server);
      }),
    retain: (team, servers) =>
      update(team, (cache) => {
        const keep = new Set(servers);
        for (const name of [...cache.entries.keys()]) if (!keep.has(name)) cache.entries.delete(name);
        cache.names = filterLedger(cache.names, (name) => keep.has(name));
      }),
    async clear(team) {
      await rm(team === undefined ? teamsDir : join(teamsDir, teamDirName(team)), { recursive: true, force: true });
    },
  };
}

/**
 * A folder name for a team id. File-name-safe ids are used as they are (readable); any
 * other id (`.`, `..`, slashes, very long) becomes `id-<sha256 prefix>` so no id can
 * escape the cache folder.
 */
export function teamDirName(team: string): string {
  if (/^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/.test(team)) return team;
  return `id-${createHash("sha256").update(team).digest("hex").slice(0, 32)}`;
}

function validEntry(entry: unknown): CachedCatalog | undefined {
  if (!isObject(entry) || typeof entry.configHash !== "string" || typeof entry.savedAt !== "number" || !isObject(entry.catalog)) {
    return undefined;
  }
  const catalog = entry.catalog;
  const lists = ["tools", "prompts", "resources", "resourceTemplates"] as const;
  if (!lists.every((key) => Array.isArray(catalog[key]) && (catalog[key] as unknown[]).every(isObject))) return undefined;
  // An era that is not one is dropped, not the entry: the server is then probed again, as before eras were kept.
  const era = entry.era === "legacy" || entry.era === "modern" ? { era: entry.era as ProtocolEra } : {};
  return { configHash: entry.configHash, savedAt: entry.savedAt, catalog: catalog as unknown as ServerCatalog, ...era };
}

function filterLedger(names: NameLedger, keep: (server: string) => boolean): NameLedger {
  const of = (held: readonly HeldName[]): HeldName[] => held.filter((entry) => keep(entry.server));
  return { tools: of(names.tools), prompts: of(names.prompts), resources: of(names.resources), resourceTemplates: of(names.resourceTemplates) };
}

function serializeLedger(names: NameLedger): SerializedLedger {
  const of = (held: readonly HeldName[]): SerializedHeld[] =>
    held.map((entry) =>
      entry.keptServer === undefined ? [entry.exposedName, entry.server, entry.upstreamName] : [entry.exposedName, entry.server, entry.upstreamName, entry.keptServer],
    );
  return { tools: of(names.tools), prompts: of(names.prompts), resources: of(names.resources), resourceTemplates: of(names.resourceTemplates) };
}

/**
 * A ledger read back, or undefined when it is not one. Entries that are not well-formed
 * (an exposed tool or prompt name outside the pattern, an empty server) are dropped one by one.
 */
function validLedger(value: unknown): NameLedger | undefined {
  if (!isObject(value)) return undefined;
  const ledger: Record<string, HeldName[]> = {};
  for (const kind of LEDGER_KINDS) {
    const list = value[kind] ?? [];
    if (!Array.isArray(list)) return undefined;
    const named = kind === "tools" || kind === "prompts";
    ledger[kind] = list.flatMap((item: unknown): HeldName[] => {
      if (!Array.isArray(item) || (item.length !== 3 && item.length !== 4) || !item.every((part) => typeof part === "string")) return [];
      const [exposedName, server, upstreamName, keptServer] = item as string[];
      if (server === "" || (named && !EXPOSED_NAME_PATTERN.test(exposedName!))) return [];
      return [{ exposedName: exposedName!, server: server!, upstreamName: upstreamName!, ...(keptServer === undefined ? {} : { keptServer }) }];
    });
  }
  return ledger as unknown as NameLedger;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
