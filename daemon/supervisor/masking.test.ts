import test from "ava";
import { createLineSplitter, createLogBuffer } from "./log-buffer.js";
import { createMasker } from "./masking.js";
import { backoffDelay, DEFAULT_RESTART_POLICY, isCrashLoop, recentCrashes } from "./restart-policy.js";

test("createMasker replaces every occurrence, longest secret first, and ignores short values", (t) => {
  const mask = createMasker(["token-1234", "token-1234-extended", "abc", ""]);
  t.is(mask("a token-1234-extended b token-1234 c abc"), "a *** b *** c abc");
  t.is(createMasker([])("unchanged"), "unchanged");
});

test("the line splitter masks a secret even when an over-long line is cut across it", (t) => {
  const secret = "SECRET-VALUE-0123456789";
  const lines: string[] = [];
  const mask = createMasker([secret]);
  const splitter = createLineSplitter((line) => lines.push(line), { maxLineChars: 40, mask, holdBack: secret.length - 1 });
  const text = "_".repeat(30) + secret + "=".repeat(30) + "\nnext " + secret.slice(0, 5);
  for (const char of text) splitter.push(char);
  splitter.push(secret.slice(5) + "\n");
  splitter.flush();
  t.false(lines.join("").includes(secret));
  t.is(lines.join("").replaceAll("***", "").replace(/[_=]/g, ""), "next ");
  t.is(lines.at(-1), "next ***");
});

test("the line splitter keeps multi-byte characters split across chunks", (t) => {
  const lines: string[] = [];
  const splitter = createLineSplitter((line) => lines.push(line));
  const bytes = Buffer.from("héllo wörld\r\n");
  for (let i = 0; i < bytes.length; i++) splitter.push(bytes.subarray(i, i + 1));
  t.deepEqual(lines, ["héllo wörld"]);
});

test("the log buffer is bounded by lines and bytes and feeds subscribers", (t) => {
  const log = createLogBuffer({ maxLines: 3, maxBytes: 10 });
  const seen: string[] = [];
  const unsubscribe = log.subscribe((entry) => seen.push(entry.text));
  for (const text of ["a", "b", "c", "d"]) log.append({ time: 1, source: "stderr", text });
  t.deepEqual(log.tail().map((e) => e.text), ["b", "c", "d"]);
  t.deepEqual(log.tail(2).map((e) => e.text), ["c", "d"]);
  log.append({ time: 2, source: "supervisor", text: "0123456789" });
  t.deepEqual(log.tail().map((e) => e.text), ["0123456789"]);
  unsubscribe();
  log.append({ time: 3, source: "stderr", text: "e" });
  t.deepEqual(seen, ["a", "b", "c", "d", "0123456789"]);
});

test("back-off doubles up to the cap with jitter; the crash window slides", (t) => {
  const policy = { ...DEFAULT_RESTART_POLICY, initialDelayMs: 100, maxDelayMs: 1000, jitter: 0.2 };
  t.deepEqual(
    [1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, policy, () => 0.5)),
    [100, 200, 400, 800, 1000, 1000],
  );
  t.is(backoffDelay(1, policy, () => 0), 80);
  t.is(backoffDelay(1, policy, () => 0.999999), 120);
  const recent = recentCrashes([0, 30_000, 59_000, 61_000], 61_000, DEFAULT_RESTART_POLICY);
  t.deepEqual(recent, [30_000, 59_000, 61_000]);
  t.false(isCrashLoop(recent, DEFAULT_RESTART_POLICY));
  t.true(isCrashLoop([1, 2, 3, 4, 5], DEFAULT_RESTART_POLICY));
});
