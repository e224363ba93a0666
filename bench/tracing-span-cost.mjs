// CPU per call of the gateway's tracing code with tracing on: the daemon's one span of the request, joined to the
// client's context, and its `_meta` injection into the upstream request (not the parsing and writing the gateway does
// anyway), through the tracer (recorded spans, OpenTelemetry's batch processor and OTLP/HTTP protobuf exporter) sending to a receiver on
// loopback in a process of its own, so export is counted and the receiver's work is not. In-process, one `tools/call`
// shape, `process.cpuUsage` over N calls after a warm-up. Uses the build: `npm run build` first.
//
//   node bench/tracing-span-cost.mjs [N]      → {"calls":N,"cpuUsPerCall":"…","wallUsPerCall":"…","exports":…,"exportedBytes":…}
import { spawn } from "node:child_process";
import { startTracing, stopTracing } from "../dist/daemon/tracing/request-tracer.js";
import { serveTraced, startMcpRequestSpan, tracedUpstreamParams } from "../dist/daemon/observability/tracing.js";

const calls = Number(process.argv[2] ?? 20_000);
// The receiver runs in a process of its own, like a real collector: its CPU is not the gateway's.
const receiverSource = `
  const server = require("node:http").createServer((req, res) => {
    let size = 0;
    req.on("data", (chunk) => (size += chunk.length));
    req.on("end", () => { process.send({ size }); res.writeHead(200, { "content-type": "application/x-protobuf" }).end(); });
  });
  server.listen(0, "127.0.0.1", () => process.send({ port: server.address().port }));
  process.on("disconnect", () => process.exit(0));
`;
const receiver = spawn(process.execPath, ["-e", receiverSource], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
let exports = 0;
let bytes = 0;
const port = await new Promise((resolve) =>
  receiver.on("message", (message) => {
    if (message.port) resolve(message.port);
    else {
      exports++;
      bytes += message.size;
    }
  }),
);
const daemonParams = {
  name: "meta-echo_meta",
  arguments: { text: "hello world" },
  _meta: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01" },
};

async function run(count) {
  for (let i = 0; i < count; i++) {
    // Let the exporter's I/O run between calls, as it does between real requests (a tight loop would only fill the
    // batch queue and drop spans, counting no export).
    if (i % 20 === 0) await new Promise((resolve) => setImmediate(resolve));
    // The daemon parses the message and writes the upstream request with or without tracing: not counted here. The
    // params stand for the parsed message, whose `_meta` carries the client's context.
    const span = startMcpRequestSpan("tools/call", daemonParams, "2025-11-25", () => "meta-echo_meta", undefined);
    // A session's caller: made for one request, with its own \`trace\` field (daemon/mcp/session.ts).
    await serveTraced(span, "tools/call", daemonParams, { capabilities: {}, trace: undefined }, async (caller) => {
      tracedUpstreamParams(caller, "meta", { ...daemonParams, name: "echo_meta" });
      return { content: [] };
    });
  }
}

await startTracing({ tracesUrl: `http://127.0.0.1:${port}/v1/traces`, scheduleDelayMs: 200 }, "bench");
await run(Math.min(2_000, calls));
const cpu = process.cpuUsage();
const wall = performance.now();
await run(calls);
await stopTracing();
const used = process.cpuUsage(cpu);
const elapsed = performance.now() - wall;
console.log(
  JSON.stringify({ calls, cpuUsPerCall: ((used.user + used.system) / calls).toFixed(1), wallUsPerCall: ((elapsed * 1000) / calls).toFixed(1), exports, exportedBytes: bytes }),
);
receiver.disconnect();
