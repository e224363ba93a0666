// Two gateways measured at the same time: the CPU per call of side B against side A, window by window. Uses the
// build: `npm run build` first.
//
//   node bench/pair.mjs [--a default] [--b traces] [--a-client raw-legacy] [--b-client raw-legacy]
//                       [--a-root DIR] [--b-root DIR] [--sessions 16] [--windows 40] [--seconds 2] [--out FILE.json]
//
// Settings are bench/lib/steady-load.mjs's (default, off, traces, traces-unsampled), clients too (raw-legacy and
// raw-modern are the lean client of each era; legacy and modern the SDK clients). `--a-root`/`--b-root` run a side
// from another checkout's build (before and after a change to the hot path, in the same windows).
//
// Why: on a shared virtual machine the same gateway's CPU per call moves by ±10–15 % from one window of a few seconds
// to the next (other tenants, caches), so settings measured one after the other (bench/run.mjs, bench/ab.mjs) cannot
// resolve a difference of a few percent without a very long run. Here both gateways — each with its own processes
// and its own copy of the upstream — serve their sessions in the same window, on the same cores, under the same load,
// so whatever the host does in that window it does to both; the ratio of their CPU per call is taken per window, and
// the run reports its median and the mean with a 95 % confidence interval (mean ± 1.96 standard errors). Both sides
// run closed loops (each session calls back to back), as the other scenarios do; every result is checked. The run has
// two phases with the sides' places swapped (which gateway starts first and gets its sessions opened first), and
// which side's sessions start first alternates from window to window, so that neither place's advantage counts.
// The interval says how precisely this run measured; runs at different hours differ by more (the host's speed moves
// the fixed costs' share): compare settings within one run, and repeat a run before trusting a difference.
//
//   → one line per window {"window":i,"phase":0|1,"a":{cpuUsPerCall,calls},"b":{…},"ratio":…}, then a summary
//     {"a":…,"b":…,"windows":N,"ratio":{"median":…,"mean":…,"ci95":[lo,hi],"medianByPhase":[…,…]},"cpuUsPerCall":{"a":…,"b":…},"cpuUsPerCallByProcess":{"a":{daemon,frontend,upstream},"b":…},"p50Us":{…},"callsPerSecond":{…}}
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { benchPaths, startOtlpSink } from "./lib/contenders.mjs";
import { cpuMicros, installCleanupHooks } from "./lib/proc.mjs";
import { median } from "./lib/stats.mjs";
import { echoLoad, echoToolOf, needsSink, openClient, startGatewayIn } from "./lib/steady-load.mjs";

const { values } = parseArgs({
  options: {
    a: { type: "string", default: "default" },
    b: { type: "string", default: "traces" },
    "a-client": { type: "string", default: "raw-legacy" },
    "b-client": { type: "string", default: "raw-legacy" },
    "a-root": { type: "string" },
    "b-root": { type: "string" },
    sessions: { type: "string", default: "16" },
    windows: { type: "string", default: "40" },
    seconds: { type: "string", default: "2" },
    out: { type: "string" },
  },
});
installCleanupHooks();
const paths = benchPaths(fileURLToPath(new URL("..", import.meta.url)));
// --a-root/--b-root: a side runs another checkout's build (its `dist/`), to compare two builds in the same windows.
const rootPaths = { a: values["a-root"] ? benchPaths(resolve(values["a-root"])) : paths, b: values["b-root"] ? benchPaths(resolve(values["b-root"])) : paths };
const sink = needsSink(values.a) || needsSink(values.b) ? await startOtlpSink(paths) : undefined;
const upstream = { name: "bench", args: [paths.upstream] };

/** One side: its gateway (from `sidePaths`' build), sessions and echo tool. */
async function startSide(setting, client, sidePaths) {
  const gateway = await startGatewayIn(sidePaths, upstream, setting, sink);
  const url = `${gateway.baseUrl}/mcp`;
  const sessions = await Promise.all(Array.from({ length: Number(values.sessions) }, () => openClient(client, url)));
  const echo = await echoToolOf(sessions[0]);
  const roles = gateway.roles();
  // Each process's CPU so far: the ratio is the gateway's own (daemon and frontend); the upstream's is reported beside.
  const used = () => ({ daemon: cpuMicros(roles.daemon[0]), frontend: cpuMicros(roles.frontend[0]), upstream: cpuMicros(roles.upstream[0]) });
  return { gateway, sessions, echo, used };
}

const windowMs = Number(values.seconds) * 1000;
const windows = Math.max(2, Number(values.windows));

/** Runs both sides' loads at once for `ms`; the side named first starts its sessions first. */
async function window(ms, first, second, record) {
  const before = [first.used(), second.used()];
  const started = performance.now();
  const [firstCalls, secondCalls] = await Promise.all([
    echoLoad(first.sessions, first.echo, ms, { latencies: record ? first.totals.latencies : undefined }),
    echoLoad(second.sessions, second.echo, ms, { latencies: record ? second.totals.latencies : undefined }),
  ]);
  const elapsedMs = performance.now() - started;
  const spent = [since(first.used(), before[0]), since(second.used(), before[1])];
  const cpu = spent.map(({ daemon, frontend }) => daemon + frontend);
  if (record) {
    for (const [side, calls, used] of [[first, firstCalls, spent[0]], [second, secondCalls, spent[1]]]) {
      side.totals.calls += calls;
      side.totals.cpu += used.daemon + used.frontend;
      for (const role of ROLES) side.totals.byProcess[role] += used[role];
      side.totals.elapsedMs += elapsedMs;
    }
  }
  return new Map([
    [first, { cpuUsPerCall: cpu[0] / firstCalls, calls: firstCalls }],
    [second, { cpuUsPerCall: cpu[1] / secondCalls, calls: secondCalls }],
  ]);
}

