/**
 * Builds the daemon's observability from its running parts (the composition root calls this once): the metrics
 * registry over the supervisor's servers, the audit log in `logs/audit.jsonl`, the masker over the current team's
 * secrets, the signed-in account, and the hop timers when they are on.
 */
import { join } from "node:path";
import { hopTiming } from "../../shared/hop-timing.js";
import { ensurePrivateDir, type StatePaths } from "../../shared/paths.js";
import type { TeamConfig } from "../config/types.js";
import type { EventHub } from "../events.js";
import { createMasker, type Masker } from "../supervisor/masking.js";
import type { ServerSnapshot } from "../supervisor/types.js";
import { auditKeyLoader } from "./audit-key.js";
import { createAuditLog } from "./audit-log.js";
import { createGatewayMetrics } from "./gateway-metrics.js";
import { createObservability, DEFAULT_AUDIT_SETTINGS, type AuditSettings, type Observability } from "./observability.js";

/** What the daemon hands in. */
export interface OpenObservabilityOptions {
  readonly paths: StatePaths;
  /** The configured servers now. */
  readonly servers: () => readonly ServerSnapshot[];
  readonly currentTeam: () => TeamConfig;
  /** The signed-in account's e-mail, looked up again on start-up, team switches and syncs. */
  readonly whoAmI: () => Promise<string | undefined>;
  readonly events: EventHub;
}

/** The observability and the setter of the catalog lookup (the engine's registry exists only after it). */
export interface OpenedObservability {
  readonly observability: Observability;
  /** Sets how tool label values are checked against the exposed catalog. */
  setCatalog(lookup: (server: string, name: string) => boolean): void;
  close(): void;
}

/** Opens the daemon's observability. */
export function openObservability(options: OpenObservabilityOptions): OpenedObservability {
  let catalog: ((server: string, name: string) => boolean) | undefined;
  const metrics = createGatewayMetrics({
    servers: options.servers,
    knownTool: (server, name) => catalog?.(server, name) ?? false,
  });
  hopTiming.onRecord((span, micros) => metrics.hop(span, micros));
  ensurePrivateDir(options.paths.logsDir);
  const audit = createAuditLog({ path: join(options.paths.logsDir, "audit.jsonl") });
  const maskers = new WeakMap<TeamConfig, Masker>();
  const teamViews = new WeakMap<TeamConfig, { readonly id: string; readonly audit: AuditSettings }>();
  const masker = (): Masker => {
    const team = options.currentTeam();
    let mask = maskers.get(team);
    if (!mask) maskers.set(team, (mask = createMasker(team.servers.flatMap((server) => Object.values(server.env)))));
    return mask;
  };
  let account: string | undefined;
  const refreshAccount = (): void => {
    options.whoAmI().then(
      (email) => (account = email),
      () => undefined,
    );
  };
  refreshAccount();
  const unsubscribe = options.events.subscribe((event) => {
    if (event.kind === "team_switched" || event.kind === "config_synced") refreshAccount();
  });
  const observability = createObservability({
    metrics,
    audit,
    team: () => {
      // Read per call: one view per team object, so that a call allocates nothing for it.
      const team = options.currentTeam();
      let view = teamViews.get(team);
      if (!view) teamViews.set(team, (view = { id: team.id, audit: team.audit ?? DEFAULT_AUDIT_SETTINGS }));
      return view;
    },
    account: () => account,
    masker,
    auditKey: auditKeyLoader(join(options.paths.home, "audit.key")),
  });
  return {
    observability,
    setCatalog: (lookup) => void (catalog = lookup),
    close() {
      unsubscribe();
      audit.close();
    },
  };
}
