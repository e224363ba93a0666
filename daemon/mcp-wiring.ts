import type { ConnectRouter } from "@connectrpc/connect";
import type { Logger } from "../shared/logger.js";
import type { FastPath } from "./api/open-session-fast-path.js";
import type { TeamConfig } from "./config/types.js";
import type { EventHub } from "./events.js";
import type { Registry } from "./mcp/registry.js";
import type { ProfileCatalog } from "./mcp/engine.js";
import type { CallObserver } from "./observability/call-observer.js";
import type { SupervisionHandle } from "./supervision.js";

/**
 * The contract between the composition root (daemon.ts) and the MCP engine's wiring (api/mcp-service.ts): what the
 * engine gets and what it gives back. In a module of its own so that neither of the two imports the other.
 */

/** What the MCP engine gets from the composition root. */
export interface McpWiringContext {
  readonly supervision: SupervisionHandle;
  readonly events: EventHub;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /** The team current at start-up (its policy is replaced by the control plane when it changes). */
  readonly team: TeamConfig;
  /** How long calls and lists wait for a starting server; the engine's default when absent. */
  readonly acquireTimeoutMs?: number;
  /** Where the engine reports calls and sessions (metrics, audit log, `dsctl top`). */
  readonly observer?: CallObserver;
}

/** What the MCP engine gives back. */
export interface McpWiring {
  readonly routes: (router: ConnectRouter) => void;
  /** Served on the unix socket before connect-node (the hot path's OpenSession). */
  readonly socketFastPaths?: readonly FastPath[];
  readonly sessionCount?: () => number;
  readonly close?: () => Promise<void> | void;
  /** The exposed catalog: the control plane seeds it from the tool cache and swaps its policy. */
  readonly registry?: Registry;
  /** The team's profiles: the control plane puts them in force, `ListProfiles` lists them. */
  readonly profiles?: ProfileCatalog;
}
