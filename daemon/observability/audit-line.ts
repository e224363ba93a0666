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

function utf8(text: string): void {
  reserve(text.length * 3);
  pos += buffer.write(text, pos, "utf8");
}

/** JSON made once per object or value and kept: the parts of a line that repeat from call to call. */
const clientBytes = new WeakMap<AuditRecord["client"], Uint8Array>();
let lastTeam: string | undefined;
let lastTeamBytes: Uint8Array = new Uint8Array(0);

/**
 * The record's JSON line (with its newline) as UTF-8: exactly the bytes of `JSON.stringify(record)` and a newline
 * (the field order is the record's, optional fields left out when absent; audit-line.test.ts checks this for any
 * record). The parts that repeat — the team, the client — are kept as bytes, keyed by the very objects the observer
 * reuses; the timestamp's text is kept per second. A view of a buffer the next line overwrites: copy it first.
 */
export function auditLineBytes(record: AuditRecord): Uint8Array {
  pos = 0;
  ascii('{"time":');
  jsonString(record.time);
  ascii(',"team":');
  if (record.team !== lastTeam) {
    lastTeam = record.team;
    lastTeamBytes = Buffer.from(JSON.stringify(record.team), "utf8");
  }
  bytes(lastTeamBytes);
  if (record.account !== undefined) {
    ascii(',"account":');
    jsonString(record.account);
  }
  ascii(',"client":');
  let client = clientBytes.get(record.client);
  if (client === undefined) clientBytes.set(record.client, (client = Buffer.from(JSON.stringify(record.client), "utf8")));
  bytes(client);
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
  // A finite number's JSON is ASCII (digits, sign, point, exponent); a non-finite one is null, as JSON.stringify says.
  ascii(JSON.stringify(record.durationMs));
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

/** `new Date(epochMs).toISOString()`, with the text up to the second reused within that second. */
export function isoTime(epochMs: number): string {
  // Date keeps whole milliseconds, truncated towards zero.
  const whole = Math.trunc(epochMs);
  const second = Math.floor(whole / 1000);
  if (second !== cachedSecond) {
    const text = new Date(second * 1000).toISOString();
    // Years past 9999 (or before 0) change the text's length: leave those to Date.
    if (text.length !== 24) return new Date(epochMs).toISOString();
    cachedSecond = second;
    cachedPrefix = text.slice(0, 20);
  }
  const millis = whole - second * 1000;
  return `${cachedPrefix}${millis < 10 ? "00" : millis < 100 ? "0" : ""}${millis}Z`;
}
