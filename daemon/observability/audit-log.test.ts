import { createHmac } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { createMasker } from "../supervisor/masking.js";
import { auditArguments, canonicalJson } from "./audit-arguments.js";
import { auditKeyLoader } from "./audit-key.js";
import { createAuditLog, type AuditRecord } from "./audit-log.js";

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "audit-log-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function record(index: number, overrides: Partial<AuditRecord> = {}): AuditRecord {
  return {
    time: new Date(1_700_000_000_000 + index * 1000).toISOString(),
    team: "demo",
    client: { name: "test", era: "legacy", transport: "streamable_http" },
    operation: "tools/call",
    name: `alpha-tool_${index % 3}`,
    canonicalName: `alpha-tool_${index % 3}`,
    server: index % 2 === 0 ? "alpha" : "beta",
    outcome: index % 5 === 0 ? "error" : "ok",
    durationMs: index,
    ...overrides,
  };
}

test("lines are 0600 JSON, listed newest last with filters, across rotated files, and the files stay bounded", async (t) => {
  const dir = tempDir(t);
  const log = createAuditLog({ path: join(dir, "audit.jsonl"), maxBytes: 2_000, maxFiles: 2 });
  t.teardown(() => log.close());
  const seen: AuditRecord[] = [];
  const unsubscribe = log.subscribe((r) => seen.push(r));
  for (let i = 1; i <= 60; i++) t.true(log.append(record(i)));
  unsubscribe();
  log.append(record(61));
  t.is(seen.length, 60);
  log.flush();
  t.is(statSync(join(dir, "audit.jsonl")).mode & 0o777, 0o600);
  // Bounded: the live file and two rotated ones, each within the size (plus one line).
  t.deepEqual(readdirSync(dir).sort(), ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"]);
  for (const file of readdirSync(dir)) t.true(statSync(join(dir, file)).size <= 2_200);
  const lines = readFileSync(join(dir, "audit.jsonl"), "utf8").trim().split("\n");
  t.deepEqual(JSON.parse(lines.at(-1)!), record(61));

  const last5 = await log.list({}, 5);
  t.deepEqual(
    last5.map((r) => r.durationMs),
    [57, 58, 59, 60, 61],
  );
  const errors = await log.list({ outcome: "error", server: "beta" }, 100);
  t.true(errors.length >= 2);
  t.true(errors.every((r) => r.outcome === "error" && r.server === "beta"));
  const byName = await log.list({ tool: "alpha-tool_1", since: Date.parse(record(50).time) }, 100);
  t.deepEqual(
    byName.map((r) => r.durationMs),
    [52, 55, 58, 61],
  );
});

test("arguments: none keeps nothing, keys the sorted names, hash a keyed HMAC of canonical JSON, full masked values", (t) => {
  const dir = tempDir(t);
  const key = auditKeyLoader(join(dir, "audit.key"));
  const secret = "s3cr3t-value-123";
  const mask = createMasker([secret]);
  const context = { key, mask: <T>(value: T): T => JSON.parse(mask(JSON.stringify(value))) as T };
  const args = { b: 1, a: { y: [1, { d: 2, c: 3 }], x: secret } };
  t.is(auditArguments("none", args, context), undefined);
  t.deepEqual(auditArguments("keys", args, context), { mode: "keys", keys: ["a", "b"] });
  const hashed = auditArguments("hash", args, context)!;
  t.is(canonicalJson(args), `{"a":{"x":${JSON.stringify(secret)},"y":[1,{"c":3,"d":2}]},"b":1}`);
  t.is(hashed.hash, createHmac("sha256", key()).update(canonicalJson(args)).digest("hex"));
  // The same arguments in another order hash the same; the key file is private and reused.
  t.is(auditArguments("hash", { a: { x: secret, y: [1, { c: 3, d: 2 }] }, b: 1 }, context)!.hash, hashed.hash);
  t.is(statSync(join(dir, "audit.key")).mode & 0o777, 0o600);
  t.is(auditKeyLoader(join(dir, "audit.key"))().toString("hex"), key().toString("hex"));
  // Another installation's key gives another hash: a value cannot be confirmed from the log alone.
  const other = auditKeyLoader(join(dir, "other.key"));
  t.not(auditArguments("hash", args, { ...context, key: other })!.hash, hashed.hash);
  const full = auditArguments("full", args, context)!;
  t.false(JSON.stringify(full).includes(secret));
  t.deepEqual(full.keys, ["a", "b"]);
  t.deepEqual((full.values as { a: { x: string } }).a.x, "***");
});
