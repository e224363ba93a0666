import type { StatePaths } from "../shared/paths.js";
import type { Logger } from "../shared/logger.js";
import { gatewayVersion } from "../shared/version.js";
import type { ServerConfig } from "./config/types.js";
import { createProcessRegistry } from "./supervisor/process-registry.js";
import { createSupervisor, type ManagedSupervisor } from "./supervisor/supervisor.js";

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
  /** Stops every server, then the watchdog. Never rejects. */
  shutdown(): Promise<void>;
}

/** What supervision needs. */
export interface SupervisionOptions {
  readonly paths: StatePaths;
  readonly servers: readonly ServerConfig[];
  readonly logger: Logger;
  readonly signal: AbortSignal;
}

/** Sets up the process record and the supervisor; nothing is spawned until `startServers`. */
export async function startSupervision(options: SupervisionOptions): Promise<SupervisionHandle> {
  const { logger, paths } = options;
  const registry = createProcessRegistry(paths.childrenFile, {
    onError: (error) => logger.error({ err: error }, "cannot record the process groups of the servers"),
  });
  const supervisor = createSupervisor({
    servers: options.servers,
    logger: logger.child({ component: "supervisor" }),
    processRegistry: registry,
    clientInfo: { name: "deploystack-gateway", version: gatewayVersion },
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
    },
  };
}
