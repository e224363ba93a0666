import type { StatePaths } from "../shared/paths.js";
import type { Logger } from "../shared/logger.js";
import { gatewayVersion } from "../shared/version.js";
import type { ServerConfig } from "./config/types.js";
import type { ProtocolEra } from "./upstream/types.js";
import type { OAuthWiring } from "./oauth/oauth-wiring.js";
import { createProcessRegistry } from "./supervisor/process-registry.js";
import { reapLeftovers } from "./supervisor/reap.js";
import { createSupervisor, type ManagedSupervisor } from "./supervisor/supervisor.js";
import { startWatchdog } from "./supervisor/watchdog.js";

/**
 * The process-safety half of the composition root, in one place: the record of process
 * groups on disk, the supervisor that fills it, and (the frontend's group included) the
 * guarantee that nothing outlives the daemon.
 */
export interface SupervisionHandle {
  readonly supervisor: ManagedSupervisor;
  /** Starts every enabled server in parallel. */
  startServers(): Promise<void>;
  /** Records (or forgets) a process group the daemon started outside the supervisor (the frontend). */
  trackProcessGroup(event: "spawned" | "exited", pgid: number): void;
  /** Stops every server, then the watchdog (stop the frontend first). Never rejects. */
  shutdown(): Promise<void>;
}

/** What supervision needs. */
export interface SupervisionOptions {
  readonly paths: StatePaths;
  readonly servers: readonly ServerConfig[];
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /** A lazy server whose tools the cache knows skips its discovery start (see `SupervisorDeps.knowsCatalog`). */
  readonly knowsCatalog?: (config: ServerConfig) => boolean;
  /** The era the tool cache remembers for a configuration: its first start skips the era probe (`SupervisorDeps.knownEra`). */
  readonly knownEra?: (config: ServerConfig) => ProtocolEra | undefined;
  /** Remote servers' OAuth: the sign-in seam of each connection and the token values to mask. */
  readonly oauth?: Pick<OAuthWiring, "authProviderFor" | "extraSecretsFor">;
}

/**
 * Reaps what a previous daemon of this state folder left running (read before the new record
 * overwrites it), starts the watchdog that kills our process groups if this daemon dies without
 * cleaning up, and creates the supervisor; nothing is spawned until `startServers`. Call only
 * after the live-daemon check: reaping a live daemon's record would kill its servers.
 */
export async function startSupervision(options: SupervisionOptions): Promise<SupervisionHandle> {
  const { logger, paths } = options;
  try {
    const reaped = await reapLeftovers(paths.childrenFile);
    if (reaped.length > 0) logger.warn({ pgids: reaped }, "stopped process groups left running by a previous daemon");
  } catch (error) {
    logger.error({ err: error }, "cannot reap leftovers of a previous daemon");
  }
  const registry = createProcessRegistry(paths.childrenFile, {
    onError: (error) => logger.error({ err: error }, "cannot record the process groups of the servers"),
  });
  const watchdog = startWatchdog({ registry, logger: logger.child({ component: "watchdog" }) });
  const supervisor = createSupervisor({
    servers: options.servers,
    logger: logger.child({ component: "supervisor" }),
    processRegistry: registry,
    clientInfo: { name: "deploystack-gateway", version: gatewayVersion },
    knowsCatalog: options.knowsCatalog,
    knownEra: options.knownEra,
    ...(options.oauth ? { authProviderFor: options.oauth.authProviderFor, extraSecretsFor: options.oauth.extraSecretsFor } : {}),
  });
  return {
    supervisor,
    startServers: () => supervisor.start(),
    trackProcessGroup(event, pgid) {
      if (event === "spawned") registry.add(pgid);
      else registry.remove(pgid);
    },
    async shutdown() {
      try {
        await supervisor.shutdown();
      } catch (error) {
        logger.error({ err: error }, "error while stopping the servers");
      }
      // Only after every group is gone: the watchdog guards until the very end.
      try {
        await watchdog.close();
      } catch (error) {
        logger.error({ err: error }, "error while stopping the watchdog");
      }
    },
  };
}
