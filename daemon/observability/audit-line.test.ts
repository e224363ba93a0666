import test from "ava";
import fc from "fast-check";
import { auditLineBytes, isoTime } from "./audit-line.js";

/** The line as text (the bytes decoded: they must be valid UTF-8). */
const auditLine = (record: AuditRecord): string => new TextDecoder("utf-8", { fatal: true }).decode(auditLineBytes(record));
import type { AuditRecord } from "./audit-log.js";

/** The hand-written line against the library one: any record, any time, any text (escapes, non-ASCII, lone surrogates). */

const text = fc.oneof(fc.string({ unit: "grapheme", maxLength: 30 }), fc.string({ unit: "binary", maxLength: 30 }), fc.string({ maxLength: 30 }));
const client = fc.record(
  { name: text, era: fc.constantFrom("legacy", "modern"), transport: fc.constantFrom("streamable-http", "sse", "stdio", "control-api") },
  { requiredKeys: ["transport"] },
);
const record: fc.Arbitrary<AuditRecord> = fc.record(
  {
    time: fc.date({ min: new Date(0), max: new Date(Date.UTC(9999, 0)), noInvalidDate: true }).map((date) => date.toISOString()),
    team: text,
    account: text,
    client,
    operation: fc.constantFrom("tools/call", "prompts/get", "resources/read"),
    name: text,
    canonicalName: text,
    server: text,
    outcome: fc.constantFrom("ok", "tool_error", "error", "denied", "cancelled"),
    // Rounded to microseconds as the observer does, in and past the range the writer formats itself; and any double.
    durationMs: fc.oneof(
      fc.double({ min: 0, max: 1e7, noNaN: true }).map((ms) => Math.round(ms * 1000) / 1000),
      fc.double({ min: 1e8, max: 1e10, noNaN: true }).map((ms) => Math.round(ms * 1000) / 1000),
      fc.integer({ min: 0, max: 2_000_000_000 }),
      fc.constantFrom(0, -0, 0.001, 0.01, 0.1, 0.5, 1, 10, 100, 999_999_999.999, 1e9, 1e21, -1, -0.001),
      fc.double(),
    ),
    errorCode: text,
    arguments: fc.oneof(
      fc.record({ mode: fc.constant("keys" as const), keys: fc.array(text, { maxLength: 4 }) }),
      fc.record({ mode: fc.constant("hash" as const), keys: fc.array(text, { maxLength: 4 }), hash: fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: 64, maxLength: 64 }) }),
      fc.record({ mode: fc.constant("full" as const), keys: fc.array(text, { maxLength: 4 }), values: fc.jsonValue() }),
    ),
  },
  { requiredKeys: ["time", "team", "client", "operation", "name", "outcome", "durationMs"] },
) as fc.Arbitrary<AuditRecord>;

test("an audit line is exactly JSON.stringify of its record, whichever fields it has", (t) => {
  fc.assert(
    fc.property(fc.array(record, { minLength: 1, maxLength: 5 }), (records) => {
      for (const one of records) t.is(auditLine(one), `${JSON.stringify(one)}\n`);
      // The same client object again (the observer reuses it): the remembered text is still its JSON.
      const shared = records[0]!;
      t.is(auditLine({ ...shared, name: "again" }), `${JSON.stringify({ ...shared, name: "again" })}\n`);
    }),
    { numRuns: 500 },
  );
});

test("lines of calls that repeat a name are still each their own record's JSON, whichever field changes", (t) => {
  // Few values per field, so that a name's kept middle is met again with one field (or the client object) changed.
  const clients = [{ name: "ide", era: "legacy", transport: "streamable-http" }, { name: "ide", era: "legacy", transport: "streamable-http" }, { transport: "sse" }];
  const few = <T>(...values: T[]): fc.Arbitrary<T> => fc.constantFrom(...values);
  const repeating: fc.Arbitrary<AuditRecord> = fc.record(
    {
      time: fc.constant("2026-12-05T12:00:00.000Z"),
      team: few("acme", "other"),
      account: few("dev@example.com", "ops@example.com"),
      client: few(...clients),
      operation: few("tools/call", "prompts/get", "resources/read"),
      name: few("a-search", "b-fetch"),
      canonicalName: few("search", "fetch"),
      server: few("a", "b"),
      outcome: few("ok", "error"),
      durationMs: fc.double({ min: 0, max: 1e4, noNaN: true }).map((ms) => Math.round(ms * 1000) / 1000),
      errorCode: few("-32602", "timeout"),
    },
    { requiredKeys: ["time", "team", "client", "operation", "name", "outcome", "durationMs"] },
  ) as fc.Arbitrary<AuditRecord>;
  fc.assert(
    fc.property(fc.array(repeating, { minLength: 2, maxLength: 30 }), (records) => {
      for (const one of records) t.is(auditLine(one), `${JSON.stringify(one)}\n`);
    }),
    { numRuns: 300 },
  );
});

test("a line stamped with the time isoTime just made writes that time, whichever time and record came before", (t) => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.integer({ min: -62_000_000_000_000, max: 253_402_300_799_999 }), record, fc.boolean()), { minLength: 1, maxLength: 10 }), (steps) => {
      for (const [ms, one, stamped] of steps) {
        // Stamped: the record carries isoTime's text of this very call; otherwise a text made before (or elsewhere).
        const text = isoTime(ms);
        const line = stamped ? { ...one, time: text } : one;
        t.is(auditLine(line), `${JSON.stringify(line)}\n`);
      }
    }),
    { numRuns: 300 },
  );
});

test("isoTime is Date's toISOString for any time, in any order", (t) => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.integer({ min: -62_000_000_000_000, max: 253_402_300_799_999 }), fc.double({ min: -1e6, max: 1e13, noNaN: true })), { minLength: 1, maxLength: 20 }), (times) => {
      for (const time of times) t.is(isoTime(time), new Date(time).toISOString(), String(time));
    }),
    { numRuns: 500 },
  );
  t.throws(() => isoTime(Number.NaN), { instanceOf: RangeError });
});
