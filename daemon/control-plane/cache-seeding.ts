import { silentLogger, type Logger } from "../../shared/logger.js";
import type { ToolCache } from "../cache/tool-cache.js";
import type { ServerConfig, TeamConfig } from "../config/types.js";
import type { HeldName, NameLedger } from "../mcp/exposed-names.js";
import type { ServerCatalog } from "../supervisor/types.js";
import type { ProtocolEra } from "../upstream/types.js";

/**
 * The start-up tool cache in the running daemon (issue 4, "instant start-up"): before a
 * team's servers have answered `initialize`, the registry is seeded with the catalogs they
 * listed last time — only where the config fingerprint still matches, so a changed command
 * or a rotated secret never shows stale tools — and every catalog a running server lists is
 * saved for next time. Live discovery always wins over a seed (the registry's rule), so the
 * cache only ever answers for the seconds before a server is ready. Discovery uses the
 * running server; nothing here starts a second copy of it.
 *
 * The same file keeps the team's name ledger: the exposed names, resource URIs and URI
 * templates each server holds. Seeding hands the team's ledger to the registry with the
 * catalogs, and every change the registry makes to it is saved under that team until the
 * next seed (a switch or sync), so names stay with their servers across restarts.
 */

/** Where seeds go: the MCP engine's registry (`engine.registry`). */
export interface SeedTarget {
  /** `names`, when given, is the team's name ledger (see registry.ts). */
  replaceSeeds(catalogs: ReadonlyMap<string, ServerCatalog>, names?: NameLedger): void;
  /** The names held now. */
  names?(): NameLedger;
  /** Follows changes of the held names, to save them; returns the unsubscribe function. */
  onNamesChanged?(listener: (names: NameLedger) => void): () => void;
}

/** The cache glue the control plane uses. */
export interface CacheSeeding {
  /** Replaces `target`'s seeds with every server of `team` whose cached fingerprint matches; returns the names seeded. */
  seed(team: TeamConfig, target: SeedTarget): Promise<string[]>;
  /** Saves a freshly discovered catalog of `server` (running with `config`) under `team`, with the era it spoke. */
  save(team: TeamConfig, server: ServerConfig, catalog: ServerCatalog, era?: ProtocolEra): Promise<void>;
  /**
   * The era the last seed's cache remembers for `server`, only when its fingerprint matches (a changed command,
   * args or env is a new server to probe); for the supervisor's `knownEra`.
   */
  knownEra(server: ServerConfig): ProtocolEra | undefined;
  /** Forgets the caches of these teams (logout). */
  clear(teamIds: readonly string[]): Promise<void>;
}

/** Inputs of `createCacheSeeding`. */
export interface CacheSeedingOptions {
  readonly cache: ToolCache;
  /** The keyed config fingerprint (`createConfigHasher(vault.deriveKey("tool-cache"))`). */
  readonly configHash: (server: ServerConfig) => string;
  readonly logger?: Logger;
}

/** Creates the glue; failures are logged and never stop the daemon (a cache is only a cache). */
export function createCacheSeeding(options: CacheSeedingOptions): CacheSeeding {
  const { cache, configHash } = options;
  const logger = options.logger ?? silentLogger;
  /** Stops saving the previous team's names (one team's ledger is followed at a time). */
  let stopSavingNames: (() => void) | undefined;
  /** The team whose names are followed now. */
  let followedTeam: string | undefined;
  /** The eras of the last seeded team's cache, with the fingerprint each was seen with. */
  let eras = new Map<string, { readonly configHash: string; readonly era: ProtocolEra }>();
  const saveNames = (teamId: string, names: NameLedger): void => {
    cache.saveNames(teamId, names).catch((error: unknown) => {
      logger.warn({ team: teamId, reason: (error as Error).message }, "cannot save the held names to the tool cache");
    });
  };
  return {
    async seed(team, target) {
      const seeds = new Map<string, ServerCatalog>();
      const seededEras = new Map<string, { readonly configHash: string; readonly era: ProtocolEra }>();
      let names: NameLedger | undefined;
      try {
        const cached = await cache.load(team.id);
        const held = await cache.loadNames(team.id);
        const serverNames = new Set(team.servers.map((server) => server.name));
        names = onlyServers(held, serverNames);
        for (const server of team.servers) {
          const entry = cached.get(server.name);
          if (!entry || entry.configHash !== configHash(server)) continue;
          seeds.set(server.name, entry.catalog);
          if (entry.era !== undefined) seededEras.set(server.name, { configHash: entry.configHash, era: entry.era });
        }
        if ([...cached.keys()].some((name) => !serverNames.has(name)) || heldCount(names) !== heldCount(held)) {
          await cache.retain(team.id, [...serverNames]);
        }
      } catch (error) {
        logger.warn({ team: team.id, reason: (error as Error).message }, "cannot read the tool cache; servers will be discovered live");
      }
      // Re-seeding the followed team (a sync): the names in memory are the newest.
      const inMemory = team.id === followedTeam ? target.names?.() : undefined;
      if (inMemory) names = onlyServers(inMemory, new Set(team.servers.map((server) => server.name)));
      stopSavingNames?.();
      stopSavingNames = target.onNamesChanged?.((changed) => saveNames(team.id, changed));
      followedTeam = team.id;
      eras = seededEras;
      // Always replaced, even with nothing: seeds of the previous team must not answer for this one.
      // The names too; only when the cache cannot be read do the names held in memory stay.
      target.replaceSeeds(seeds, names);
      const seeded = [...seeds.keys()];
      if (seeded.length > 0) logger.info({ team: team.id, servers: seeded }, "tool lists served from the cache until the servers are ready");
      return seeded;
    },
    async save(team, server, catalog, era) {
      try {
        const hash = configHash(server);
        if (era !== undefined && team.id === followedTeam) eras.set(server.name, { configHash: hash, era });
        await cache.save(team.id, server.name, catalog, hash, era);
      } catch (error) {
        logger.warn({ team: team.id, server: server.name, reason: (error as Error).message }, "cannot save the tool cache");
      }
    },
    knownEra(server) {
      const known = eras.get(server.name);
      if (known === undefined) return undefined;
      try {
        return known.configHash === configHash(server) ? known.era : undefined;
      } catch {
        return undefined;
      }
    },
    async clear(teamIds) {
      for (const id of teamIds) {
        try {
          await cache.clear(id);
        } catch (error) {
          logger.warn({ team: id, reason: (error as Error).message }, "cannot remove the tool cache");
        }
      }
    },
  };
}

/** The held names of the listed servers only (a server removed from the team gives its names up). */
function onlyServers(names: NameLedger, servers: ReadonlySet<string>): NameLedger {
  const of = (held: readonly HeldName[]): HeldName[] => held.filter((entry) => servers.has(entry.server));
  return { tools: of(names.tools), prompts: of(names.prompts), resources: of(names.resources), resourceTemplates: of(names.resourceTemplates) };
}

function heldCount(names: NameLedger): number {
  return names.tools.length + names.prompts.length + names.resources.length + names.resourceTemplates.length;
}
