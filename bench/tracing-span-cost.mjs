// CPU per call of the gateway's tracing code with tracing on: the frontend's POST span (and its context for the daemon),
// the daemon's request span and upstream span with `_meta` injection (not the parsing and writing the gateway does
// anyway), through the tracer (recorded spans, OpenTelemetry's batch processor and OTLP/HTTP protobuf exporter) sending to a receiver on
// loopback in a process of its own, so export is counted and the receiver's work is not. In-process, one `tools/call`
// shape, `process.cpuUsage` over N calls after a warm-up. Uses the build: `npm run build` first.
//
//   node bench/tracing-span-cost.mjs [N]      → {"calls":N,"cpuUsPerCall":"…","wallUsPerCall":"…","exports":…,"exportedBytes":…}
import { EventEmitter } from "node:events";
import { spawn } from "node:child_process";
import { startTracing, stopTracing } from "../dist/shared/tracing/request-tracer.js";
import { endUpstreamSpan, serveTraced, startMcpRequestSpan, startUpstreamSpan } from "../dist/daemon/observability/tracing.js";
import { tracePost } from "../dist/frontend/tracing.js";

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
const body = Buffer.from(
  JSON.stringify({
    jsonrpc: "2.0",
    id: 7,
    method: "tools/call",
    params: { name: "meta-echo_meta", arguments: { text: "hello world" }, _meta: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" } },
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
    const res = Object.assign(new EventEmitter(), { statusCode: 200, writableFinished: true });
    // The frontend parses the body anyway (inspect-body.ts); the span's work starts from the parsed value.
    const trace = tracePost({ method: "POST", headers: {} }, res, "/mcp", "/mcp", JSON.parse(body.toString("utf8")));
    // The daemon parses the message and writes the upstream request with or without tracing: not counted here. The
    // params stand for the parsed message; the frontend's span context comes beside it (ClientMessage.traceparent).
    const span = startMcpRequestSpan("tools/call", daemonParams, "2025-11-25", () => "meta-echo_meta", trace);
    // A session's caller: made for one request, with its own \`trace\` field (daemon/mcp/session.ts).
    await serveTraced(span, "tools/call", daemonParams, { capabilities: {}, trace: undefined }, async (caller) => {
      const upstream = startUpstreamSpan(caller, "meta", "tools/call", { ...daemonParams, name: "echo_meta" });
      endUpstreamSpan(upstream, "tools/call", { content: [] }, false, undefined);
      return { content: [] };
    });
    res.emit("close");
  }
}

await startTracing({ tracesUrl: `http://127.0.0.1:${port}/v1/traces`, scheduleDelayMs: 200 }, "daemon", "bench");
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
