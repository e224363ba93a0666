/**
 * Scenarios that only make sense for a multi-server gateway: start-up with many slow servers (empty and warm tool
 * cache, and mcp-hub for comparison), memory per idle session (and the MCP SDK's own server's, for scale), and the
 * overhead by hop.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { prepareMcpHub, startGateway } from "./contenders.mjs";
import { cpuMicros, httpAnswers, readJsonLine, rssKiB, spawnTracked, stopTracked, waitFor } from "./proc.mjs";
import { openSseSession, openStreamableHttpSession } from "./sessions.mjs";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function slowServers(paths, count, delayMs) {
  return Array.from({ length: count }, (_, i) => ({
    name: `s${String(i + 1).padStart(2, "0")}`,
    args: [paths.upstream, "--init-delay-ms", String(delayMs)],
  }));
}

/**
 * Polls until one tools/list answer holds every expected tool; returns ms since `startedAt` (`performance.now()`
 * time) and the count. One session is reused while it works (as an IDE would), reopened when it fails.
 */
async function timeFullToolsList(open, expected, startedAt, { timeoutMs, child }) {
  let session;
  const deadline = startedAt + timeoutMs;
  let lastCount = 0;
  while (performance.now() < deadline) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`exited during start-up: ${child.outputTail?.slice(-600)}`);
    }
    try {
      session ??= await open();
      const tools = await session.listTools();
      lastCount = tools.filter((tool) => /(echo|blob)$/.test(tool.name)).length;
      if (lastCount >= expected) {
        const ms = performance.now() - startedAt;
        await session.close().catch(() => {});
        return { ms, tools: lastCount };
      }
    } catch {
      await session?.close().catch(() => {});
      session = undefined;
    }
    await sleep(10);
  }
  await session?.close().catch(() => {});
  throw new Error(`tools/list never complete: ${lastCount} of ${expected} tools`);
}

/** One gateway start through `dsctl start --foreground`: ms to /healthz and to the first complete tools/list. */
async function timeGatewayStart(paths, servers, home) {
  const instance = await startGateway(paths, servers, { home, viaCli: true, readyTimeoutMs: 0 });
  try {
    await waitFor(() => httpAnswers(`${instance.baseUrl}/healthz`), {
      timeoutMs: 60000,
      intervalMs: 5,
      what: "gateway /healthz",
      child: instance.child,
    });
    const healthzMs = performance.now() - instance.startedAt;
    const full = await timeFullToolsList(
      () => openStreamableHttpSession(`${instance.baseUrl}/mcp`),
      servers.length * 2,
      instance.startedAt,
      { timeoutMs: 60000, child: instance.child },
    );
    return { healthzMs, fullListMs: full.ms, fullListAfterHealthzMs: full.ms - healthzMs, tools: full.tools };
  } finally {
    await sleep(500);
    await instance.stop();
  }
}

/**
 * Gateway start-up with `count` servers that each answer `initialize` after `delayMs`: first with an empty state
 * folder, then again with the same folder (the tool cache warm).
 */
