/**
 * Masking of secret values in text the daemon shows (server logs, error reasons, JSON-RPC
 * errors from servers, argv, anything the control API returns). A server may print its own
 * credentials (a debug dump of its environment, an error echoing its config, an HTTP client
 * logging an `Authorization` header), and rarely in the form it was given: JSON-escaped,
 * URL-encoded, base64 inside a `Basic` header, hex, upper-cased. So the masker replaces every
 * common encoding of every secret, and everything that leaves the supervisor goes through it.
 *
 * What is caught, for each configured value of at least `MIN_SECRET_LENGTH` characters, in its
 * given, lower- and upper-case forms, matched case-insensitively:
 * - the value itself; JSON string escaping (as `JSON.stringify` writes it, with non-ASCII as
 *   `\uXXXX`, with `/` as `\/`, and escaped twice, for JSON inside a JSON string);
 * - URL encoding: `encodeURIComponent`, `encodeURI`, form encoding (`+` for space) and every
 *   byte percent-encoded;
 * - base64 and base64url of the UTF-8 bytes, padded or not; and, because base64 encodes three
 *   bytes at a time, the value *inside* a longer base64 text (`Basic dXNlcjp0b2tlbg==`, a JWT
 *   claim) at each of the three byte alignments: the characters that depend on the value's bits
 *   alone are masked, the (at most two) boundary characters that mix in neighbouring bytes stay;
 * - hex of the UTF-8 bytes (lower and upper case).
 * What is not: other transformations (hashes, encryption, compression, a base64 of a base64,
 * base64 wrapped across lines, UTF-16 encodings), a value split across separate lines or
 * messages, values shorter than `MIN_SECRET_LENGTH`, and a value rebuilt from pieces around a
 * mask (a secret that itself contains `***`).
 */

import { UpstreamRpcError } from "../upstream/types.js";

/** Replacement for every secret occurrence. */
export const MASK = "***";

/** Values shorter than this are not masked: masking "1" or "true" would garble every line. */
export const MIN_SECRET_LENGTH = 4;

/** Replaces every occurrence of any encoding of any secret in a text. */
export interface Masker {
  (text: string): string;
  /**
   * The length of the longest text it replaces (0 when it masks nothing): a stream cut into
   * pieces must hold back one character less, so an encoding straddling the cut is masked whole.
   */
  readonly longestMatch: number;
}

const base64Alphabet = (bytes: Buffer): string => bytes.toString("base64").replace(/=+$/, "");
const toBase64Url = (base64: string): string => base64.replaceAll("+", "-").replaceAll("/", "_");

