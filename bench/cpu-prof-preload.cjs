/**
 * Preload (`NODE_OPTIONS=--require …/cpu-prof-preload.cjs`, with BENCH_CPU_PROF_DIR set) that CPU-profiles a Node
 * process through `node:inspector` and writes `<dir>/<program>-<pid>.cpuprofile` when it exits. Node 20 refuses
 * `--cpu-prof` in NODE_OPTIONS, and NODE_OPTIONS is the one way to reach the gateway's frontend, which the daemon
 * spawns itself. Open the files in Chrome DevTools (Performance) or speedscope.
 */
"use strict";
const { Session } = require("node:inspector");
const { writeFileSync } = require("node:fs");
const { basename, join } = require("node:path");

const dir = process.env.BENCH_CPU_PROF_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post("Profiler.enable");
  session.post("Profiler.setSamplingInterval", { interval: 200 });
  session.post("Profiler.start");
  let written = false;
  const write = () => {
    if (written) return;
    written = true;
    // A same-thread inspector session answers synchronously, so this completes inside an `exit` handler.
    session.post("Profiler.stop", (error, result) => {
      if (error || !result) return;
      const program = basename(process.argv[1] ?? "node").replace(/\.[cm]?js$/, "");
      const parent = basename(join(process.argv[1] ?? "", "..", ""));
      writeFileSync(join(dir, `${parent}-${program}-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  };
  process.on("exit", write);
}
