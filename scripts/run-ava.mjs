// Runs ava with TAP output, passes it through, and ends with one line
// `ava: N passed, N failed, N skipped` that CI can read, keeping ava's exit code.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

const child = spawn(process.execPath, ["node_modules/ava/entrypoints/cli.mjs", "--tap", ...process.argv.slice(2)], {
  stdio: ["ignore", "pipe", "inherit"],
});
let passed = 0;
let failed = 0;
let skipped = 0;
const lines = createInterface({ input: child.stdout });
lines.on("line", (line) => {
  process.stdout.write(`${line}\n`);
  if (/^ok \d+/.test(line)) {
    if (/# (SKIP|TODO)/i.test(line)) skipped++;
    else passed++;
  } else if (/^not ok \d+/.test(line)) {
    if (/# (SKIP|TODO)/i.test(line)) skipped++;
    else failed++;
  }
});
child.on("close", (code, signal) => {
  process.stdout.write(`ava: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  process.exitCode = code ?? (signal ? 1 : 0);
});
