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

/** Whether `exposedName` is `wanted` or `wanted` with a collision suffix (see `suffixed`). */
function isNameFor(exposedName: string, wanted: string): boolean {
  if (exposedName === wanted) return true;
  const head = wanted.slice(0, MAX_EXPOSED_NAME_LENGTH - HASH_LENGTH - 1);
  return exposedName.length === head.length + HASH_LENGTH + 1 && exposedName.startsWith(`${head}_`) && /^[0-9a-f]+$/.test(exposedName.slice(head.length + 1));
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
  /** The server whose item kept the wanted name (or whose prefix owns it; see `assignExposedNames`). */
  readonly keptServer: string;
  /** The server whose item was renamed (may equal `keptServer` when sanitizing made two names equal). */
  readonly renamedServer: string;
  /** The upstream name of the renamed item. */
  readonly renamedItem: string;
  /** The exposed name the renamed item got; empty for a resource URI or template, which is not served at all. */
  readonly assignedName: string;
}

/** Where an exposed name leads. */
export interface NameTarget {
  readonly server: string;
  readonly upstreamName: string;
}

/**
 * One exposed name (or resource URI, or URI template) given to a (server, item) pair. Held
 * names are what makes naming sticky: the registry passes back every name it gave, in the
 * order it gave them, and the tool cache keeps them across restarts.
 */
export interface HeldName {
  readonly exposedName: string;
  readonly server: string;
  /** The item's name on its server (for a resource: its URI or URI template). */
  readonly upstreamName: string;
  /** For a renamed item: the server that kept (or owned) the name it wanted, for the collision report. */
  readonly keptServer?: string;
}

/** The outcome of naming a set of items. */
export interface NameAssignment {
  /** Exposed name → item, for the items named now. */
  readonly byExposedName: ReadonlyMap<string, NameTarget>;
  /** `server\0upstreamName` → exposed name (see `itemKey`). */
  readonly byItem: ReadonlyMap<string, string>;
  /** The renamed items named now. */
  readonly collisions: readonly NameCollision[];
  /** Every name held after this assignment, oldest first: pass it to the next assignment. */
  readonly held: readonly HeldName[];
}

/** Inputs of `assignExposedNames` besides the candidates. */
export interface NamingOptions {
  /**
   * Names given before (the previous assignment's `held`, or the tool cache's). An item that
   * holds a name keeps it, whatever else now wants it; no other item ever gets it while the
   * holder's server is configured.
   */
  readonly held?: readonly HeldName[];
  /**
   * Every configured server with its prefix (also servers with no catalog yet): prefixes
   * decide who owns a name space, and whether a held name still fits its server's prefix.
   * Default: the candidates' servers.
   */
  readonly prefixes?: ReadonlyMap<string, string>;
  /** Exposed name → owning server: the gateway's own management tools. Never given to an item. */
  readonly reserved?: ReadonlyMap<string, string>;
}

/** The key of an item in `NameAssignment.byItem`. */
export function itemKey(server: string, upstreamName: string): string {
  return `${server}\u0000${upstreamName}`;
}

/**
 * How many names a server may hold for items it no longer lists. Held names outlive a
 * listing so that a server restarting, reconfigured or briefly listing less never lets
 * another take its names; the bound keeps a server that churns names from growing the
 * ledger (and the cache file) without end. Only the churning server's own oldest names go.
 */
export const MAX_STALE_HELD_PER_SERVER = 256;

function compareCandidates(a: NamingCandidate, b: NamingCandidate): number {
  if (a.server !== b.server) return a.server < b.server ? -1 : 1;
  if (a.upstreamName !== b.upstreamName) return a.upstreamName < b.upstreamName ? -1 : 1;
  return 0;
}

/**
 * The server whose prefix owns `wanted` against a candidate of `server`: the server with the
 * longest non-empty (sanitized) prefix that, followed by "-", begins `wanted`, when that
 * prefix is longer than the candidate's own. `kb-memory-read_graph` belongs to server
 * `kb-memory` (prefix `kb-memory`), never to server `kb` listing `memory-read_graph`,
 * whichever of them lists it first.
 */
