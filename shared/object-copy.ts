/**
 * Copies of objects that are then given keys of their own — an upstream request's `params` with a `_meta` added, a
 * `_meta` with the gateway's keys stamped in — made so that the copy costs the same on every call.
 *
 * Why not spread syntax: on Node 20 (V8 11.3), a copy made by spreading (`{ ...source, key: value }`, or
 * `{ ...source }` followed by `copy.key = value`) gets a hidden class of its own, detached from V8's tree of shape
 * transitions, and every key it is given that `source` lacked builds a new hidden class and descriptor array for that
 * one object: about 1 µs per call instead of 50 ns, and garbage in the old generation that keeps young objects alive
 * across scavenges. In the daemon, a traced request's `_meta` added that way cost about 9 µs of CPU per call
 * (docs/architecture.md, "Copies that gain keys"). `Object.assign({}, source)` builds the copy's shape through the
 * shared transitions, which later keys extend from V8's cache. Node 22 treats both alike; spreading stays fine where no
 * key is added (`{ ...params, name }` when `params` has a `name`).
 */

/**
 * A shallow copy of `source` (an empty object for `undefined`) that keys can be added to at the cost of a cached
 * transition. A parsed message may own a `"__proto__"` key, which `Object.assign` would make the copy's prototype (a
 * client choosing what every missing key of the copy reads): such a source is copied by spreading, which keeps it an
 * ordinary key; only a hostile or odd message pays the slower copy. The check reads `source.__proto__`, which is
 * `Object.prototype` exactly when `source` is an ordinary object without such a key (an own key's value, another
 * prototype or none all read otherwise, and are spread): a property read, where `Object.hasOwn(source, "__proto__")`
 * cost a runtime call of about 0.2 µs.
 */
export function extensibleCopy<T extends object>(source: T | undefined): T {
  if (source === undefined) return {} as T;
  if ((source as { __proto__?: unknown }).__proto__ !== Object.prototype) return { ...source };
  return Object.assign({}, source);
}

/** A shallow copy of `source` with `key` set to `value` (added, or replacing the one `source` has), as spreading gives. */
export function withField<T extends object, K extends string, V>(source: T, key: K, value: V): Omit<T, K> & { [P in K]: V } {
  const copy = extensibleCopy(source) as Record<string, unknown>;
  setOwn(copy, key, value);
  return copy as Omit<T, K> & { [P in K]: V };
}

/**
 * Sets `key` on `target` as an own data property, for copies built key by key from a parsed message: an assignment
 * would take a `"__proto__"` key for the target's prototype (the client's object would then answer every key the
 * copy lacks, and the key would not be sent on); this keeps it an ordinary key, as spreading does.
 */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  else target[key] = value;
}