export async function runGatewayStartup(paths, { count, delayMs, repeats = 1, log }) {
  const servers = slowServers(paths, count, delayMs);
  const cold = [];
  const warm = [];
  for (let i = 0; i < repeats; i++) {
    const home = mkdtempSync(join(tmpdir(), "dsgw-bench-start-"));
    try {
      cold.push(await timeGatewayStart(paths, servers, home));
      log?.(`gateway start-up, empty cache: ${cold.at(-1).fullListMs.toFixed(0)} ms`);
      warm.push(await timeGatewayStart(paths, servers, home));
      log?.(`gateway start-up, warm cache: ${warm.at(-1).fullListMs.toFixed(0)} ms`);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  }
  return { servers: count, initDelayMs: delayMs, cold: best(cold), warm: best(warm), runs: { cold, warm } };
}

function best(runs) {
  return runs.reduce((a, b) => (b.fullListMs < a.fullListMs ? b : a));
}

/** mcp-hub start-up with the same servers (it has no tool cache): ms to its first complete tools/list. */
export async function runMcpHubStartup(paths, { count, delayMs, log }) {
  const hub = await prepareMcpHub(
    paths,
    Array.from({ length: count }, (_, i) => ({ name: `s${String(i + 1).padStart(2, "0")}`, args: [paths.upstream] })),
    delayMs,
  );
  const startedAt = performance.now();
  const child = spawnTracked(process.execPath, hub.args, { env: hub.env });
  try {
    await waitFor(() => httpAnswers(`http://127.0.0.1:${hub.port}/api/health`), { timeoutMs: 60000, intervalMs: 5, what: "mcp-hub health", child });
    const healthzMs = performance.now() - startedAt;
    const full = await timeFullToolsList(() => openSseSession(`http://127.0.0.1:${hub.port}/mcp`), count * 2, startedAt, {
      timeoutMs: 60000,
      child,
    });
    log?.(`mcp-hub start-up: ${full.ms.toFixed(0)} ms`);
    return { servers: count, initDelayMs: delayMs, healthzMs, fullListMs: full.ms, fullListAfterHealthzMs: full.ms - healthzMs, tools: full.tools };
  } finally {
    await stopTracked(child);
    hub.cleanup();
  }
}

/** RSS (KiB) per gateway role. */
export function gatewayRss(instance) {
  const roles = instance.roles();
  const sum = (pids) => pids.reduce((total, pid) => total + rssKiB(pid), 0);
  return { daemon: sum(roles.daemon), frontend: sum(roles.frontend), watchdog: sum(roles.watchdog), other: sum(roles.other) };
}

/** How long idle CPU is measured: long enough that the kernel's 10 ms accounting ticks move the figure by 1 ms/s at most. */
const IDLE_CPU_MS = 10000;
/** How long the processes are left alone first: what opening sessions leaves to do (collection) is not idleness. */
const IDLE_SETTLE_MS = 5000;

/**
 * CPU milliseconds per second the daemon and the frontend spend doing nothing, over `IDLE_CPU_MS` after `settleMs`:
 * what a gateway left running for weeks costs a laptop (timers that wake an idle process add up here).
 */
async function idleCpu(instance, settleMs = IDLE_SETTLE_MS) {
  await sleep(settleMs);
  const roles = instance.roles();
  const sum = (pids) => pids.reduce((total, pid) => total + cpuMicros(pid), 0);
  const before = { daemon: sum(roles.daemon), frontend: sum(roles.frontend) };
  await sleep(IDLE_CPU_MS);
  return { daemon: (sum(roles.daemon) - before.daemon) / IDLE_CPU_MS, frontend: (sum(roles.frontend) - before.frontend) / IDLE_CPU_MS };
}

/** Opens `count` sessions in batches (as many IDEs would), keeping them open; returns them. */
async function openIdleSessions(open, count) {
  const opened = [];
  const batch = 25;
  for (let i = 0; i < count; i += batch) {
    opened.push(...(await Promise.all(Array.from({ length: Math.min(batch, count - i) }, open))));
  }
  return opened;
}

async function closeSessions(opened) {
  for (let i = 0; i < opened.length; i += 50) {
    await Promise.all(opened.slice(i, i + 50).map((session) => session.close().catch(() => {})));
  }
}

/**
 * Gateway memory: RSS of daemon and frontend idle (one server, after one tools/list), then with `sessions` open idle
 * Streamable HTTP sessions (initialized, GET stream open, as an IDE leaves them), and the cost per session. The MCP
 * SDK serving the same tools over its own Streamable HTTP transport, with as many sessions, gives the scale.
 */
export async function runGatewayMemory(paths, { sessions, log }) {
  const instance = await startGateway(paths, [{ name: "bench", args: [paths.upstream] }]);
  const open = () => openStreamableHttpSession(`${instance.baseUrl}/mcp`);
  let opened = [];
  let result;
  try {
    await timeFullToolsList(open, 2, performance.now(), { timeoutMs: 60000, child: instance.child });
    await sleep(1500);
    const idle = gatewayRss(instance);
    opened = await openIdleSessions(open, sessions);
    await sleep(1500);
    const loaded = gatewayRss(instance);
    log?.(`gateway memory: ${sessions} idle sessions open`);
    // CPU after memory, so that the waits do not move the memory figures (V8 gives memory back while idle).
    // Opening hundreds of sessions leaves collection work for a good ten seconds (measured): wait it out.
    const withSessionsCpuMsPerS = await idleCpu(instance, 3 * IDLE_SETTLE_MS);
    await closeSessions(opened);
    opened = [];
    const idleCpuMsPerS = await idleCpu(instance, 2 * IDLE_SETTLE_MS);
    log?.("gateway idle CPU measured");
    const perSessionKiB = (loaded.daemon + loaded.frontend - idle.daemon - idle.frontend) / sessions;
    result = { sessions, idleKiB: idle, withSessionsKiB: loaded, perSessionKiB, idleCpuMsPerS, withSessionsCpuMsPerS };
  } finally {
    await closeSessions(opened);
    await instance.stop();
  }
  result.sdkPerSessionKiB = await sdkPerSessionKiB(paths, sessions);
  log?.("MCP SDK server memory per session measured");
  return result;
}

/** KiB per idle Streamable HTTP session of bench/sdk-server.mjs (the SDK's transport, one process, no proxy). */
async function sdkPerSessionKiB(paths, sessions) {
  const child = spawnTracked(process.execPath, [paths.sdkServer, "--transport", "http"], { keepStdout: true });
  let opened = [];
  try {
    const { port } = await readJsonLine(child);
    const open = () => openStreamableHttpSession(`http://127.0.0.1:${port}/mcp`);
    await (await open()).listTools();
    await sleep(1500);
    const idle = rssKiB(child.pid);
    opened = await openIdleSessions(open, sessions);
    await sleep(1500);
    return (rssKiB(child.pid) - idle) / sessions;
  } finally {
    await closeSessions(opened);
    await stopTracked(child);
  }
}

/**
 * The gateway's own overhead by hop, from its in-process timers (shared/hop-timing.ts, on with
 * DEPLOYSTACK_HOP_TIMING_DIR): one Streamable HTTP session, echo calls at concurrency 1. Each process reports the
 * percentiles of its spans; nested spans are subtracted median from median, so the parts add up only roughly.
 */
export async function runGatewayHops(paths, { warmup, calls, log }) {
  const dir = mkdtempSync(join(tmpdir(), "dsgw-bench-hops-"));
  const instance = await startGateway(paths, [{ name: "bench", args: [paths.upstream] }], { env: { DEPLOYSTACK_HOP_TIMING_DIR: dir } });
  try {
    const session = await openStreamableHttpSession(`${instance.baseUrl}/mcp`);
    const tool = (await session.listTools()).find((t) => t.name.endsWith("echo")).name;
    for (let i = 0; i < warmup; i++) await session.call(tool, { text: `warm ${i}` });
    const ms = [];
    for (let i = 0; i < calls; i++) {
      const started = performance.now();
      await session.call(tool, { text: `hop ${i}` });
      ms.push(performance.now() - started);
    }
    await session.close();
    await sleep(1500);
    const spans = {};
    for (const file of readdirSync(dir)) Object.assign(spans, JSON.parse(readFileSync(join(dir, file), "utf8")).spans);
    ms.sort((a, b) => a - b);
    const clientP50 = ms[Math.floor(ms.length / 2)] * 1000;
    const p50 = (name) => spans[name]?.p50;
    const parts = {
      clientAndHttp: clientP50 - p50("frontend.post"),
      frontend: p50("frontend.post") - p50("frontend.daemon"),
      controlApi: p50("frontend.daemon") - p50("daemon.session"),
      daemon: p50("daemon.session") - p50("daemon.upstream"),
      stdioAndServer: p50("daemon.upstream"),
    };
    log?.("gateway hop breakdown measured");
    return { calls, clientP50, spans, parts };
  } finally {
    await instance.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