function namespaceOwner(wanted: string, server: string, prefixes: ReadonlyMap<string, string>): string | undefined {
  const own = sanitizedPrefix(prefixes.get(server) ?? "");
  let owner: string | undefined;
  let ownerLength = own.length;
  for (const [other, prefix] of prefixes) {
    if (other === server || prefix === "") continue;
    const clean = sanitizedPrefix(prefix);
    if (clean.length > ownerLength && wanted.startsWith(`${clean}-`)) {
      owner = other;
      ownerLength = clean.length;
    }
  }
  return owner;
}

function sanitizedPrefix(prefix: string): string {
  return prefix === "" ? "" : prefix.replace(/[^A-Za-z0-9_-]/g, "_");
}

/**
 * Assigns every item a unique exposed name, stickily and independently of timing:
 *
 * 1. An item that holds a name (`options.held`) keeps it.
 * 2. A new item gets the name it wants (`<prefix>-<name>`) unless that name is held by
 *    another item, reserved, named this round by an item ordered before it (server name, then
 *    upstream name), or lies in the name space of a server with a longer prefix (see
 *    `namespaceOwner`): a server can never take `kb-memory-x` from server `kb-memory`, even
 *    before `kb-memory` has listed `x`.
 * 3. Otherwise it gets the wanted name plus `_` and a hash of its server and upstream name
 *    (re-salted in the unlikely case that is taken too), and the collision is reported.
 *
 * So a name once given never moves to another server, whatever the order of start-up,
 * `list_changed` or restarts, and a renamed item keeps its suffixed name. Held names of
 * servers not configured now are kept (and still block others), and a server keeps at most
 * `MAX_STALE_HELD_PER_SERVER` names of items it no longer lists. A held name that became
 * reserved (management tools switched on) goes back to the gateway, the only owner that
 * outranks a holder. Duplicate items (same server and upstream name) are named once.
 */
export function assignExposedNames(candidates: readonly NamingCandidate[], options: NamingOptions = {}): NameAssignment {
  const { reserved } = options;
  const prefixes = options.prefixes ?? new Map(candidates.map((c) => [c.server, c.prefix]));
  const sorted = [...candidates].sort(compareCandidates);
  const present = new Set(sorted.map((c) => itemKey(c.server, c.upstreamName)));

  const heldByName = new Map<string, HeldName>();
  const heldByItem = new Map<string, HeldName>();
  /** Held names kept, in their order. */
  const kept: HeldName[] = [];
  for (const entry of options.held ?? []) {
    const key = itemKey(entry.server, entry.upstreamName);
    const prefix = prefixes.get(entry.server);
    if (reserved?.has(entry.exposedName) === true) continue;
    // A name from before a prefix change is not held any more: the prefix decides the name.
    // A server not configured right now (a team switch under way) keeps its names: they
    // still block others, and the tool cache drops them once the server leaves the team.
    if (prefix !== undefined && !isNameFor(entry.exposedName, wantedExposedName(prefix, entry.upstreamName))) continue;
    if (heldByName.has(entry.exposedName) || heldByItem.has(key)) continue;
    heldByName.set(entry.exposedName, entry);
    heldByItem.set(key, entry);
    kept.push(entry);
  }

  const byExposedName = new Map<string, NameTarget>();
  const byItem = new Map<string, string>();
  const collisions: NameCollision[] = [];
  const added: HeldName[] = [];
  const losers: { candidate: NamingCandidate; wanted: string; keptServer: string }[] = [];
  const taken = (name: string): boolean => byExposedName.has(name) || heldByName.has(name) || reserved?.has(name) === true;

  for (const candidate of sorted) {
    const key = itemKey(candidate.server, candidate.upstreamName);
    if (byItem.has(key)) continue;
    const wanted = wantedExposedName(candidate.prefix, candidate.upstreamName);
    const held = heldByItem.get(key);
    if (held) {
      byExposedName.set(held.exposedName, { server: candidate.server, upstreamName: candidate.upstreamName });
      byItem.set(key, held.exposedName);
      if (held.exposedName !== wanted) {
        const keptServer = reserved?.get(wanted) ?? heldByName.get(wanted)?.server ?? held.keptServer ?? candidate.server;
        collisions.push({ wantedName: wanted, keptServer, renamedServer: candidate.server, renamedItem: candidate.upstreamName, assignedName: held.exposedName });
      }
      continue;
    }
    const keptServer =
      reserved?.get(wanted) ??
      heldByName.get(wanted)?.server ??
      byExposedName.get(wanted)?.server ??
      namespaceOwner(wanted, candidate.server, prefixes);
    if (keptServer === undefined) {
      byExposedName.set(wanted, { server: candidate.server, upstreamName: candidate.upstreamName });
      byItem.set(key, wanted);
      added.push({ exposedName: wanted, server: candidate.server, upstreamName: candidate.upstreamName });
    } else {
      byItem.set(key, "");
      losers.push({ candidate, wanted, keptServer });
    }
  }
  for (const { candidate, wanted, keptServer } of losers) {
    const key = itemKey(candidate.server, candidate.upstreamName);
    let assigned = suffixed(wanted, key);
    for (let attempt = 1; taken(assigned); attempt++) assigned = suffixed(wanted, `${key}\u0000${attempt}`);
    byExposedName.set(assigned, { server: candidate.server, upstreamName: candidate.upstreamName });
    byItem.set(key, assigned);
    added.push({ exposedName: assigned, server: candidate.server, upstreamName: candidate.upstreamName, keptServer });
    collisions.push({ wantedName: wanted, keptServer, renamedServer: candidate.server, renamedItem: candidate.upstreamName, assignedName: assigned });
  }
  return { byExposedName, byItem, collisions, held: retainHeld([...kept, ...added], present) };
}

