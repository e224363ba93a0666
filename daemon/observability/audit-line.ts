/**
 * One audit record as its JSON line in UTF-8, written field by field straight into bytes: the same text as
 * `JSON.stringify(record)`, but the parts that repeat from call to call are kept, and no string is built. The audit
 * line is written on every call; building its text (a JSON.stringify per field and the concatenations) and encoding it
 * again for the file were most of what the audit log cost per call (bench/pair.mjs, audit on against off).
 */
import type { AuditRecord } from "./audit-record.js";

/**
 * The line being written, as UTF-8: one buffer reused for every line (`auditLineBytes` hands out a view of it, which
 * the caller copies before the next line). Writing bytes here rather than joining strings saves the ropes that
 * string concatenation builds and that the file write would then flatten and encode again.
 */
let buffer = Buffer.allocUnsafe(4096);
let pos = 0;

function reserve(bytes: number): void {
  if (pos + bytes <= buffer.length) return;
  let size = buffer.length * 2;
  while (size < pos + bytes) size *= 2;
  const grown = Buffer.allocUnsafe(size);
  buffer.copy(grown, 0, 0, pos);
  buffer = grown;
}

/**
 * Text known to be ASCII (the line's own punctuation and keys, numbers): its char codes are its bytes. The
 * loops here work on locals, written back once: the module's `buffer` and `pos` are context slots, a load and a check
 * per access, which in a loop over every character of a line cost more than the rest of the line.
 */
function ascii(text: string): void {
  reserve(text.length);
  const target = buffer;
  let at = pos;
  for (let index = 0; index < text.length; index++) target[at++] = text.charCodeAt(index);
  pos = at;
}

/** Bytes made before (a client's or a team's JSON). */
function bytes(made: Uint8Array): void {
  reserve(made.length);
  buffer.set(made, pos);
  pos += made.length;
}

/**
 * `value` as a JSON string. Printable ASCII without `"` or `\\` is its own JSON between quotes, written by a loop;
 * anything else (escapes, non-ASCII, lone surrogates) is `JSON.stringify`'s, encoded as UTF-8.
 */
function jsonString(value: string): void {
  reserve(value.length + 2);
  const target = buffer;
  let at = pos;
  target[at++] = 0x22;
  for (let index = 0; index < value.length; index++) {
    const code = value.charCodeAt(index);
    if (code < 0x20 || code > 0x7e || code === 0x22 || code === 0x5c) return utf8(JSON.stringify(value));
    target[at++] = code;
  }
  target[at++] = 0x22;
  pos = at;
}

/**
 * A duration in milliseconds as JSON. The observer rounds durations to microseconds, and such a number below a
 * billion is its whole part, a point and its thousandths without trailing zeros — written digit by digit here, because
 * `JSON.stringify` of a number was the costliest part of the line (half the line writer's samples in a profile of the
 * daemon). Anything else (more decimals, out of range, not finite) is `JSON.stringify`'s.
 */
function milliseconds(ms: number): void {
  const thousandths = Math.round(ms * 1000);
  if (!(ms >= 0 && ms < 1e9) || thousandths / 1000 !== ms) {
    // A finite number's JSON is ASCII (digits, sign, point, exponent); a non-finite one is null.
    ascii(JSON.stringify(ms));
    return;
  }
  reserve(14);
  const target = buffer;
  let at = pos;
  const whole = Math.floor(thousandths / 1000);
  let fraction = thousandths - whole * 1000;
  // The whole part's digits, most significant first (at most nine).
  let scale = 1;
  while (scale * 10 <= whole) scale *= 10;
  for (let rest = whole; scale >= 1; scale /= 10) {
    const digit = Math.floor(rest / scale);
    target[at++] = 0x30 + digit;
    rest -= digit * scale;
  }
  if (fraction !== 0) {
    target[at++] = 0x2e;
    for (let place = 100; fraction !== 0; place /= 10) {
      const digit = Math.floor(fraction / place);
      target[at++] = 0x30 + digit;
      fraction -= digit * place;
    }
  }
  pos = at;
}

function utf8(text: string): void {
  reserve(text.length * 3);
  pos += buffer.write(text, pos, "utf8");
}

/**
 * The part of a line between its time and its duration — team, account, client, operation, name, canonical name,
 * server, outcome — is the same for every call of one client to one tool with one outcome: made once and kept as
 * bytes, found by the name and checked field by field (a client is compared as the object the observer reuses for it).
 * Writing it afresh, a string at a time, was most of what an audit line cost the daemon per call.
 */
interface KeptMiddle {
  readonly team: string;
  readonly account: string | undefined;
  readonly client: AuditRecord["client"];
  readonly operation: string;
  readonly canonicalName: string | undefined;
  readonly server: string | undefined;
  readonly outcome: string;
  readonly bytes: Uint8Array;
}

