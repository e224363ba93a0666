#!/usr/bin/env node
/**
 * The frontend↔daemon hop alone (issue 3, item 4): what one JSON-RPC message costs to travel to the daemon and back
 * over connect-node on a unix socket, on an already open `McpService.OpenSession` bidirectional stream versus one
 * unary RPC per message — over the Connect protocol and over gRPC. The server is a separate process (as the daemon
 * is) implementing the generated `McpService` as an echo: OpenSession answers each ClientMessage with a
 * ServerMessage carrying the same bytes; the unary path uses `ListTools` (request `server` string → one tool named
 * with it), a string of the same size each way.
 *
 * Usage: `npm run build && node bench/hop.mjs [--quick]`. Writes bench/results/hop-<date>.json and prints a table.
 * Needs the build output: gen/ is compiled to dist/gen/ by `npm run build`.
 */
import { fork } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http2";
import { connect as netConnect } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport, createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { latencySummaryMicros } from "./lib/stats.mjs";
import { createPushable } from "./lib/pushable.mjs";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { McpService } = await import(join(root, "dist", "gen", "deploystack", "gateway", "v1", "mcp_service_pb.js"));

/** A JSON-RPC tools/call as the frontend forwards it: about the size of a real small request. */
const MESSAGE = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "tools/call",
  params: { name: "bench-echo", arguments: { text: "hello from the benchmark, a short tool argument" } },
});

if (process.argv[2] === "--serve") {
  const socketPath = process.argv[3];
  const routes = (router) =>
    router.service(McpService, {
      async *openSession(requests) {
        for await (const request of requests) {
          if (request.frame.case === "message") {
            yield { frame: { case: "message", value: { exchangeId: request.frame.value.exchangeId, json: request.frame.value.json } } };
          }
        }
      },
      listTools(request) {
        return { tools: [{ name: request.server }] };
      },
    });
  const server = createServer(connectNodeAdapter({ routes }));
  server.listen(socketPath, () => process.send?.("ready"));
  process.on("disconnect", () => process.exit(0));
} else {
  await main();
}

/** Replaces the hop table in bench/README.md (full runs only). */
function updateReadme(table) {
  const file = join(root, "bench", "README.md");
  const start = "<!-- bench:hop:start -->";
  const end = "<!-- bench:hop:end -->";
  let text;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return;
  }
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) return;
  writeFileSync(file, `${text.slice(0, from)}${start}\n\n${table}\n${text.slice(to)}`);
}


function transportFor(protocol, socketPath) {
  const baseUrl = "http://localhost";
  const sessionManager = new Http2SessionManager(baseUrl, undefined, { createConnection: () => netConnect(socketPath) });
  const transport =
    protocol === "grpc"
      ? createGrpcTransport({ baseUrl, sessionManager })
      : createConnectTransport({ httpVersion: "2", baseUrl, sessionManager });
  return { transport, sessionManager };
}

/** Opens a stream and returns `roundTrip()`: one message out, its answer back. */
async function openStreamCase(protocol, socketPath) {
  const { transport, sessionManager } = transportFor(protocol, socketPath);
  const client = createClient(McpService, transport);
  const requests = createPushable();
  requests.push({ frame: { case: "start", value: { sessionId: "hop", transport: 1 } } });
  const responses = client.openSession(requests)[Symbol.asyncIterator]();
  const bytes = new TextEncoder().encode(MESSAGE);
  let exchange = 0n;
  return {
    async roundTrip() {
      exchange++;
      requests.push({ frame: { case: "message", value: { exchangeId: exchange, json: bytes } } });
      const next = await responses.next();
      if (next.done || next.value.frame.value.exchangeId !== exchange) throw new Error("stream answer out of order");
    },
    close() {
      requests.end();
      sessionManager.abort();
    },
  };
}

async function openUnaryCase(protocol, socketPath) {
  const { transport, sessionManager } = transportFor(protocol, socketPath);
  const client = createClient(McpService, transport);
  return {
    async roundTrip() {
      const response = await client.listTools({ server: MESSAGE });
      if (response.tools[0]?.name !== MESSAGE) throw new Error("unary answer mismatch");
    },
    close() {
      sessionManager.abort();
    },
  };
}

async function main() {
  const quick = process.argv.includes("--quick");
  const rounds = quick ? 3 : 5;
  const perRound = quick ? 500 : 2000;
  const warmup = quick ? 200 : 1000;
  const dir = mkdtempSync(join(tmpdir(), "dsgw-hop-"));
  const socketPath = join(dir, "hop.sock");
  const server = fork(fileURLToPath(import.meta.url), ["--serve", socketPath], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const kill = () => server.kill("SIGKILL");
  process.on("exit", kill);
  process.on("SIGINT", () => process.exit(130));
  try {
    await new Promise((resolve, reject) => {
      server.once("message", resolve);
      server.once("exit", (code) => reject(new Error(`hop server exited (${code})`)));
    });
    const cases = [];
    for (const protocol of ["connect", "grpc"]) {
      cases.push({ id: `${protocol}-stream`, label: `${protocol}: message on an open OpenSession stream`, run: await openStreamCase(protocol, socketPath), ms: [] });
      cases.push({ id: `${protocol}-unary`, label: `${protocol}: one unary RPC per message`, run: await openUnaryCase(protocol, socketPath), ms: [] });
    }
    for (const c of cases) for (let i = 0; i < warmup; i++) await c.run.roundTrip();
    for (let round = 0; round < rounds; round++) {
      for (const c of cases) {
        for (let i = 0; i < perRound; i++) {
          const started = performance.now();
          await c.run.roundTrip();
          c.ms.push(performance.now() - started);
        }
      }
    }
    for (const c of cases) c.run.close();
    const results = {
      date: new Date().toISOString().slice(0, 10),
      machine: { cpuModel: cpus()[0]?.model?.trim(), cpus: cpus().length, node: process.versions.node, load: loadavg().map((l) => l.toFixed(2)) },
      messageBytes: Buffer.byteLength(MESSAGE),
      calls: rounds * perRound,
      cases: Object.fromEntries(cases.map((c) => [c.id, { label: c.label, ...latencySummaryMicros(c.ms) }])),
    };
    const outDir = join(root, "bench", "results");
    mkdirSync(outDir, { recursive: true });
    const file = join(outDir, `hop-${results.date}.json`);
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    const lines = ["| round trip | p50 µs | p90 µs | p99 µs |", "|---|---:|---:|---:|"];
    for (const c of Object.values(results.cases)) lines.push(`| ${c.label} | ${c.p50.toFixed(0)} | ${c.p90.toFixed(0)} | ${c.p99.toFixed(0)} |`);
    const table = `Run ${results.date}, ${results.machine.cpuModel} × ${results.machine.cpus}, Node ${results.machine.node}, load average ${results.machine.load.join(" / ")}; a ${results.messageBytes}-byte JSON-RPC message, ${results.calls} round trips each after warm-up (\`bench/results/hop-${results.date}.json\`):\n\n${lines.join("\n")}\n`;
    writeFileSync(join(outDir, `hop-${results.date}.md`), table);
    if (!quick) updateReadme(table);
    process.stdout.write(`${table}\nwritten to ${file}\n`);
  } finally {
    kill();
    rmSync(dir, { recursive: true, force: true });
  }
}
