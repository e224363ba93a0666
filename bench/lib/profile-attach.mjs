/**
 * CPU-profiles a running Node process from outside, for processes whose environment the harness cannot reach (the
 * gateway's frontend gets a minimal environment from the daemon, so NODE_OPTIONS preloads never reach it).
 *
 * `node --experimental-websocket bench/lib/profile-attach.mjs PID OUT.cpuprofile`: sends SIGUSR1 (Node's signal to
 * open its inspector, on 127.0.0.1:9229), starts the V8 profiler over the DevTools protocol, prints "started", and on
 * stdin closing stops it and writes the profile. Loopback only.
 */
import { writeFileSync } from "node:fs";

const [pidText, outFile] = process.argv.slice(2);
const pid = Number(pidText);

async function debuggerUrl() {
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      const targets = await (await fetch("http://127.0.0.1:9229/json/list")).json();
      if (targets[0]?.webSocketDebuggerUrl) return targets[0].webSocketDebuggerUrl;
    } catch {
      // the inspector is not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("the inspector did not open on 127.0.0.1:9229");
}

process.kill(pid, "SIGUSR1");
const socket = new WebSocket(await debuggerUrl());
let nextId = 0;
const pending = new Map();
socket.addEventListener("message", (event) => {
  const message = JSON.parse(String(event.data));
  if (message.id !== undefined) pending.get(message.id)?.(message);
});
await new Promise((resolve, reject) => {
  socket.addEventListener("open", resolve, { once: true });
  socket.addEventListener("error", reject, { once: true });
});
const send = (method, params = {}) =>
  new Promise((resolve) => {
    const id = ++nextId;
    pending.set(id, resolve);
    socket.send(JSON.stringify({ id, method, params }));
  });
await send("Profiler.enable");
await send("Profiler.setSamplingInterval", { interval: 200 });
await send("Profiler.start");
process.stdout.write("started\n");
process.stdin.resume();
process.stdin.on("end", async () => {
  const answer = await send("Profiler.stop");
  if (answer.result?.profile) writeFileSync(outFile, JSON.stringify(answer.result.profile));
  socket.close();
  process.exit(0);
});
