/**
 * One audit record as its JSON line, written field by field: the same text as `JSON.stringify(record)` (the field
 * order is the record's, optional fields left out when absent), but the parts that repeat from call to call — the
 * team, the client — are kept as text, keyed by the very objects the observer reuses, and the timestamp's text is
 * kept per second. The audit line is written on every call; `JSON.stringify` of the whole record and a fresh ISO date
 * were most of what the audit log cost per call (bench/ab.mjs, audit on against off). audit-line.test.ts checks the
 * text against `JSON.stringify` for any record.
 */
import type { AuditRecord } from "./audit-record.js";

const clientText = new WeakMap<AuditRecord["client"], string>();

/** The `client` object's JSON, once per object. */
function clientJson(client: AuditRecord["client"]): string {
  let text = clientText.get(client);
  if (text === undefined) clientText.set(client, (text = JSON.stringify(client)));
  return text;
}

let lastTeam: string | undefined;
let lastTeamJson = "";

function teamJson(team: string): string {
  if (team !== lastTeam) {
    lastTeam = team;
    lastTeamJson = JSON.stringify(team);
  }
  return lastTeamJson;
}

/** The record's JSON line (with its newline). */
export function auditLine(record: AuditRecord): string {
  let line = `{"time":${JSON.stringify(record.time)},"team":${teamJson(record.team)}`;
  if (record.account !== undefined) line += `,"account":${JSON.stringify(record.account)}`;
  line += `,"client":${clientJson(record.client)},"operation":${JSON.stringify(record.operation)},"name":${JSON.stringify(record.name)}`;
  if (record.canonicalName !== undefined) line += `,"canonicalName":${JSON.stringify(record.canonicalName)}`;
  if (record.server !== undefined) line += `,"server":${JSON.stringify(record.server)}`;
  line += `,"outcome":${JSON.stringify(record.outcome)},"durationMs":${JSON.stringify(record.durationMs)}`;
  if (record.errorCode !== undefined) line += `,"errorCode":${JSON.stringify(record.errorCode)}`;
  if (record.arguments !== undefined) line += `,"arguments":${JSON.stringify(record.arguments)}`;
  return `${line}}\n`;
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
