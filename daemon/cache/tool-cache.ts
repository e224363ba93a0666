import { createHash } from "node:crypto";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { silentLogger, type Logger } from "../../shared/logger.js";
import { ensurePrivateDir } from "../../shared/paths.js";
import type { ServerCatalog } from "../supervisor/types.js";
import { writeFileAtomic } from "../vault/atomic-file.js";

/**
 * The start-up cache: `cache/teams/<team>/tools.json` holds, per server, the catalog
 * (tools, prompts, resources, resource templates) last discovered from the running server
 * and the fingerprint of the configuration it was discovered with (config-hash.ts). On
 * start-up and on team switch the registry is filled from it at once, so `tools/list`
 * answers before any server is ready; live discovery then replaces it.
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
}

/** The tool cache of all teams. */
export interface ToolCache {
  /** Every server's cached catalog for `team` (empty when there is no usable file). */
  load(team: string): Promise<ReadonlyMap<string, CachedCatalog>>;
  /** The catalog cached for `server` if it was discovered with the same `configHash`. */
  lookup(team: string, server: string, configHash: string): Promise<ServerCatalog | undefined>;
  /** Stores `server`'s freshly discovered catalog. */
  save(team: string, server: string, catalog: ServerCatalog, configHash: string): Promise<void>;
  /** Forgets one server (removed from the team). */
  remove(team: string, server: string): Promise<void>;
  /** Keeps only the listed servers of `team`, dropping the rest. */
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
}

/** Creates the cache; nothing touches the disk until the first call. */
export function createToolCache(options: ToolCacheOptions): ToolCache {
  const logger = options.logger ?? silentLogger;
  const now = options.now ?? Date.now;
  const teamsDir = join(options.cacheDir, "teams");
  /** Saves to one team's file are serialised so concurrent discoveries never drop each other. */
  const queues = new Map<string, Promise<unknown>>();

  const fileOf = (team: string): string => join(teamsDir, teamDirName(team), "tools.json");

  const read = async (team: string): Promise<Map<string, CachedCatalog>> => {
    const path = fileOf(team);
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") logger.warn({ path, err: String(error) }, "tool cache unreadable; ignoring it");
      return new Map();
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      logger.warn({ path }, "tool cache is not valid JSON; ignoring it");
      return new Map();
    }
    if (!isObject(parsed) || parsed.version !== FILE_VERSION || !isObject(parsed.servers)) {
      logger.warn({ path }, "tool cache has an unknown format; ignoring it");
      return new Map();
    }
    const entries = new Map<string, CachedCatalog>();
    for (const [server, entry] of Object.entries(parsed.servers)) {
      const valid = validEntry(entry);
      if (valid) entries.set(server, valid);
      else logger.warn({ path, server }, "tool cache entry malformed; ignoring it");
    }
    return entries;
  };

  const write = async (team: string, entries: ReadonlyMap<string, CachedCatalog>): Promise<void> => {
    const path = fileOf(team);
    ensurePrivateDir(options.cacheDir);
    ensurePrivateDir(teamsDir);
    ensurePrivateDir(join(teamsDir, teamDirName(team)));
    const file: CacheFile = { version: FILE_VERSION, team, servers: Object.fromEntries([...entries].sort(([a], [b]) => a.localeCompare(b))) };
    await writeFileAtomic(path, JSON.stringify(file), { mode: 0o600 });
  };

  const update = (team: string, change: (entries: Map<string, CachedCatalog>) => void): Promise<void> => {
    const previous = queues.get(team) ?? Promise.resolve();
    const next = previous
      .catch(() => {})
      .then(async () => {
        const entries = await read(team);
        change(entries);
        await write(team, entries);
      });
    queues.set(team, next);
    void next.finally(() => {
      if (queues.get(team) === next) queues.delete(team);
    }).catch(() => {});
    return next;
  };

  return {
    load: async (team) => read(team),
    async lookup(team, server, configHash) {
      const entry = (await read(team)).get(server);
      return entry && entry.configHash === configHash ? entry.catalog : undefined;
    },
    save: (team, server, catalog, configHash) =>
      update(team, (entries) => {
        entries.set(server, {
          configHash,
          savedAt: now(),
          catalog: {
            tools: catalog.tools,
            prompts: catalog.prompts,
            resources: catalog.resources,
            resourceTemplates: catalog.resourceTemplates,
          },
        });
      }),
    remove: (team, server) => update(team, (entries) => void entries.delete(server)),
    retain: (team, servers) =>
      update(team, (entries) => {
        const keep = new Set(servers);
        for (const name of [...entries.keys()]) if (!keep.has(name)) entries.delete(name);
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
  return { configHash: entry.configHash, savedAt: entry.savedAt, catalog: catalog as unknown as ServerCatalog };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
