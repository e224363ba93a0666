/**
 * Exposed names of tools and prompts: `<prefix>-<name>` (bare `<name>` for an empty
 * prefix), made valid for every MCP client and unique across servers.
 *
 * MCP 2025-11-25 ("Server Features › Tools › Tool Names") recommends names of 1–128
 * characters from `[A-Za-z0-9_.-]`; several clients (and LLM APIs) accept only
 * `^[a-zA-Z0-9_-]{1,64}$`, so the gateway uses that stricter form. Names are always
 * resolved back through the maps built here, never by splitting on "-", because both
 * prefixes and upstream names may contain "-".
 */
import { createHash } from "node:crypto";

/** Every exposed name matches this. */
export const EXPOSED_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** The longest exposed name. */
export const MAX_EXPOSED_NAME_LENGTH = 64;

const HASH_LENGTH = 6;

/** A short stable hash (hex) of `text`: the same input always gives the same suffix, across runs and machines. */
export function shortHash(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex").slice(0, HASH_LENGTH);
}

/**
 * Makes `raw` a valid exposed name: characters outside `[A-Za-z0-9_-]` become `_`, an
 * empty name becomes `_`, and a name over 64 characters is cut and suffixed with `_`
 * and a hash of the whole original, so that two long names sharing a beginning stay apart.
 */
export function sanitizeExposedName(raw: string): string {
  const replaced = raw.replace(/[^A-Za-z0-9_-]/g, "_");
  if (replaced.length === 0) return "_";
  if (replaced.length <= MAX_EXPOSED_NAME_LENGTH) return replaced;
  return `${replaced.slice(0, MAX_EXPOSED_NAME_LENGTH - HASH_LENGTH - 1)}_${shortHash(raw)}`;
}

/** The name an item wants before collisions are resolved: `<prefix>-<name>`, sanitized. */
export function wantedExposedName(prefix: string, name: string): string {
  return sanitizeExposedName(prefix === "" ? name : `${prefix}-${name}`);
}

/** `wanted` with a hash suffix, kept within 64 characters. */
function suffixed(wanted: string, salt: string): string {
  const suffix = `_${shortHash(salt)}`;
  return `${wanted.slice(0, MAX_EXPOSED_NAME_LENGTH - suffix.length)}${suffix}`;
}

/** One upstream item (a tool or a prompt) to name. */
export interface NamingCandidate {
  readonly server: string;
  readonly prefix: string;
  /** The item's name on its server. */
  readonly upstreamName: string;
}

/** Two items that wanted the same exposed name, and how it was resolved (the proto `NameCollision`). */
export interface NameCollision {
  readonly wantedName: string;
  /** The server whose item kept the wanted name. */
  readonly keptServer: string;
  /** The server whose item was renamed (may equal `keptServer` when sanitizing made two names equal). */
  readonly renamedServer: string;
  /** The upstream name of the renamed item. */
  readonly renamedItem: string;
  readonly assignedName: string;
}

/** Where an exposed name leads. */
export interface NameTarget {
  readonly server: string;
  readonly upstreamName: string;
}

/** The outcome of naming a set of items. */
export interface NameAssignment {
  /** Exposed name → item. */
  readonly byExposedName: ReadonlyMap<string, NameTarget>;
  /** `server\0upstreamName` → exposed name (see `itemKey`). */
  readonly byItem: ReadonlyMap<string, string>;
  readonly collisions: readonly NameCollision[];
}

/** The key of an item in `NameAssignment.byItem`. */
export function itemKey(server: string, upstreamName: string): string {
  return `${server}\u0000${upstreamName}`;
}

function compareCandidates(a: NamingCandidate, b: NamingCandidate): number {
  if (a.server !== b.server) return a.server < b.server ? -1 : 1;
  if (a.upstreamName !== b.upstreamName) return a.upstreamName < b.upstreamName ? -1 : 1;
  return 0;
}

/**
 * Assigns every item a unique exposed name, deterministically: items are ordered by
 * server name then upstream name; for each wanted name the first item keeps it and
 * every other one gets the wanted name plus `_` and a hash of its server and upstream
 * name (re-salted in the unlikely case that is taken too). The result does not depend on
 * the order of `candidates`. Duplicate items (same server and upstream name) are named once.
 * `reserved` names (exposed name → owning server: the gateway's own management tools) are
 * never given to an item: an item that wants one is renamed like any other loser.
 */
export function assignExposedNames(candidates: readonly NamingCandidate[], reserved?: ReadonlyMap<string, string>): NameAssignment {
  const sorted = [...candidates].sort(compareCandidates);
  const byExposedName = new Map<string, NameTarget>();
  const byItem = new Map<string, string>();
  const collisions: NameCollision[] = [];
  const losers: { candidate: NamingCandidate; wanted: string; keptServer: string }[] = [];

  for (const candidate of sorted) {
    const key = itemKey(candidate.server, candidate.upstreamName);
    if (byItem.has(key)) continue;
    const wanted = wantedExposedName(candidate.prefix, candidate.upstreamName);
    const reservedBy = reserved?.get(wanted);
    const holder = reservedBy === undefined ? byExposedName.get(wanted) : { server: reservedBy };
    if (holder === undefined) {
      byExposedName.set(wanted, { server: candidate.server, upstreamName: candidate.upstreamName });
      byItem.set(key, wanted);
    } else {
      byItem.set(key, "");
      losers.push({ candidate, wanted, keptServer: holder.server });
    }
  }
  for (const { candidate, wanted, keptServer } of losers) {
    const key = itemKey(candidate.server, candidate.upstreamName);
    let assigned = suffixed(wanted, key);
    for (let attempt = 1; byExposedName.has(assigned) || reserved?.has(assigned) === true; attempt++) assigned = suffixed(wanted, `${key}\u0000${attempt}`);
    byExposedName.set(assigned, { server: candidate.server, upstreamName: candidate.upstreamName });
    byItem.set(key, assigned);
    collisions.push({
      wantedName: wanted,
      keptServer,
      renamedServer: candidate.server,
      renamedItem: candidate.upstreamName,
      assignedName: assigned,
    });
  }
  return { byExposedName, byItem, collisions };
}