/**
 * Keeps every held name of a listed item, and per server the newest
 * `MAX_STALE_HELD_PER_SERVER` of the others, in their original order. Shared by tool,
 * prompt and resource naming so the bound means the same everywhere.
 */
export function retainHeld(held: readonly HeldName[], present: ReadonlySet<string>): HeldName[] {
  const staleLeft = new Map<string, number>();
  const keep = new Array<boolean>(held.length).fill(true);
  for (let index = held.length - 1; index >= 0; index--) {
    const entry = held[index]!;
    if (present.has(itemKey(entry.server, entry.upstreamName))) continue;
    const left = staleLeft.get(entry.server) ?? MAX_STALE_HELD_PER_SERVER;
    if (left === 0) keep[index] = false;
    else staleLeft.set(entry.server, left - 1);
  }
  return held.filter((_, index) => keep[index]);
}

/** Two servers whose prefixes let their names collide: `shorter` + "-" begins `longer`. */
export interface PrefixOverlap {
  readonly shorter: { readonly server: string; readonly prefix: string };
  readonly longer: { readonly server: string; readonly prefix: string };
}

/**
 * Pairs of servers whose prefixes overlap: `kb` (prefix `kb`) listing `memory-x` would want
 * the name `kb-memory-x` that server `kb-memory` wants for `x`. Equal prefixes overlap too,
 * and an empty prefix overlaps every other. Naming settles such collisions (the longer
 * prefix owns its name space), but the team file should say so up front.
 */
export function findPrefixOverlaps(servers: readonly { readonly name: string; readonly prefix: string }[]): PrefixOverlap[] {
  const overlaps: PrefixOverlap[] = [];
  for (const a of servers) {
    for (const b of servers) {
      if (a === b) continue;
      const pa = sanitizedPrefix(a.prefix);
      const pb = sanitizedPrefix(b.prefix);
      const equalOnce = pa === pb && a.name < b.name;
      const nests = pa.length < pb.length && (pa === "" || pb.startsWith(`${pa}-`));
      if (equalOnce || nests) overlaps.push({ shorter: { server: a.name, prefix: a.prefix }, longer: { server: b.name, prefix: b.prefix } });
    }
  }
  return overlaps;
}

/**
 * Every name the registry has given, per kind: the state that makes naming sticky, kept by
 * the registry for the life of the team and in the team's tool cache across restarts.
 * Resource URIs and URI templates are held the same way (the URI is both the exposed name
 * and the upstream name), so that no server can take over one another server serves.
 */
export interface NameLedger {
  readonly tools: readonly HeldName[];
  readonly prompts: readonly HeldName[];
  readonly resources: readonly HeldName[];
  readonly resourceTemplates: readonly HeldName[];
}

/** A ledger holding nothing (a new team, or a cache without one). */
export const EMPTY_NAME_LEDGER: NameLedger = { tools: [], prompts: [], resources: [], resourceTemplates: [] };
