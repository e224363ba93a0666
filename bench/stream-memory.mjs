#!/usr/bin/env node
/**
 * What one open HTTP/2 stream costs in memory with node's `http2`, on each side: the gateway carries every MCP
 * client session as one `OpenSession` stream over the unix socket (docs/architecture.md, "Why a stream per session"), so this is the floor of the
 * per-session memory that the frontend and the daemon pay before holding any session state. A client process
 * opens `--streams N` streams on one connection to a server process over a unix socket, writes 100 bytes on each
 * and keeps them open; the RSS growth of each process, divided by N, is the figure.
 *
 * Usage: `node bench/stream-memory.mjs [--streams N]` → bench/results/stream-memory-<date>.{json,md}.
 */
import { fork } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect as http2Connect, createServer } from "node:http2";
import { connect as netConnect } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

if (process.argv[2] === "--serve") {
  const server = createServer();
  server.on("stream", (stream) => {
    stream.respond({ ":status": 200 });
    stream.on("data", () => undefined);
  });
  server.listen(process.argv[3], () => process.send("ready"));
} else {
  const argv = process.argv.slice(2);
  const count = argv.includes("--streams") ? Number(argv[argv.indexOf("--streams") + 1]) : 1000;
  const folder = mkdtempSync(join(tmpdir(), "stream-memory-"));
  const socketPath = join(folder, "s.sock");
  const server = fork(fileURLToPath(import.meta.url), ["--serve", socketPath]);
  try {
    await new Promise((resolve) => server.once("message", resolve));
    const session = http2Connect("http://localhost", { createConnection: () => netConnect(socketPath) });
    const held = [];
    const open = () => {
      const stream = session.request({ ":method": "POST", ":path": "/x" }, { endStream: false });
      stream.on("data", () => undefined);
      stream.write(Buffer.alloc(100));
      held.push(stream);
    };
    for (let i = 0; i < 10; i++) open();
    await sleep(1000);
    const before = { client: rssKiB(process.pid), server: rssKiB(server.pid) };
    for (let i = 0; i < count; i++) open();
    await sleep(1500);
    const after = { client: rssKiB(process.pid), server: rssKiB(server.pid) };
    const result = {
      date: new Date().toISOString().slice(0, 10),
      node: process.version,
      loadAverage: loadavg(),
      streams: count,
      clientKiBPerStream: (after.client - before.client) / count,
      serverKiBPerStream: (after.server - before.server) / count,
    };
    const out = join(dirname(fileURLToPath(import.meta.url)), "results");
    mkdirSync(out, { recursive: true });
    const base = join(out, `stream-memory-${result.date}`);
    writeFileSync(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`);
    const table =
      `Run ${result.date}, Node ${result.node}, ${count} open HTTP/2 streams on one connection over a unix socket:\n\n` +
      `| side | KiB per open stream |\n|---|---:|\n| client (the frontend's side) | ${result.clientKiBPerStream.toFixed(1)} |\n` +
      `| server (the daemon's side) | ${result.serverKiBPerStream.toFixed(1)} |\n`;
    writeFileSync(`${base}.md`, table);
    process.stdout.write(`${table}\nwritten to ${base}.json\n`);
    session.destroy();
  } finally {
    server.kill();
    rmSync(folder, { recursive: true, force: true });
  }
}