/** Names whose middle is kept (names come from clients: the memory stays bounded, the map starts over past this). */
const MAX_KEPT_MIDDLES = 1024;
const keptMiddles = new Map<string, KeptMiddle>();

function keptMiddleOf(record: AuditRecord): Uint8Array | undefined {
  const kept = keptMiddles.get(record.name);
  if (
    kept === undefined ||
    kept.client !== record.client ||
    kept.outcome !== record.outcome ||
    kept.server !== record.server ||
    kept.canonicalName !== record.canonicalName ||
    kept.operation !== record.operation ||
    kept.team !== record.team ||
    kept.account !== record.account
  ) {
    return undefined;
  }
  return kept.bytes;
}

/** Writes the middle of `record`'s line and keeps a copy of its bytes for the next call like it. */
function writeMiddle(record: AuditRecord): void {
  const start = pos;
  ascii(',"team":');
  jsonString(record.team);
  if (record.account !== undefined) {
    ascii(',"account":');
    jsonString(record.account);
  }
  ascii(',"client":');
  utf8(JSON.stringify(record.client));
  ascii(',"operation":');
  jsonString(record.operation);
  ascii(',"name":');
  jsonString(record.name);
  if (record.canonicalName !== undefined) {
    ascii(',"canonicalName":');
    jsonString(record.canonicalName);
  }
  if (record.server !== undefined) {
    ascii(',"server":');
    jsonString(record.server);
  }
  ascii(',"outcome":');
  jsonString(record.outcome);
  ascii(',"durationMs":');
  if (keptMiddles.size >= MAX_KEPT_MIDDLES) keptMiddles.clear();
  const { team, account, client, operation, canonicalName, server, outcome } = record;
  keptMiddles.set(record.name, { team, account, client, operation, canonicalName, server, outcome, bytes: new Uint8Array(buffer.subarray(start, pos)) });
}

/**
 * The record's JSON line (with its newline) as UTF-8: exactly the bytes of `JSON.stringify(record)` and a newline
 * (the field order is the record's, optional fields left out when absent; audit-line.test.ts checks this for any
 * record). The middle of the line repeats from call to call and is kept (`KeptMiddle`). A view of a buffer the next
 * line overwrites: copy it first.
 */
export function auditLineBytes(record: AuditRecord): Uint8Array {
  pos = 0;
  ascii('{"time":');
  time(record.time);
  const middle = keptMiddleOf(record);
  if (middle === undefined) writeMiddle(record);
  else bytes(middle);
  milliseconds(record.durationMs);
  if (record.errorCode !== undefined) {
    ascii(',"errorCode":');
    jsonString(record.errorCode);
  }
  if (record.arguments !== undefined) {
    ascii(',"arguments":');
    utf8(JSON.stringify(record.arguments));
  }
  ascii("}\n");
  return buffer.subarray(0, pos);
}

let cachedSecond = Number.NaN;
let cachedPrefix = "";
/** `cachedPrefix` as a JSON string's opening bytes: a quote and its twenty ASCII characters. */
let cachedPrefixBytes = new Uint8Array(0);
/** The text `isoTime` returned last and its milliseconds: a line with that time writes it from these parts. */
let lastTime: string | undefined;
let lastMillis = 0;

/** `new Date(epochMs).toISOString()`, with the text up to the second reused within that second. */
export function isoTime(epochMs: number): string {
  // Date keeps whole milliseconds, truncated towards zero.
  const whole = Math.trunc(epochMs);
  const second = Math.floor(whole / 1000);
  if (second !== cachedSecond) {
    const text = new Date(second * 1000).toISOString();
    // Years past 9999 (or before 0) change the text's length: leave those to Date.
    if (text.length !== 24) {
      lastTime = undefined;
      return new Date(epochMs).toISOString();
    }
    cachedSecond = second;
    cachedPrefix = text.slice(0, 20);
    cachedPrefixBytes = Buffer.from(`"${cachedPrefix}`, "latin1");
  }
  const millis = whole - second * 1000;
  lastMillis = millis;
  return (lastTime = `${cachedPrefix}${millis < 10 ? "00" : millis < 100 ? "0" : ""}${millis}Z`);
}

/**
 * A line's time as JSON: the text `isoTime` made last (what the observer just stamped the record with) from its
 * kept prefix and its milliseconds, any other text as a string. Reading the time text back character by character
 * (a concatenation V8 has not flattened) was a third of what the line writer still cost.
 */
function time(text: string): void {
  if (text !== lastTime) return jsonString(text);
  bytes(cachedPrefixBytes);
  reserve(5);
  const target = buffer;
  const millis = lastMillis;
  target[pos] = 0x30 + Math.floor(millis / 100);
  target[pos + 1] = 0x30 + (Math.floor(millis / 10) % 10);
  target[pos + 2] = 0x30 + (millis % 10);
  target[pos + 3] = 0x5a;
  target[pos + 4] = 0x22;
  pos += 5;
}
