/**
 * What the audit log keeps of a call's arguments (`audit.arguments` in a team's `audit:` section). Argument values
 * are often the most sensitive part of a call (queries, file contents, personal data), so the default keeps none:
 * - `none`: nothing;
 * - `keys`: the argument names, sorted;
 * - `hash`: the names and an HMAC-SHA256 of the arguments' canonical JSON (keys sorted at every depth) under a
 *   random key of this installation (`$DEPLOYSTACK_HOME/audit.key`, 0600). A plain SHA-256 would let anyone who
 *   reads the log confirm a guessed value (a short ticket number, a yes/no) by hashing candidates; keyed, equal
 *   arguments still give equal hashes on this installation, and nothing can be guessed from the log alone;
 * - `full`: the names and the values, with the called server's secrets masked in every encoding.
 */
import { createHmac } from "node:crypto";
import type { AuditArgumentsMode } from "../config/types.js";

/** What a line records of the arguments; absent in mode `none`. */
export interface AuditArguments {
  readonly mode: Exclude<AuditArgumentsMode, "none">;
  readonly keys: readonly string[];
  readonly hash?: string;
  readonly values?: unknown;
}

/** JSON with object keys sorted at every depth: one text per value, whatever order the client wrote. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const object = value as Record<string, unknown>;
  const members = Object.keys(object)
    .filter((key) => object[key] !== undefined)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonicalJson(object[key])}`);
  return `{${members.join(",")}}`;
}

/** What `auditArguments` needs besides the arguments. */
export interface AuditArgumentsContext {
  /** The installation's audit key (read or created on first use of `hash`). */
  readonly key: () => Buffer;
  /** Masks the called server's secrets in a JSON value (`full`). */
  readonly mask: <T>(value: T) => T;
}

/** The modes, re-exported for the observability modules. */
export type { AuditArgumentsMode };

/** The audit record of `args` in `mode`; undefined for `none`. */
export function auditArguments(mode: AuditArgumentsMode, args: unknown, context: AuditArgumentsContext): AuditArguments | undefined {
  if (mode === "none") return undefined;
  const object = typeof args === "object" && args !== null && !Array.isArray(args) ? (args as Record<string, unknown>) : {};
  const keys = Object.keys(object).sort();
  if (mode === "keys") return { mode, keys };
  if (mode === "hash") return { mode, keys, hash: createHmac("sha256", context.key()).update(canonicalJson(object)).digest("hex") };
  return { mode, keys, values: context.mask(object) };
}
