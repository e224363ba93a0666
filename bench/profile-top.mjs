#!/usr/bin/env node
/**
 * Prints the functions with the most self time in a `.cpuprofile` (from `npm run bench -- --cpu-prof DIR`), grouped
 * by function and file, so a profile can be read in a terminal: `node bench/profile-top.mjs FILE [N]`.
 */
import { readFileSync } from "node:fs";

const [file, countText] = process.argv.slice(2);
if (!file) {
  process.stderr.write("usage: node bench/profile-top.mjs FILE.cpuprofile [N]\n");
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, "utf8"));
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const selfMicros = new Map();
const deltas = profile.timeDeltas ?? [];
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  selfMicros.set(id, (selfMicros.get(id) ?? 0) + (deltas[i] ?? 0));
}
const byFunction = new Map();
let total = 0;
for (const [id, micros] of selfMicros) {
  const { callFrame } = nodes.get(id);
  const where = callFrame.url ? `${callFrame.url.replace(/^file:\/\//, "").replace(/^.*node_modules\//, "~/")}:${callFrame.lineNumber + 1}` : "";
  const key = `${callFrame.functionName || "(anonymous)"} ${where}`.trim();
  byFunction.set(key, (byFunction.get(key) ?? 0) + micros);
  total += micros;
}
const top = [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, Number(countText ?? 30));
process.stdout.write(`${file}: ${(total / 1000).toFixed(0)} ms sampled\n`);
for (const [key, micros] of top) {
  process.stdout.write(`${((100 * micros) / total).toFixed(1).padStart(5)}%  ${(micros / 1000).toFixed(0).padStart(6)} ms  ${key}\n`);
}
