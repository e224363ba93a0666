import { readFileSync } from "node:fs";
import test from "ava";
import { enginesNodeRange, nodeVersionProblem } from "./node-version.js";

// The bin's Node.js check: the minimum comes from package.json, and an old Node gets one clear line.

test("the range is the package's engines.node", (t) => {
  const manifest = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { engines: { node: string } };
  t.is(enginesNodeRange(), manifest.engines.node);
  t.is(nodeVersionProblem(process.versions.node, enginesNodeRange()), undefined, "the Node running the tests is supported");
});

test("older versions get a message naming both versions; equal and newer pass", (t) => {
  t.is(nodeVersionProblem("20.11.0", ">=20.11"), undefined);
  t.is(nodeVersionProblem("20.12.1", ">=20.11"), undefined);
  t.is(nodeVersionProblem("22.0.0", ">=20.11.1"), undefined);
  t.is(
    nodeVersionProblem("20.10.9", ">=20.11"),
    'dsctl needs Node.js 20.11 or newer (package.json engines: ">=20.11"); this is Node.js 20.10.9. Install a newer Node.js (https://nodejs.org) and run dsctl again.',
  );
  t.regex(nodeVersionProblem("18.19.0", ">=20.11") ?? "", /needs Node\.js 20\.11 or newer.*this is Node\.js 18\.19\.0/);
  t.regex(nodeVersionProblem("v16.0.0", ">= 20") ?? "", /this is Node\.js v16\.0\.0/);
  t.is(nodeVersionProblem("10.0.0", "^20 || ^22"), undefined, "forms other than >= are left to npm");
  t.is(nodeVersionProblem("10.0.0", undefined), undefined);
});

test("the built bin imports nothing but the check before the check has run", (t) => {
  const main = readFileSync(new URL("../dist/cli/main.js", import.meta.url), "utf8");
  const staticImports = [...main.matchAll(/^import .* from "([^"]+)";$/gm)].map((match) => match[1]);
  t.deepEqual(staticImports, ["./node-version.js"]);
  const check = readFileSync(new URL("../dist/cli/node-version.js", import.meta.url), "utf8");
  t.deepEqual([...check.matchAll(/^import .* from "([^"]+)";$/gm)].map((match) => match[1]), ["node:fs"]);
});
