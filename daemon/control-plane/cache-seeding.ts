import { silentLogger, type Logger } from "../../shared/logger.js";
import type { ToolCache } from "../cache/tool-cache.js";
import type { ServerConfig, TeamConfig } from "../config/types.js";
import type { ServerCatalog } from "../supervisor/types.js";

/**
 * The start-up tool cache in the running daemon (issue 4, "instant start-up"): before a
 * team's servers have answered `initialize`, the registry is seeded with the catalogs they
 * listed last time — only where the config fingerprint still matches, so a changed command
 * or a rotated secret never shows stale tools — and every catalog a running server lists is
 * saved for next time. Live discovery always wins over a seed (the registry's rule), so the
 * cache only ever answers for the seconds before a server is ready. Discovery uses the
 * running server; nothing here starts a second copy of it.
 */

/** Where seeds go: the MCP engine's registry (`engine.registry`). */
export interface SeedTarget {
  replaceSeeds(catalogs: ReadonlyMap<string, ServerCatalog>): void;
}

/** The cache glue the control plane uses. */
export interface CacheSeeding {
  /** Replaces `target`'s seeds with every server of `team` whose cached fingerprint matches; returns the names seeded. */
  seed(team: TeamConfig, target: SeedTarget): Promise<string[]>;
  /** Saves a freshly discovered catalog of `server` (running with `config`) under `team`. */
  save(team: TeamConfig, server: ServerConfig, catalog: ServerCatalog): Promise<void>;
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
  return {
    async seed(team, target) {
      const seeds = new Map<string, ServerCatalog>();
      try {
        const cached = await cache.load(team.id);
        for (const server of team.servers) {
          const entry = cached.get(server.name);
          if (!entry || entry.configHash !== configHash(server)) continue;
          seeds.set(server.name, entry.catalog);
        }
        const names = new Set(team.servers.map((server) => server.name));
        if ([...cached.keys()].some((name) => !names.has(name))) await cache.retain(team.id, [...names]);
      } catch (error) {
        logger.warn({ team: team.id, reason: (error as Error).message }, "cannot read the tool cache; servers will be discovered live");
      }
      // Always replaced, even with nothing: seeds of the previous team must not answer for this one.
      target.replaceSeeds(seeds);
      const seeded = [...seeds.keys()];
      if (seeded.length > 0) logger.info({ team: team.id, servers: seeded }, "tool lists served from the cache until the servers are ready");
      return seeded;
    },
    async save(team, server, catalog) {
      try {
        await cache.save(team.id, server.name, catalog, configHash(server));
      } catch (error) {
        logger.warn({ team: team.id, server: server.name, reason: (error as Error).message }, "cannot save the tool cache");
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