/** The processes whose CPU a side reports: the gateway's two, and the upstream server's (not part of the ratio). */
const ROLES = ["daemon", "frontend", "upstream"];
const since = (now, before) => Object.fromEntries(ROLES.map((role) => [role, now[role] - before[role]]));
const sideTotals = () => ({ latencies: [], calls: 0, cpu: 0, elapsedMs: 0, byProcess: { daemon: 0, frontend: 0, upstream: 0 } });
const totals = { a: sideTotals(), b: sideTotals() };
const ratios = [];
const perWindow = [];
const phaseMedians = [];
// Two phases with the sides' places swapped: the gateway started first (and whose sessions the client opened first)
// serves A in the first half of the windows and B in the second, so an advantage of either place cancels out
// (a run of the same setting on both sides read about 3 % in favour of the second place).
for (const phase of [0, 1]) {
  const specs = [
    { key: "a", setting: values.a, client: values["a-client"] },
    { key: "b", setting: values.b, client: values["b-client"] },
  ];
  const [firstSpec, secondSpec] = phase === 0 ? specs : specs.reverse();
  const first = { ...(await startSide(firstSpec.setting, firstSpec.client, rootPaths[firstSpec.key])), totals: totals[firstSpec.key] };
  const second = { ...(await startSide(secondSpec.setting, secondSpec.client, rootPaths[secondSpec.key])), totals: totals[secondSpec.key] };
  const a = firstSpec.key === "a" ? first : second;
  const b = firstSpec.key === "a" ? second : first;
  // Warm-up: both sides, longer than a window (JIT, the upstreams' first calls, the audit file's creation).
  await window(3000, first, second, false);
  const phaseRatios = [];
  const count = phase === 0 ? Math.floor(windows / 2) : windows - Math.floor(windows / 2);
  for (let index = 0; index < count; index++) {
    // Which side's sessions start first within a window alternates too.
    const measured = index % 2 === 0 ? await window(windowMs, first, second, true) : await window(windowMs, second, first, true);
    const sideA = measured.get(a);
    const sideB = measured.get(b);
    const ratio = sideB.cpuUsPerCall / sideA.cpuUsPerCall;
    ratios.push(ratio);
    phaseRatios.push(ratio);
    const line = { window: perWindow.length, phase, a: round(sideA), b: round(sideB), ratio: Number(ratio.toFixed(4)) };
    perWindow.push(line);
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }
  phaseMedians.push(Number(median(phaseRatios).toFixed(4)));
  await Promise.all([...first.sessions, ...second.sessions].map((session) => session.close().catch(() => {})));
  await Promise.all([first.gateway.stop(), second.gateway.stop()]);
}

const mean = ratios.reduce((sum, value) => sum + value, 0) / ratios.length;
const sd = Math.sqrt(ratios.reduce((sum, value) => sum + (value - mean) ** 2, 0) / Math.max(1, ratios.length - 1));
const halfWidth = (1.96 * sd) / Math.sqrt(ratios.length);
const p50 = (side) => Math.round(median(side.latencies) * 1000);
const summary = {
  a: `${values.a} (${values["a-client"]}${values["a-root"] ? `, ${values["a-root"]}` : ""})`,
  b: `${values.b} (${values["b-client"]}${values["b-root"] ? `, ${values["b-root"]}` : ""})`,
  sessions: Number(values.sessions),
  windows: ratios.length,
  windowSeconds: Number(values.seconds),
  ratio: {
    median: Number(median(ratios).toFixed(4)),
    mean: Number(mean.toFixed(4)),
    ci95: [Number((mean - halfWidth).toFixed(4)), Number((mean + halfWidth).toFixed(4))],
    // A in the first place, then B: far apart, the places differ and only their mean means anything.
    medianByPhase: phaseMedians,
  },
  cpuUsPerCall: { a: Math.round(totals.a.cpu / totals.a.calls), b: Math.round(totals.b.cpu / totals.b.calls) },
  // Where each side's CPU went (whole run, µs per call): which process a difference lives in.
  cpuUsPerCallByProcess: { a: byProcess(totals.a), b: byProcess(totals.b) },
  p50Us: { a: p50(totals.a), b: p50(totals.b) },
  callsPerSecond: { a: Math.round((totals.a.calls * 1000) / totals.a.elapsedMs), b: Math.round((totals.b.calls * 1000) / totals.b.elapsedMs) },
};
process.stdout.write(`${JSON.stringify(summary)}\n`);
if (values.out) writeFileSync(values.out, `${JSON.stringify({ summary, windows: perWindow }, null, 2)}\n`);

await sink?.stop();
process.exit(0);

function byProcess(side) {
  return Object.fromEntries(ROLES.map((role) => [role, Number((side.byProcess[role] / side.calls).toFixed(1))]));
}

function round({ cpuUsPerCall, calls }) {
  return { cpuUsPerCall: Math.round(cpuUsPerCall), calls };
}
