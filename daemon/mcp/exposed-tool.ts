/**
 * The shape of a tool as clients see it, in a module of its own so that the registry and the
 * modules it builds on (client name views) can share it without importing each other.
 */
import type { JsonObject } from "../upstream/types.js";

/** A tool as clients see it. */
export interface ExposedTool {
  readonly exposedName: string;
  /** `<prefix>-<upstream name>` sanitized: the tool's identity for the policy, whatever it was renamed to. */
  readonly canonicalName: string;
  readonly server: string;
  /** The tool's name on its server; empty for a management tool, which has no upstream. */
  readonly upstreamName: string;
  /** The upstream definition, untouched except `name` (the gateway's own for a management tool). */
  readonly definition: JsonObject;
  /** The gateway's own tool managing `server` (see management-tools.ts), never forwarded. */
  readonly management?: true;
}
