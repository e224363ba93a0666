// Steady-state CPU per call of one gateway setting, with an optional CPU profile of one of its processes taken only
// during the measured window (start-up excluded), for A/B work on the hot path. Uses the build: `npm run build` first.
//
//   node bench/ab.mjs [--setting default|off|traces|traces-unsampled] [--client legacy|modern|raw-legacy|raw-modern|direct]
//                     [--upstream stdio|remote] [--sessions N] [--seconds S]
//                     [--profile daemon|frontend --out FILE.cpuprofile] [--hops] [--rate CALLS_PER_SECOND]
//
// Without --rate every session calls back to back (closed loop: a costlier setting also loses batching, which raises
// its CPU per call again); with --rate the sessions together are paced to that many calls a second, so two settings
// are compared doing the same work at the same pace (choose a rate both reach).
//   → {"setting":…,"client":…,"sessions":N,"calls":…,"callsPerSecond":…,"cpuUsPerCall":{"daemon":…,"frontend":…,"own":…},"p50Us":…}
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { benchPaths, startOtlpSink } from "./lib/contenders.mjs";
import { cpuMicros, installCleanupHooks, readJsonLine, spawnTracked, stopTracked } from "./lib/proc.mjs";
import { echoLoad, echoToolOf, needsSink, openClient, startGatewayIn } from "./lib/steady-load.mjs";
const { values } = parseArgs({
  options: {
    setting: { type: "string", default: "default" },
    client: { type: "string", default: "legacy" },
    upstream: { type: "string", default: "stdio" },
    sessions: { type: "string", default: "16" },
    seconds: { type: "string", default: "5" },
    profile: { type: "string" },
    hops: { type: "boolean", default: false },
    out: { type: "string" },
    rate: { type: "string" },
  },
});
installCleanupHooks();
const paths = benchPaths(fileURLToPath(new URL("..", import.meta.url)));
const sink = needsSink(values.setting) ? await startOtlpSink(paths) : undefined;
// "remote": the MCP SDK's own Streamable HTTP server as the gateway's upstream (bench/sdk-server.mjs); with
// `--client direct` the client talks to that server itself (the reference the gateway's overhead is judged against).
let remote;
if (values.upstream === "remote") {
  remote = spawnTracked(process.execPath, [paths.sdkServer, "--transport", "http"], { keepStdout: true });
  remote.url = `http://127.0.0.1:${(await readJsonLine(remote)).port}/mcp`;
}
const server = remote ? { name: "bench", url: remote.url } : { name: "bench", args: [paths.upstream] };
// --hops: the gateway's in-process hop timers (shared/hop-timing.ts); their medians are printed after the run.
const hopDir = values.hops ? mkdtempSync(join(tmpdir(), "dsgw-ab-hops-")) : undefined;
const gateway = await startGatewayIn(paths, server, values.setting, sink, hopDir ? { DEPLOYSTACK_HOP_TIMING_DIR: hopDir } : {});
const url = values.client === "direct" ? remote.url : `${gateway.baseUrl}/mcp`;
// "direct" is the SDK v1 client, straight to the remote server.
const open = () => openClient(values.client === "direct" ? "legacy" : values.client, url);
const sessions = await Promise.all(Array.from({ length: Number(values.sessions) }, open));
const echo = await echoToolOf(sessions[0]);
const rate = values.rate ? Number(values.rate) : undefined;
const load = (ms, latencies) => echoLoad(sessions, echo, ms, { rate, latencies });

await load(2000);
const roles = gateway.roles();
let stopProfile;
if (values.profile) {
  const pid = roles[values.profile][0];
  const helper = spawn(process.execPath, ["--experimental-websocket", fileURLToPath(new URL("./lib/profile-attach.mjs", import.meta.url)), String(pid), values.out], { stdio: ["pipe", "pipe", "inherit"] });
  await new Promise((resolve) => helper.stdout.once("data", resolve));
  stopProfile = () => new Promise((resolve) => (helper.once("exit", resolve), helper.stdin.end()));
}
const cpu = () => ({ daemon: cpuMicros(roles.daemon[0]), frontend: cpuMicros(roles.frontend[0]), upstream: remote ? cpuMicros(remote.pid) : 0 });
const before = cpu();
const clientBefore = process.cpuUsage();
const latencies = [];
const started = performance.now();
const calls = await load(Number(values.seconds) * 1000, latencies);
const elapsed = performance.now() - started;
const after = cpu();
const clientCpu = process.cpuUsage(clientBefore);
await stopProfile?.();
latencies.sort((a, b) => a - b);
const per = (key) => Math.round((after[key] - before[key]) / calls);
const report = {
  setting: values.setting,
  client: values.client,
  sessions: sessions.length,
  calls,
  callsPerSecond: Math.round((calls * 1000) / elapsed),
  cpuUsPerCall: { daemon: per("daemon"), frontend: per("frontend"), own: per("daemon") + per("frontend"), ...(remote ? { upstream: per("upstream") } : {}) },
  clientCpuUsPerCall: Math.round((clientCpu.user + clientCpu.system) / calls),
  p50Us: Math.round(latencies[Math.floor(latencies.length / 2)] * 1000),
};
process.stdout.write(`${JSON.stringify(report)}\n`);
await Promise.all(sessions.map((session) => session.close()));
await gateway.stop();
await sink?.stop();
if (remote) await stopTracked(remote);
if (hopDir) {
  const spans = {};
  for (const file of readdirSync(hopDir)) Object.assign(spans, JSON.parse(readFileSync(join(hopDir, file), "utf8")).spans);
  process.stdout.write(`${JSON.stringify(Object.fromEntries(Object.entries(spans).map(([name, span]) => [name, `${Math.round(span.p50)} µs ×${span.count}`])))}\n`);
  rmSync(hopDir, { recursive: true, force: true });
}
process.exit(0);