/** JSON string escaping with every non-ASCII character as `\uXXXX` (Python's `json.dumps` default). */
function asciiJsonEscape(text: string): string {
  return JSON.stringify(text)
    .slice(1, -1)
    .replace(/[^\x20-\x7e]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * The base64 characters that depend on `bytes` alone when they sit at byte offset `k` (0–2)
 * of a longer base64 text: character i encodes bits [6i, 6i+6), kept when they lie within the
 * value's bits [8k, 8(k+n)).
 */
function base64Core(bytes: Buffer, k: number): string {
  const encoded = base64Alphabet(Buffer.concat([Buffer.alloc(k), bytes]));
  return encoded.slice(Math.ceil((8 * k) / 6), Math.floor((8 * (k + bytes.length)) / 6));
}

/** Every encoding of `secret` the masker replaces (see the module comment); short ones are left out. */
export function secretEncodings(secret: string): string[] {
  const found = new Set<string>();
  const add = (encoded: string): void => {
    if (encoded.length < MIN_SECRET_LENGTH) return;
    found.add(encoded);
    if (encoded.includes("/")) found.add(encoded.replaceAll("/", "\\/"));
  };
  for (const text of new Set([secret, secret.toLowerCase(), secret.toUpperCase()])) {
    const bytes = Buffer.from(text, "utf8");
    const json = JSON.stringify(text).slice(1, -1);
    add(text);
    add(json);
    add(asciiJsonEscape(text));
    add(JSON.stringify(json).slice(1, -1));
    add(encodeURIComponent(text));
    add(new URLSearchParams({ v: text }).toString().slice(2));
    add([...bytes].map((byte) => `%${byte.toString(16).padStart(2, "0")}`).join(""));
    try {
      add(encodeURI(text));
    } catch {
      // A lone surrogate has no URI form (and none of the other encoders made one either).
    }
    const base64 = bytes.toString("base64");
    for (const form of new Set([base64, base64.replace(/=+$/, "")])) {
      add(form);
      add(toBase64Url(form));
    }
    for (const k of [0, 1, 2]) {
      const core = base64Core(bytes, k);
      add(core);
      add(toBase64Url(core));
    }
    add(bytes.toString("hex"));
  }
  return [...found];
}

const escapeRegExp = (literal: string): string => literal.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");

/**
 * The lower-case form of a character when the case-insensitive pattern still matches the original with it (so
 * "A" and "a" share a branch of the trie), else the character itself.
 */
function foldChar(char: string, cache: Map<string, string>): string {
  let folded = cache.get(char);
  if (folded === undefined) {
    const lower = char.toLowerCase();
    folded = [...lower].length === 1 && new RegExp(`^${escapeRegExp(lower)}$`, "iu").test(char) ? lower : char;
    cache.set(char, folded);
  }
  return folded;
}

/** How many leading UTF-16 units all `words` share, never ending inside a surrogate pair. */
function commonPrefixLength(words: readonly string[]): number {
  const first = words[0]!;
  let length = first.length;
  for (const word of words) {
    let i = 0;
    while (i < length && i < word.length && word.charCodeAt(i) === first.charCodeAt(i)) i++;
    length = i;
  }
  const last = first.charCodeAt(length - 1);
  return last >= 0xd800 && last <= 0xdbff ? length - 1 : length;
}

/**
 * The regular expression source of the trie of `words` (distinct, folded): one branch per first character, the
 * characters all words of a branch share written as one literal, and an optional (greedy) group where a word ends
 * and longer ones go on, so the longest encoding at a position wins. A flat alternation of hundreds of literals
 * makes the engine try each at every position (tens of microseconds per line); the trie lets it follow one path.
 */
function trieSource(words: readonly string[]): string {
  const groups = new Map<number, string[]>();
  let ends = false;
  for (const word of words) {
    if (word === "") {
      ends = true;
      continue;
    }
    const first = word.codePointAt(0)!;
    const group = groups.get(first);
    if (group) group.push(word);
    else groups.set(first, [word]);
  }
  const branches = [...groups.values()].map((group) => {
    const shared = commonPrefixLength(group);
    const rest = group.map((word) => word.slice(shared));
    return escapeRegExp(group[0]!.slice(0, shared)) + (rest.length === 1 ? "" : trieSource(rest));
  });
  if (branches.length === 0) return "";
  const alternation = `(?:${branches.join("|")})`;
  return ends ? `${alternation}?` : alternation;
}

/**
 * Builds a masker for `secrets` (e.g. the values of a server's configured env). The encodings
 * are computed once here and compiled into one case-insensitive pattern shaped as a trie, so a
 * line is scanned once whatever the number of secrets, and an encoding that contains another
 * is masked whole.
 */
export function createMasker(secrets: Iterable<string>): Masker {
  const cache = new Map<string, string>();
  const words = new Set<string>();
  let longestMatch = 0;
  for (const secret of new Set(secrets)) {
    if (secret.length < MIN_SECRET_LENGTH) continue;
    for (const encoded of secretEncodings(secret)) {
      longestMatch = Math.max(longestMatch, encoded.length);
      let folded = "";
      for (const char of encoded) folded += foldChar(char, cache);
      words.add(folded);
    }
  }
  if (longestMatch === 0) return Object.assign((text: string) => text, { longestMatch: 0 });
  const pattern = new RegExp(trieSource([...words]), "giu");
  const mask = (text: string): string => (text === "" ? text : text.replace(pattern, MASK));
  return Object.assign(mask, { longestMatch });
}

/**
 * A JSON value with every string (and object key) in it masked: for structured server output
 * (a JSON-RPC error's `data`, a catalog, an `initialize` result), where masking the serialised
 * text could cut an escape sequence in half. Values that are not plain JSON pass as they are.
 */
export function maskJsonValue<T>(mask: Masker, value: T): T {
  if (mask.longestMatch === 0) return value;
  return walk(mask, value) as T;
}

function walk(mask: Masker, value: unknown): unknown {
  if (typeof value === "string") return mask(value);
  if (Array.isArray(value)) return value.map((item) => walk(mask, item));
  if (value === null || typeof value !== "object" || Object.getPrototypeOf(value) !== Object.prototype) return value;
  const masked: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) masked[mask(key)] = walk(mask, item);
  return masked;
}

/**
 * A server's JSON-RPC error answer with its secrets masked in `message` and `data`: what every
 * upstream connection installs as `maskError`, since those errors reach MCP clients, dsctl and logs.
 */
export function maskUpstreamError(mask: Masker, error: UpstreamRpcError): UpstreamRpcError {
  if (mask.longestMatch === 0) return error;
  return new UpstreamRpcError(error.code, mask(error.message), maskJsonValue(mask, error.data));
}
