#!/usr/bin/env node
/**
 * Is the gateway's modern (stateless, 2026-07-28) path slower for one client than a legacy session, and if so, is it
 * the path or the request? One gateway, three lean clients (node's http client, no SDK), calling the echo tool one
 * call at a time in turn (in a fresh random order every round), so that every comparison is between calls made
 * moments apart on the same processes:
 *   - legacy: a 2025-11-25 session;
 *   - legacy, padded: the same session's calls with a `_meta` exactly as long as a modern request's, under keys the
 *     gateway does not read (the body is as large as a modern one; the gateway forwards it to the server as it is);
 *   - modern: stateless requests, whose `_meta` carries the protocol version, client capabilities and client info.
 * The full run's latency scenario (run.mjs) measures each contender in rounds of hundreds of calls, so the drift of a
 * shared machine between rounds is as large as the few per cent that separate the eras; pairing call by call is not.
 * Reports each client's p50/p90 and the median of the paired differences with a 95 % confidence interval.
 *
 *   npm run build && node bench/era-latency.mjs [--seconds 20] [--block 1] [--out bench/results]
 *     → era-latency-<date>[-N].md/.json
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { benchPaths } from "./lib/contenders.mjs";
import { installCleanupHooks } from "./lib/proc.mjs";
import { MODERN_META, openLeanSession } from "./lib/sessions.mjs";
import { freeResultsBase } from "./lib/result-files.mjs";
import { quantile } from "./lib/stats.mjs";
import { echoToolOf, startGatewayIn } from "./lib/steady-load.mjs";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "20" },
    block: { type: "string", default: "1" },
    out: { type: "string", default: fileURLToPath(new URL("./results", import.meta.url)) },
  },
});
installCleanupHooks();
const seconds = Number(values.seconds);
const blockSize = Math.max(1, Number(values.block));
const paths = benchPaths(fileURLToPath(new URL("..", import.meta.url)));

/** MODERN_META with its namespace replaced by as many characters of another: same length, nothing the gateway reads. */
const PADDING_META = Object.fromEntries(Object.entries(MODERN_META).map(([key, value]) => [key.replace("io.modelcontextprotocol", "x".repeat(23)), value]));
if (JSON.stringify(PADDING_META).length !== JSON.stringify(MODERN_META).length) throw new Error("the padding must be as long as the modern _meta");

const gateway = await startGatewayIn(paths, { name: "bench", args: [paths.upstream] }, "default", undefined);
const url = `${gateway.baseUrl}/mcp`;
const clients = [
  { id: "legacy", label: "legacy session (2025-11-25)", session: await openLeanSession(url, "legacy") },
  { id: "padded", label: "legacy session, requests padded to the modern size", session: await openLeanSession(url, "legacy", { legacyMeta: PADDING_META }) },
  { id: "modern", label: "modern, stateless (2026-07-28)", session: await openLeanSession(url, "modern") },
];
const echo = await echoToolOf(clients[0].session);

/** One call of `client`: its milliseconds; throws on a wrong result. */
async function timedCall(client, index) {
  const text = `${client.id}-${index}`;
  const started = performance.now();
  const result = await client.session.call(echo, { text });
  const ms = performance.now() - started;
  if (!JSON.stringify(result).includes(text)) throw new Error(`${client.id}: wrong result`);
  return ms;
}

for (let index = 0; index < 1500; index++) for (const client of clients) await timedCall(client, index);

const latencies = Object.fromEntries(clients.map((client) => [client.id, []]));
const differences = { modernVsLegacy: [], modernVsPadded: [], paddedVsLegacy: [] };
const deadline = performance.now() + seconds * 1000;
for (let round = 0; performance.now() < deadline; round++) {
  const took = {};
  // A fresh random order each round, so that every client follows each of the others equally often (a rotation
  // keeps the cyclic order: modern always after the padded client). With --block N each client makes N calls back to
  // back and its block's median is paired: the path each era takes is then warm, as in a run of one client alone.
  for (const client of shuffled(clients)) {
    const block = [];
    for (let call = 0; call < blockSize; call++) block.push(await timedCall(client, round * blockSize + call));
    took[client.id] = quantile(block, 0.5);
    latencies[client.id].push(...block);
  }
  differences.modernVsLegacy.push(took.modern - took.legacy);
  differences.modernVsPadded.push(took.modern - took.padded);
  differences.paddedVsLegacy.push(took.padded - took.legacy);
}
for (const client of clients) await client.session.close();
await gateway.stop();

/** `list` in a random order (Fisher–Yates). */
function shuffled(list) {
  const copy = [...list];
  for (let index = copy.length - 1; index > 0; index--) {
    const other = Math.floor(Math.random() * (index + 1));
    [copy[index], copy[other]] = [copy[other], copy[index]];
  }
  return copy;
}

/** The median of `values` (ms) in µs, with the 95 % confidence interval of a median from its order statistics. */
function medianWithInterval(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const half = 0.98 * Math.sqrt(n);
  const at = (index) => Math.round(sorted[Math.min(n - 1, Math.max(0, index))] * 1000);
  return { medianUs: at(Math.floor(n / 2)), lowUs: at(Math.floor(n / 2 - half)), highUs: at(Math.ceil(n / 2 + half)) };
}

const date = new Date().toISOString().slice(0, 10);
const rounds = differences.modernVsLegacy.length;
const summary = {
  date,
  cpu: `${cpus()[0]?.model ?? "unknown CPU"} × ${availableParallelism()}`,
  node: process.versions.node,
  seconds,
  block: blockSize,
  rounds,
  clients: clients.map((client) => ({
    id: client.id,
    label: client.label,
    p50Us: Math.round(quantile(latencies[client.id], 0.5) * 1000),
    p90Us: Math.round(quantile(latencies[client.id], 0.9) * 1000),
  })),
  pairedDifferences: Object.fromEntries(Object.entries(differences).map(([name, list]) => [name, medianWithInterval(list)])),
};
const interval = ({ medianUs, lowUs, highUs }) => `${medianUs} [${lowUs}, ${highUs}]`;
const lines = [
  `Run ${date}, ${summary.cpu}, Node ${summary.node}: one gateway (defaults), the stdio echo server, three lean clients taking turns ${blockSize === 1 ? "call by call" : `in blocks of ${blockSize} calls (each block's median paired)`}, in a random order each round, for ${seconds} s (${rounds} rounds).`,
  "",
  "| client | p50 µs | p90 µs |",
  "|---|---:|---:|",
  ...summary.clients.map((client) => `| ${client.label} | ${client.p50Us} | ${client.p90Us} |`),
  "",
  "| paired difference (median, 95 % interval) | µs |",
  "|---|---:|",
  `| modern − legacy | ${interval(summary.pairedDifferences.modernVsLegacy)} |`,
  `| modern − legacy padded to the modern size | ${interval(summary.pairedDifferences.modernVsPadded)} |`,
  `| legacy padded − legacy (what the larger request costs) | ${interval(summary.pairedDifferences.paddedVsLegacy)} |`,
  "",
];
mkdirSync(values.out, { recursive: true });
// A run never overwrites an earlier one of the same day: era-latency-<date>-2, -3, …
const name = freeResultsBase(join(values.out, `era-latency-${date}`));
writeFileSync(`${name}.json`, `${JSON.stringify(summary, null, 2)}\n`);
writeFileSync(`${name}.md`, `${lines.join("\n")}\n`);
process.stdout.write(`${lines.join("\n")}\n`);
process.exit(0);
