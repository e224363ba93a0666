import test from "ava";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { COALESCE_MS, createRotatingFile, MAX_COALESCED_BYTES } from "./rotating-file.js";

/** Past the longest a coalescing file holds a line back (a generous bound: timers may fire late on a busy machine). */
const afterCoalescing = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, COALESCE_MS * 5));

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "dsgw-rotate-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const line = (index: number): string => `line ${String(index).padStart(5, "0")} ${"x".repeat(40)}\n`;

test("the live file and every rotated file stay within the bound, and only maxFiles are kept", (t) => {
  const path = join(tempDir(t), "gateway.log");
  const file = createRotatingFile({ path, maxBytes: 1_000, maxFiles: 3 });
  t.teardown(() => file.close());
  for (let index = 0; index < 500; index++) t.true(file.write(line(index)));

  const names = [path, `${path}.1`, `${path}.2`, `${path}.3`];
  for (const name of names) {
    t.true(existsSync(name), name);
    t.true(statSync(name).size <= 1_000, `${name} is ${statSync(name).size} bytes`);
  }
  t.false(existsSync(`${path}.4`));

  // Oldest to newest, the kept lines are one contiguous run ending with the last line written.
  const kept = [...names].reverse().flatMap((name) => readFileSync(name, "utf8").split("\n").filter(Boolean));
  const numbers = kept.map((text) => Number(text.slice(5, 10)));
  t.is(numbers.at(-1), 499);
  t.deepEqual(numbers, numbers.map((_, i) => numbers[0] + i));
  t.true(numbers[0] > 0, "the oldest lines were dropped");
});

test("files are created 0600 and an existing file is appended to with its size counted", (t) => {
  const dir = tempDir(t);
  const path = join(dir, "gateway.log");
  writeFileSync(path, "x".repeat(900), { mode: 0o644 });
  const file = createRotatingFile({ path, maxBytes: 1_000, maxFiles: 2 });
  t.teardown(() => file.close());
  t.is(statSync(path).mode & 0o777, 0o600);
  file.write("y".repeat(50));
  t.is(statSync(path).size, 950);
  file.write("z".repeat(100));
  t.is(readFileSync(`${path}.1`, "utf8"), "x".repeat(900) + "y".repeat(50));
  t.is(readFileSync(path, "utf8"), "z".repeat(100));
  t.is(statSync(`${path}.1`).mode & 0o777, 0o600);
});

test("a line longer than the bound is written whole into a fresh file", (t) => {
  const path = join(tempDir(t), "gateway.log");
  const file = createRotatingFile({ path, maxBytes: 100, maxFiles: 1 });
  t.teardown(() => file.close());
  file.write("a".repeat(10));
  file.write("b".repeat(300));
  file.write("c".repeat(10));
  t.is(readFileSync(path, "utf8"), "c".repeat(10));
  t.is(readFileSync(`${path}.1`, "utf8"), "b".repeat(300));
  t.false(existsSync(`${path}.2`));
});

test("writes after close are dropped, not thrown", (t) => {
  const path = join(tempDir(t), "gateway.log");
  const file = createRotatingFile({ path });
  file.write("before\n");
  file.close();
  t.false(file.write("after\n"));
  t.is(readFileSync(path, "utf8"), "before\n");
});

test("a coalescing file writes its held lines together a moment later, and flush and close write at once", async (t) => {
  const path = join(tempDir(t), "audit.jsonl");
  const file = createRotatingFile({ path, coalesce: true });
  t.teardown(() => file.close());
  t.true(file.write(line(1)));
  t.true(file.write(line(2)));
  t.is(readFileSync(path, "utf8"), "", "held back");
  await afterCoalescing();
  t.is(readFileSync(path, "utf8"), line(1) + line(2));
  file.write(line(3));
  t.true(file.flush());
  t.is(readFileSync(path, "utf8"), line(1) + line(2) + line(3), "flush writes at once");
  file.write(line(4));
  file.close();
  t.is(readFileSync(path, "utf8"), line(1) + line(2) + line(3) + line(4), "close flushes");
  t.false(file.write(line(5)));
});

test("a coalescing file keeps its bound: held lines that would cross it rotate between whole lines", async (t) => {
  const path = join(tempDir(t), "audit.jsonl");
  const file = createRotatingFile({ path, maxBytes: 1_000, maxFiles: 3, coalesce: true });
  t.teardown(() => file.close());
  for (let turn = 0; turn < 50; turn++) {
    for (let index = 0; index < 10; index++) file.write(line(turn * 10 + index));
    if (turn % 10 === 9) await afterCoalescing();
  }
  const names = [path, `${path}.1`, `${path}.2`, `${path}.3`];
  for (const name of names) t.true(statSync(name).size <= 1_000, `${name} is ${statSync(name).size} bytes`);
  const kept = [...names].reverse().flatMap((name) => readFileSync(name, "utf8").split("\n").filter(Boolean));
  const numbers = kept.map((text) => Number(text.slice(5, 10)));
  t.is(numbers.at(-1), 499);
  t.deepEqual(numbers, numbers.map((_, i) => numbers[0] + i));
});

test("bytes are copied when written (the caller reuses its buffer), in order with text, held or not", async (t) => {
  for (const coalesce of [false, true]) {
    const path = join(tempDir(t), "audit.jsonl");
    const file = createRotatingFile({ path, coalesce });
    t.teardown(() => file.close());
    const scratch = Buffer.alloc(64);
    const expected: string[] = [];
    for (let index = 0; index < 3; index++) {
      const text = `bytes ${index} ünïcode\n`;
      const length = scratch.write(text);
      t.true(file.writeBytes(scratch.subarray(0, length)));
      scratch.fill(0x21); // what the caller does next must not change what was written
      t.true(file.write(`text ${index}\n`));
      expected.push(text, `text ${index}\n`);
    }
    await afterCoalescing();
    t.is(readFileSync(path, "utf8"), expected.join(""), coalesce ? "coalescing" : "direct");
  }
});

test("a coalescing file writes at once past MAX_COALESCED_BYTES and holds the next line again", (t) => {
  const path = join(tempDir(t), "audit.jsonl");
  const file = createRotatingFile({ path, coalesce: true });
  t.teardown(() => file.close());
  const big = `${"y".repeat(MAX_COALESCED_BYTES * 2)}\n`;
  t.true(file.write(big));
  t.is(readFileSync(path, "utf8"), big, "written at once, without waiting");
  t.true(file.write(line(1)));
  t.is(readFileSync(path, "utf8"), big, "a small line is held again");
  t.true(file.flush());
  t.is(readFileSync(path, "utf8"), big + line(1));
});
