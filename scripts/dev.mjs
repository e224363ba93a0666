// `npm run dev`: rebuilds on change with `tsc --watch` and restarts the gateway in
// the foreground after every successful compile.
import { spawn } from "node:child_process";

let gateway;
const extra = process.argv.slice(2);
function restart() {
  const start = () => {
    gateway = spawn(process.execPath, ["dist/cli/main.js", "start", "--foreground", ...extra], { stdio: "inherit" });
  };
  if (gateway && gateway.exitCode === null) {
    gateway.once("exit", start);
    gateway.kill("SIGTERM");
  } else {
    start();
  }
}
const tsc = spawn(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json", "--watch", "--preserveWatchOutput"], {
  stdio: ["ignore", "pipe", "inherit"],
});
tsc.stdout.on("data", (chunk) => {
  const text = chunk.toString();
  process.stdout.write(text);
  if (/Found 0 errors/.test(text)) restart();
});
const stop = () => {
  tsc.kill();
  gateway?.kill("SIGTERM");
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
