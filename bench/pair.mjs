// Two gateways measured at the same time: the CPU per call of side B against side A, window by window. Uses the
// build: `npm run build` first.
//
//   node bench/pair.mjs [--a default] [--b traces] [--a-client raw-legacy] [--b-client raw-legacy]
//                       [--a-root DIR] [--b-root DIR] [--sessions 16] [--windows 40] [--phases 8] [--seconds 2]
//                       [--out FILE.json]
//
// Settings are bench/lib/steady-load.mjs's (default, off, traces, traces-unsampled), clients too (raw-legacy and
// raw-modern are the lean client of each era; legacy and modern the SDK clients). `--a-root`/`--b-root` run a side
// from another checkout's build (before and after a change to the hot path, in the same windows).
//
// How it measures (same windows, fresh gateways per phase with places swapped, a ratio per window, the interval over
// phase pairs): bench/lib/paired.mjs. The interval says how
// precisely this run measured; runs at different hours differ by more (the host's speed moves the fixed costs' share):
// compare settings within one run, and repeat a run before trusting a difference.
//
//   → one line per window {"window":i,"phase":0|1,"a":{cpuUsPerCall,calls},"b":{…},"ratio":…}, then a summary
//     {"a":…,"b":…,"windows":N,"phases":N,"ratio":{"median":…,"mean":…,"ci95":[lo,hi],"byPhase":[…]},"cpuUsPerCall":{"a":…,"b":…},"cpuUsPerCallByProcess":{"a":{daemon,frontend,upstream},"b":…},"p50Us":{…},"callsPerSecond":{…},"auditLines":{…}}
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { benchPaths, startOtlpSink } from "./lib/contenders.mjs";
import { measurePaired, pairSide } from "./lib/paired.mjs";
import { installCleanupHooks } from "./lib/proc.mjs";
import { needsSink } from "./lib/steady-load.mjs";

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
    phases: { type: "string", default: "8" },
    seconds: { type: "string", default: "2" },
    out: { type: "string" },
  },
});
installCleanupHooks();
const paths = benchPaths(fileURLToPath(new URL("..", import.meta.url)));
const sink = needsSink(values.a) || needsSink(values.b) ? await startOtlpSink(paths) : undefined;
const upstream = { name: "bench", args: [paths.upstream] };
// --a-root/--b-root: a side runs another checkout's build (its `dist/`), to compare two builds in the same windows.
const side = (key) =>
  pairSide({
    paths: values[`${key}-root`] ? benchPaths(resolve(values[`${key}-root`])) : paths,
    upstream,
    setting: values[key],
    client: values[`${key}-client`],
    sessions: Number(values.sessions),
    sink,
  });
const { perWindow, ...measured } = await measurePaired(side("a"), side("b"), {
  windows: Number(values.windows),
  phases: Number(values.phases),
  windowMs: Number(values.seconds) * 1000,
  onWindow: (line) => process.stdout.write(`${JSON.stringify(line)}\n`),
});
const summary = {
  a: `${values.a} (${values["a-client"]}${values["a-root"] ? `, ${values["a-root"]}` : ""})`,
  b: `${values.b} (${values["b-client"]}${values["b-root"] ? `, ${values["b-root"]}` : ""})`,
  sessions: Number(values.sessions),
  ...measured,
};
process.stdout.write(`${JSON.stringify(summary)}\n`);
if (values.out) writeFileSync(values.out, `${JSON.stringify({ summary, windows: perWindow }, null, 2)}\n`);

await sink?.stop();
process.exit(0);
