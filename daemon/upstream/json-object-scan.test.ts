import test from "ava";
import { scanJsonObject } from "./json-object-scan.js";

/** A small deterministic generator, so a failure names a seed that reproduces it. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
}

function randomValue(next: () => number, depth: number): unknown {
  const kind = Math.floor(next() * (depth > 3 ? 5 : 7));
  switch (kind) {
    case 0:
      return next() < 0.5;
    case 1:
      return null;
    case 2: {
      const forms = [0, -0.5, 12345, 1e21, -3.25e-7, Math.floor(next() * 1e6), -Math.floor(next() * 100)];
      return forms[Math.floor(next() * forms.length)];
    }
    case 3:
    case 4: {
      const alphabet = ['a', 'Z', ' ', '"', "\\", "/", "\n", "\t", "\u0001", "é", "😀", "\u2028", "}", "]", ",", ":"];
      let text = "";
      for (let i = Math.floor(next() * 12); i > 0; i--) text += alphabet[Math.floor(next() * alphabet.length)];
      return text;
    }
    case 5: {
      const list: unknown[] = [];
      for (let i = Math.floor(next() * 4); i > 0; i--) list.push(randomValue(next, depth + 1));
      return list;
    }
    default: {
      const object: Record<string, unknown> = {};
      for (let i = Math.floor(next() * 4); i > 0; i--) object[String(randomValue(next, 9))] = randomValue(next, depth + 1);
      return object;
    }
  }
}

/** Splits bytes into pieces at the given offsets. */
function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const pieces: Buffer[] = [];
  let from = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    pieces.push(bytes.subarray(from, cut));
    from = cut;
  }
  pieces.push(bytes.subarray(from));
  return pieces;
}

function isJsonObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === "object" && !Array.isArray(value);
  } catch {
    return false;
  }
}

test("finds every top-level member's value, wherever the pieces are cut", (t) => {
  const text = ' {"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"a\\"}b"}],"n":-1.5e3},"x":[],"t":true,"z":null,"k\\u0041":0} \r';
  const bytes = Buffer.from(text);
  const expected = Object.entries(JSON.parse(text) as Record<string, unknown>);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const members = scanJsonObject(split(bytes, [cut, Math.floor(cut / 2)]));
    t.truthy(members, `cut at ${cut}`);
    t.deepEqual(
      members!.map((m) => [m.key, JSON.parse(bytes.subarray(m.start, m.end).toString())]),
      expected,
      `cut at ${cut}`,
    );
  }
});

test("accepts exactly what JSON.parse accepts as an object, over random documents and corruptions of them", (t) => {
  const next = random(20261124);
  const corruptions = ["", "x", "}", "]", ",", ":", '"', "\\", "0", "-", ".", "e", "+", " ", "\u0000", "\n", "tru", "{", "["];
  let accepted = 0;
  for (let round = 0; round < 3000; round++) {
    const object = randomValue(next, 0);
    const wrapped = object !== null && typeof object === "object" && !Array.isArray(object) ? object : { v: object };
    let text = JSON.stringify(wrapped);
    if (round % 2 === 1) {
      const at = Math.floor(next() * (text.length + 1));
      const removing = next() < 0.3;
      const insert = corruptions[Math.floor(next() * corruptions.length)]!;
      text = text.slice(0, at) + insert + text.slice(removing ? at + 1 : at);
    }
    const bytes = Buffer.from(text);
    // What the gateway would have parsed: the bytes decoded (a lone surrogate left by a cut becomes U+FFFD).
    text = bytes.toString("utf8");
    const cuts = [Math.floor(next() * (bytes.length + 1)), Math.floor(next() * (bytes.length + 1))];
    const members = scanJsonObject(split(bytes, cuts));
    const valid = isJsonObject(text);
    t.is(members !== undefined, valid, `round ${round}: ${JSON.stringify(text)}`);
    if (members && valid) {
      accepted++;
      const parsed = JSON.parse(text) as Record<string, unknown>;
      // Duplicate keys: JSON.parse keeps the last, the scan reports each in order.
      const last = new Map(members.map((m) => [m.key, JSON.parse(bytes.subarray(m.start, m.end).toString()) as unknown]));
      t.deepEqual(Object.fromEntries(last), parsed, `round ${round}`);
    }
  }
  t.true(accepted > 1500, `${accepted} valid documents checked`);
});

test("leaves to JSON.parse what it does not take: other values, trailing bytes, deep nesting", (t) => {
  for (const text of ["[]", '"x"', "1", "{} {}", "{}x", "{", "", "   ", '{"a":1}}', '{"a":01}', '{"a":1.}', '{"a":-}', '{"a":"\t"}']) {
    t.is(scanJsonObject([Buffer.from(text)]), undefined, text);
  }
  const deep = `{"a":${"[".repeat(600)}${"]".repeat(600)}}`;
  t.is(scanJsonObject([Buffer.from(deep)]), undefined);
  const fine = `{"a":${"[".repeat(500)}${"]".repeat(500)}}`;
  t.deepEqual(scanJsonObject([Buffer.from(fine)]), [{ key: "a", start: 5, end: 5 + 1000 }]);
  t.deepEqual(scanJsonObject([Buffer.from("{}")]), []);
});
