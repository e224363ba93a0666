#!/usr/bin/env node
/**
 * What this machine charges a process for waking up: one HTTP round trip (tools/call echo over undici's keep-alive
 * pool, the gateway's own HTTP client) to the MCP SDK's Streamable HTTP server (sdk-server.mjs), back to back and
 * with pauses between calls, with the CPUs left to idle and kept awake by a spinning process per core at the lowest
 * priority. A single-client latency figure is a chain of such wake-ups, one per process the call passes through, so
 * where pauses make the same round trip several times slower, layouts with more processes pay that several times.
 *
 *   node bench/wake-cost.mjs [--seconds 4] [--out bench/results]   → wake-cost-<date>.md/.json
 */
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Agent } from "undici";
import { cpuMicros, installCleanupHooks, readJsonLine, spawnTracked, stopTracked } from "./lib/proc.mjs";

const { values } = parseArgs({ options: { seconds: { type: "string", default: "4" }, out: { type: "string", default: fileURLToPath(new URL("./results", import.meta.url)) } } });
installCleanupHooks();
const seconds = Number(values.seconds);
const server = spawnTracked(process.execPath, [fileURLToPath(new URL("./sdk-server.mjs", import.meta.url)), "--transport", "http"], { keepStdout: true });
const { port } = await readJsonLine(server);
const agent = new Agent({ keepAliveTimeout: 30_000, connections: 64 });
const base = { "content-type": "application/json", accept: "application/json, text/event-stream" };

async function post(headers, message) {
  const response = await agent.request({ origin: `http://127.0.0.1:${port}`, path: "/mcp", method: "POST", headers, body: JSON.stringify(message) });
  await response.body.text();
  return response.headers;
}

const answer = await post(base, { jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "wake-cost", version: "1" } } });
const headers = { ...base, "mcp-session-id": String(answer["mcp-session-id"]), "mcp-protocol-version": "2025-06-18" };
await post(headers, { jsonrpc: "2.0", method: "notifications/initialized" });

let nextId = 1;
/** Round trips for `ms`, pausing `gapMs` after each: p50 and the CPU per call of both ends. */
async function measure(gapMs, ms) {
  const latencies = [];
  const serverBefore = cpuMicros(server.pid);
  const clientBefore = process.cpuUsage();
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const started = performance.now();
    await post(headers, { jsonrpc: "2.0", id: nextId++, method: "tools/call", params: { name: "echo", arguments: { text: "hello" } } });
    latencies.push(performance.now() - started);
    if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
  const client = process.cpuUsage(clientBefore);
  latencies.sort((a, b) => a - b);
  const calls = latencies.length;
  return { gapMs, calls, p50Us: Math.round(latencies[calls >> 1] * 1000), clientCpuUs: Math.round((client.user + client.system) / calls), serverCpuUs: Math.round((cpuMicros(server.pid) - serverBefore) / calls) };
}

/** One busy loop per core at nice 19: the CPUs never idle, yet every other process runs first. */
function startSpinners() {
  return Array.from({ length: availableParallelism() }, () => spawn("nice", ["-n", "19", process.execPath, "-e", "for(;;){}"], { stdio: "ignore" }));
}

const rows = [];
await measure(0, 1000); // warm-up
for (const spinning of [false, true]) {
  const spinners = spinning ? startSpinners() : [];
  try {
    for (const gapMs of [0, 2, 5]) rows.push({ spinning, ...(await measure(gapMs, seconds * 1000)) });
  } finally {
    for (const spinner of spinners) spinner.kill("SIGKILL");
  }
}
await agent.close();
await stopTracked(server);

const date = new Date().toISOString().slice(0, 10);
const lines = [
  `Run ${date}, ${cpus()[0]?.model ?? "unknown CPU"} × ${availableParallelism()}, Node ${process.versions.node}: one tools/call echo round trip to the MCP SDK's Streamable HTTP server over undici, ${seconds} s per row.`,
  "",
  "| CPUs | pause after each call | calls | p50 µs | client CPU µs/call | server CPU µs/call |",
  "|---|---:|---:|---:|---:|---:|",
  ...rows.map((r) => `| ${r.spinning ? "kept awake (a nice-19 spinner per core)" : "left to idle"} | ${r.gapMs} ms | ${r.calls} | ${r.p50Us.toLocaleString("en-US")} | ${r.clientCpuUs} | ${r.serverCpuUs} |`),
  "",
];
mkdirSync(values.out, { recursive: true });
writeFileSync(join(values.out, `wake-cost-${date}.md`), lines.join("\n"));
writeFileSync(join(values.out, `wake-cost-${date}.json`), `${JSON.stringify({ date, rows }, null, 2)}\n`);
process.stdout.write(lines.join("\n"));
