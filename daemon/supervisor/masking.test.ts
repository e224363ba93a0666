import test from "ava";
import fc from "fast-check";
import { createLineSplitter, createLogBuffer } from "./log-buffer.js";
import { createMasker, maskJsonValue, MASK, MIN_SECRET_LENGTH, secretEncodings } from "./masking.js";
import { backoffDelay, DEFAULT_RESTART_POLICY, isCrashLoop, recentCrashes } from "./restart-policy.js";

test("createMasker replaces every occurrence, longest secret first, and ignores short values", (t) => {
  const mask = createMasker(["token-1234", "token-1234-extended", "abc", ""]);
  t.is(mask("a token-1234-extended b token-1234 c abc"), "a *** b *** c abc");
  t.is(createMasker([])("unchanged"), "unchanged");
});

// The encoders below are written out here on purpose (not taken from masking.ts): they are what
// servers and libraries actually produce, and the masker must catch each.
const utf8 = (text: string): Buffer => Buffer.from(text, "utf8");
const encoders: Record<string, (secret: string) => string> = {
  "as-is": (s) => s,
  "upper case": (s) => s.toUpperCase(),
  "lower case": (s) => s.toLowerCase(),
  "JSON string": (s) => JSON.stringify(s).slice(1, -1),
  "JSON string, escaped twice": (s) => JSON.stringify(JSON.stringify(s).slice(1, -1)).slice(1, -1),
  "JSON string, ASCII only": (s) => JSON.stringify(s).slice(1, -1).replace(/[^ -~]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0")),
  "JSON string, upper-case \\u escapes": (s) => JSON.stringify(s).slice(1, -1).replace(/[^ -~]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")),
  encodeURIComponent: (s) => encodeURIComponent(s),
  "form encoding": (s) => new URLSearchParams([["k", s]]).toString().slice(2),
  "percent-encoding, upper hex": (s) => [...utf8(s)].map((b) => "%" + b.toString(16).toUpperCase().padStart(2, "0")).join(""),
  base64: (s) => utf8(s).toString("base64"),
  "base64 with escaped slashes": (s) => utf8(s).toString("base64").replaceAll("/", "\\/"),
  base64url: (s) => utf8(s).toString("base64url"),
  "base64 of the upper-cased value": (s) => utf8(s.toUpperCase()).toString("base64"),
  hex: (s) => utf8(s).toString("hex"),
  "hex, upper case": (s) => utf8(s).toString("hex").toUpperCase(),
};

// Secrets without "*" (a value containing the mask itself could be rebuilt around a mask; see masking.ts).
const secretArbitrary = fc
  .string({ unit: fc.oneof(fc.constantFrom(..."aZ09+/=%&?:-_.~ \"'<>{}\\\n\t"), fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 })), minLength: MIN_SECRET_LENGTH, maxLength: 40 })
  .filter((s) => !s.includes("*") && s.length >= MIN_SECRET_LENGTH);
const surroundingArbitrary = fc.string({ unit: fc.oneof(fc.constantFrom(..."aZ09+/= %\\\"*"), fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 })), maxLength: 40 });

test("property: no encoding of a random secret survives inside random surrounding text", (t) => {
  fc.assert(
    fc.property(
      // Several secrets that may share a prefix (tokens of one vendor), so the matcher's branches overlap.
      fc.string({ maxLength: 8 }).filter((prefix) => !prefix.includes("*")),
      fc.array(secretArbitrary, { minLength: 1, maxLength: 4 }),
      fc.nat(),
      fc.constantFrom(...Object.keys(encoders)),
      surroundingArbitrary,
      surroundingArbitrary,
      (prefix, tails, pick, encoding, before, after) => {
        const secrets = tails.map((tail) => prefix + tail);
        const encoded = encoders[encoding]!(secrets[pick % secrets.length]!);
        const masked = createMasker([...secrets, "unrelated-other-secret"])(before + encoded + after);
        return !masked.includes(encoded) && masked.includes(MASK);
      },
    ),
    { numRuns: 1000 },
  );
  t.pass();
});

/** Every base64 run in `text`, decoded at each of the four character alignments. */
function decodedBase64Runs(text: string): Buffer[] {
  const decoded: Buffer[] = [];
  for (const run of text.match(/[A-Za-z0-9+/_-]+/g) ?? []) {
    for (let shift = 0; shift < 4; shift++) decoded.push(Buffer.from(run.slice(shift), "base64"));
  }
  return decoded;
}

test("property: a secret inside a longer base64 text is masked at every byte alignment", (t) => {
  fc.assert(
    fc.property(
      secretArbitrary,
      fc.uint8Array({ maxLength: 8 }),
      fc.uint8Array({ maxLength: 8 }),
      fc.boolean(),
      surroundingArbitrary,
      (secret, before, after, url, around) => {
        const bytes = Buffer.concat([before, utf8(secret), after]);
        const encoded = bytes.toString(url ? "base64url" : "base64");
        const masked = createMasker([secret])(`${around} Basic ${encoded} ${around}`);
        return decodedBase64Runs(masked).every((run) => !run.includes(utf8(secret)));
      },
    ),
    { numRuns: 1000 },
  );
  t.pass();
});

test("every listed encoding of one awkward secret is masked, and the longest match bounds them all", (t) => {
  const secret = 'p@ss/wörd+Key=1 "x"&y';
  const mask = createMasker([secret]);
  for (const [name, encode] of Object.entries(encoders)) {
    const encoded = encode(secret);
    t.is(mask(`<${encoded}>`), "<***>", name);
    t.true(encoded.length <= mask.longestMatch, name);
  }
  t.true(secretEncodings(secret).every((encoded) => encoded.length >= MIN_SECRET_LENGTH));
  t.is(createMasker(["abc"]).longestMatch, 0, "short values are not masked");
  t.is(createMasker(["abc"])("abc ABC"), "abc ABC");
});

test("maskJsonValue masks strings and keys at any depth and leaves other values alone", (t) => {
  const secret = "tok-\"quoted\"-9";
  const mask = createMasker([secret]);
  const value = { [secret]: [1, true, null, { nested: `Bearer ${secret}`, escaped: JSON.stringify({ secret }) }], n: 2 };
  const masked = maskJsonValue(mask, value);
  t.deepEqual(masked, { "***": [1, true, null, { nested: "Bearer ***", escaped: '{"secret":"***"}' }], n: 2 });
  t.false(JSON.stringify(masked).includes("quoted"));
  t.is(maskJsonValue(createMasker([]), value), value);
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

test("held back by the masker's longest match, the line splitter masks any encoding cut across an over-long line", (t) => {
  const secret = "SECRET-VALUE-0123456789";
  const mask = createMasker([secret]);
  t.true(mask.longestMatch > secret.length, "encodings can be longer than the value (hex, percent-encoding)");
  for (const encoded of Object.values(encoders).map((encode) => encode(secret))) {
    for (const lead of [0, 37, 150, 199]) {
      const lines: string[] = [];
      const splitter = createLineSplitter((line) => lines.push(line), { maxLineChars: 200, mask, holdBack: mask.longestMatch - 1 });
      for (const char of "_".repeat(lead) + encoded + "=".repeat(300)) splitter.push(char);
      splitter.flush();
      t.false(lines.join("").includes(encoded), `${encoded} after ${lead} characters`);
    }
  }
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
