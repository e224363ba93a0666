/**
 * The requests in flight on a long-lived object — a server connection, a client session, a stream — by id: one is
 * added when a request starts and deleted when it ends, thousands of times a second under load.
 *
 * Not a `Map` (or `Set`): V8 keeps a Map's entries in a hash table that it replaces once deletions have used up its
 * slots, and the replaced table keeps a pointer to its successor (for iterators still walking it) and to the entries
 * it held. When one table of a long-lived Map is in the old generation (which any full collection does to a live
 * table), the next one is reachable from it, and so on: the young-generation collector cannot tell that the old table
 * is garbage, so every later table and every request object they held survives each scavenge and is promoted. In the
 * daemon at 3,000 calls/s that was 20 KB → 400–900 KB surviving each scavenge, scavenges of 1 → 4–5 ms and about
 * 14 µs more CPU per call, from the first full collection under load for as long as the process ran
 * (docs/architecture.md, "Tables of requests in flight"). A dictionary object is rehashed without such a link.
 *
 * Keys are numbers, strings or bigints (a bigint is keyed by its decimal text, so distinct bigints never collide);
 * `undefined` is not a value.
 */
export class InflightTable<K extends number | string | bigint, V> {
  private entries: Record<string, V> = Object.create(null) as Record<string, V>;
  private count = 0;

  /** How many entries there are. */
  get size(): number {
    return this.count;
  }

  get(key: K): V | undefined {
    return this.entries[key as unknown as string];
  }

  has(key: K): boolean {
    return this.entries[key as unknown as string] !== undefined;
  }

  set(key: K, value: V): void {
    const entries = this.entries;
    if (entries[key as unknown as string] === undefined) this.count++;
    entries[key as unknown as string] = value;
  }

  /** Removes `key`'s entry; false when there was none. */
  delete(key: K): boolean {
    const entries = this.entries;
    if (entries[key as unknown as string] === undefined) return false;
    delete entries[key as unknown as string];
    this.count--;
    return true;
  }

  /** The values, in no particular order, as a new array (safe to change the table while walking it). */
  values(): V[] {
    const values: V[] = [];
    const entries = this.entries;
    for (const key in entries) values.push(entries[key]!);
    return values;
  }

  clear(): void {
    this.entries = Object.create(null) as Record<string, V>;
    this.count = 0;
  }
}
