/**
 * The contenders. Each one is started by the harness on 127.0.0.1, reaches the same upstream program (or, for the
 * SDK references, runs the same tool code in-process), and hands back `open()` for client sessions and its process
 * tree for the CPU and memory figures.
 *
 * Groups: `floor` (direct stdio), `reference` (the MCP SDK's own HTTP transports, no proxy), `peer` (supergateway,
 * mcp-proxy, mcp-hub: the best of them is the bar), `gateway` (this project), `observability` (the gateway over /mcp
 * with its audit log off, at its defaults, and with traces exported: run only in their own scenario, see run.mjs).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  commandLine,
  freePort,
  httpAnswers,
  processTree,
  readJsonLine,
  spawnTracked,
  stopTracked,
  waitFor,
} from "./proc.mjs";
import {
  openControlApiSession,
  openLeanSession,
  openModernSession,
  openSseSession,
  openStdioSession,
  openStreamableHttpSession,
} from "./sessions.mjs";

/** Where things are, resolved once by run.mjs. */
export function benchPaths(root) {
  return {
    root,
    dist: join(root, "dist"),
    upstream: join(root, "bench", "upstream-server.mjs"),
    sdkServer: join(root, "bench", "sdk-server.mjs"),
    forceLoopback: join(root, "bench", "force-loopback.cjs"),
    cpuProfPreload: join(root, "bench", "cpu-prof-preload.cjs"),
    designFloor: join(root, "bench", "design-floor.mjs"),
    otlpSink: join(root, "bench", "otlp-sink.mjs"),
    supergateway: join(root, "node_modules", "supergateway", "dist", "index.js"),
    mcpProxy: join(root, "node_modules", "mcp-proxy", "dist", "bin", "mcp-proxy.mjs"),
    mcpHub: join(root, "node_modules", "mcp-hub", "dist", "cli.js"),
    daemonMain: join(root, "dist", "daemon", "main.js"),
    frontendMain: join(root, "dist", "frontend", "main.js"),
    cliMain: join(root, "dist", "cli", "main.js"),
  };
}

const UPSTREAM_MARK = "upstream-server.mjs";

/** Splits a contender's process tree into its own processes and upstream servers. */
function classifyTree(rootPid) {
  const own = [];
  const upstream = [];
  for (const pid of processTree(rootPid)) {
    (pid !== rootPid && commandLine(pid).includes(UPSTREAM_MARK) ? upstream : own).push(pid);
  }
  return { own, upstream };
}

/** Finds the exposed names of the bench tools in a tools/list answer (prefixes differ per contender). */
function toolNamesFrom(tools) {
  const names = tools.map((tool) => tool.name);
  const pick = (base) =>
    names.find((name) => name === base) ??
    names.find((name) => name.endsWith(`-${base}`) || name.endsWith(`_${base}`) || name.endsWith(`.${base}`));
  const echo = pick("echo");
  const blob = pick("blob");
  if (!echo || !blob) throw new Error(`bench tools not found in tools/list: ${names.join(", ")}`);
  return { echo, blob };
}

/** Opens one session, reads the tool names, closes it: proves the contender answers end to end. */
async function probeToolNames(open, timeoutMs = 30000, child) {
  return waitFor(
    async () => {
      const session = await open();
      try {
        return toolNamesFrom(await session.listTools());
      } finally {
        await session.close();
      }
    },
    { timeoutMs, intervalMs: 200, what: "tools/list with the bench tools", child },
  );
}

function nodeEnv(extra = {}) {
  return { ...process.env, NODE_ENV: "production", ...extra };
}

/** A contender served by one long-lived child process reachable over HTTP. */
async function startHttpChild({ command, args, env, url, readyUrl, opener, readyTimeoutMs = 30000, cwd, onStop }) {
  const child = spawnTracked(command, args, { env, cwd });
  await waitFor(() => httpAnswers(readyUrl ?? url), { timeoutMs: readyTimeoutMs, what: `${readyUrl ?? url} to answer`, child });
  const open = () => opener(url);
  const toolNames = await probeToolNames(open, readyTimeoutMs, child);
  return {
    open,
    toolNames,
    processes: () => classifyTree(child.pid),
    stop: async () => {
      await stopTracked(child);
      onStop?.();
    },
    child,
  };
}

/** Builds the contender list; `optional` ones run only when named with `--only`. */
export function createContenders(paths) {
  const node = process.execPath;
  const upstreamCommand = [node, paths.upstream];

  const direct = {
    id: "direct-stdio",
    label: "direct stdio (floor)",
    group: "floor",
    sharesConnection: true,
    unavailable: () => null,
    async start() {
      const sessions = new Set();
      const open = async () => {
        const session = await openStdioSession(node, [paths.upstream], nodeEnv());
        sessions.add(session);
        const close = session.close;
        session.close = async () => {
          sessions.delete(session);
          await close();
        };
        return session;
      };
      const toolNames = await probeToolNames(open);
      return {
        open,
        toolNames,
        processes: () => ({ own: [], upstream: [...sessions].map((s) => s.pid).filter(Boolean) }),
        stop: async () => {
          await Promise.all([...sessions].map((s) => s.close()));
        },
      };
    },
  };

  const sdk = (kind, jsonResponse = false) => ({
    id: `sdk-${kind === "http" ? "mcp" : "sse"}${jsonResponse ? "-json" : ""}`,
    label:
      kind === "http"
        ? `MCP SDK, Streamable HTTP${jsonResponse ? " (JSON responses)" : ""}, no proxy`
        : "MCP SDK, SSE, no proxy",
    group: "reference",
    optional: jsonResponse,
    unavailable: () => null,
    async start() {
      const args = [paths.sdkServer, "--transport", kind, ...(jsonResponse ? ["--json-response"] : [])];
      const child = spawnTracked(node, args, { env: nodeEnv(), keepStdout: true });
      const { port } = await readJsonLine(child);
      const url = kind === "http" ? `http://127.0.0.1:${port}/mcp` : `http://127.0.0.1:${port}/sse`;
      const open = () => (kind === "http" ? openStreamableHttpSession(url) : openSseSession(url));
      const toolNames = await probeToolNames(open, 30000, child);
      return { open, toolNames, processes: () => classifyTree(child.pid), stop: () => stopTracked(child), child };
    },
  });

  const supergateway = (output) => ({
    id: output === "sse" ? "supergateway-sse" : "supergateway-mcp",
    label: output === "sse" ? "supergateway, SSE" : "supergateway, /mcp (stateful)",
    group: "peer",
    unavailable: () => (existsSync(paths.supergateway) ? null : "supergateway is not installed"),
    async start() {
      const port = await freePort();
      const args = ["-r", paths.forceLoopback, paths.supergateway, "--stdio", upstreamCommand.join(" "), "--port", String(port), "--logLevel", "none"];
      if (output === "sse") args.push("--outputTransport", "sse");
      else args.push("--outputTransport", "streamableHttp", "--stateful");
      const url = output === "sse" ? `http://127.0.0.1:${port}/sse` : `http://127.0.0.1:${port}/mcp`;
      return startHttpChild({
        command: node,
        args,
        env: nodeEnv(),
        url,
        readyUrl: `http://127.0.0.1:${port}/`,
        opener: output === "sse" ? openSseSession : openStreamableHttpSession,
      });
    },
  });

  const mcpProxy = (server) => ({
    id: server === "sse" ? "mcp-proxy-sse" : "mcp-proxy-mcp",
    label: server === "sse" ? "mcp-proxy, SSE" : "mcp-proxy, /mcp",
    group: "peer",
    unavailable: () => (existsSync(paths.mcpProxy) ? null : "mcp-proxy is not installed"),
    async start() {
      const port = await freePort();
      const url = server === "sse" ? `http://127.0.0.1:${port}/sse` : `http://127.0.0.1:${port}/mcp`;
      return startHttpChild({
        command: node,
        args: [paths.mcpProxy, "--host", "127.0.0.1", "--port", String(port), "--server", server === "sse" ? "sse" : "stream", "--", ...upstreamCommand],
        env: nodeEnv(),
        url,
        readyUrl: `http://127.0.0.1:${port}/ping`,
        opener: server === "sse" ? openSseSession : openStreamableHttpSession,
      });
    },
  });

  const mcpHub = {
    id: "mcp-hub",
    label: "mcp-hub, SSE",
    group: "peer",
    unavailable: () => (existsSync(paths.mcpHub) ? null : "mcp-hub is not installed"),
    async start() {
      const hub = await prepareMcpHub(paths, [{ name: "bench", args: [paths.upstream] }]);
      return startHttpChild({
        command: node,
        args: hub.args,
        env: hub.env,
        url: `http://127.0.0.1:${hub.port}/mcp`,
        readyUrl: `http://127.0.0.1:${hub.port}/api/health`,
        opener: openSseSession,
        onStop: hub.cleanup,
      });
    },
  };

  /** The SDK's Streamable HTTP server (bench/sdk-server.mjs) as a remote upstream: its process, and its /mcp URL once it listens. */
  const spawnRemoteUpstream = () => {
    const child = spawnTracked(node, [paths.sdkServer, "--transport", "http"], { env: nodeEnv(), keepStdout: true });
    return { child, url: readJsonLine(child).then(({ port }) => `http://127.0.0.1:${port}/mcp`) };
  };

  /**
   * bench/design-floor.mjs: what a process layout costs at the least (see its header); group `design`. `upstream:
   * "remote"` puts the SDK's Streamable HTTP server (bench/sdk-server.mjs) behind it instead of the stdio server — the
   * floor of the gateway's remote contender.
   */
  const designFloor = (layout, wire = "lean", upstream = "stdio") => ({
    id: `floor-${layout}${wire === "lean" ? "" : `-${wire}`}${upstream === "remote" ? "-remote" : ""}`,
    label:
      layout === "one-process"
        ? `design floor: one process, HTTP + ${upstream === "remote" ? "remote upstream" : "stdio"}`
        : `design floor: HTTP process + OpenSession hop${wire === "lean" ? "" : " (connect-es)"} + ${upstream === "remote" ? "process → remote upstream" : "stdio process"}`,
    group: "design",
    optional: wire !== "lean",
    unavailable: () => (layout === "two-process" && !existsSync(paths.frontendMain) ? "dist/ is not built" : null),
    async start() {
      const remote = upstream === "remote" ? spawnRemoteUpstream() : undefined;
      try {
        const urlArgs = remote ? ["--upstream-url", await remote.url] : [];
        const child = spawnTracked(node, [paths.designFloor, "--layout", layout, "--wire", wire, ...urlArgs], { env: nodeEnv(), keepStdout: true });
        const { port } = await readJsonLine(child);
        const open = () => openStreamableHttpSession(`http://127.0.0.1:${port}/mcp`);
        const toolNames = await probeToolNames(open, 30000, child);
        return {
          open,
          toolNames,
          processes: () => (remote ? { own: classifyTree(child.pid).own, upstream: [remote.child.pid] } : classifyTree(child.pid)),
          stop: async () => {
            await stopTracked(child);
            if (remote) await stopTracked(remote.child);
          },
          child,
        };
      } catch (error) {
        if (remote) await stopTracked(remote.child);
        throw error;
      }
    },
  });

  const gatewayUnavailable = () => {
    for (const file of [paths.daemonMain, paths.frontendMain]) {
      if (!existsSync(file)) return `${file.slice(paths.root.length + 1)} is not built`;
    }
    return null;
  };

  /**
   * Which gateway a contender runs on: the lean pair each get one of their own, as the observability settings do. On
   * a shared gateway the work a session-ful contender leaves behind (its closed sessions, old-generation garbage by
   * then) is done during whichever contender runs next, and the stateless one always came next: it read 5–10 % dearer
   * per call at 16 sessions there, and 1–6 % cheaper on gateways of their own.
   */
  const gatewayKey = (path) => (path === "mcp-lean" || path === "mcp-modern-lean" ? `gateway-${path}` : "gateway");

  const gateway = (path) => ({
    id: path === "control" ? "gateway-callTool" : `gateway-${path}`,
    label:
      path === "control"
        ? "gateway, control API CallTool"
        : path === "mcp-modern"
          ? "gateway, /mcp modern (stateless, 2026-07-28)"
          : path === "mcp-lean"
            ? "gateway, /mcp, lean client (2025-11-25 session)"
            : path === "mcp-modern-lean"
              ? "gateway, /mcp modern, lean client (stateless, 2026-07-28)"
              : `gateway, /${path}`,
    group: "gateway",
    shared: gatewayKey(path),
    unavailable: gatewayUnavailable,
    async start(ctx) {
      const instance = await ctx.shared(gatewayKey(path), () =>
        startGateway(paths, [{ name: "bench", args: [paths.upstream] }], { cpuProfDir: ctx.cpuProfDir }),
      );
      const open =
        path === "mcp"
          ? () => openStreamableHttpSession(`${instance.baseUrl}/mcp`)
          : path === "mcp-modern"
            ? () => openModernSession(`${instance.baseUrl}/mcp`)
            : path === "mcp-lean" || path === "mcp-modern-lean"
            ? () => openLeanSession(`${instance.baseUrl}/mcp`, path === "mcp-lean" ? "legacy" : "modern")
            : path === "sse"
            ? () => openSseSession(`${instance.baseUrl}/sse`)
            : () => openControlApiSession(instance.socketPath, paths.dist);
      const toolNames = await probeToolNames(open, 30000, instance.child);
      return { open, toolNames, processes: instance.processes, stop: instance.release, gateway: instance };
    },
  });

  /**
   * The gateway over /mcp in each observability setting, each a gateway of its own (none of them shared with the
   * `gateway` group, whose gateway also carries /sse, CallTool, the 64-session run and the large results: the three
   * must start equal for a difference of a few percent to mean something). Metrics have no off switch (the daemon's
   * registry is always on), so "off" is the audit log off; "default" is the team file without an `audit:` section
   * (audit on, arguments not recorded); "traces" is the default with OpenTelemetry on, exporting to
   * bench/otlp-sink.mjs. Every OTEL_* setting the harness may have inherited is neutralised, so that only the
   * traces contender traces.
   */
  const observability = (setting) => ({
    id: setting === "traces" ? "gateway-mcp-traces" : `gateway-mcp-observability-${setting}`,
    label:
      setting === "off"
        ? "gateway, /mcp, audit off (metrics on)"
        : setting === "default"
          ? "gateway, /mcp, defaults (metrics + audit)"
          : "gateway, /mcp, defaults + traces (OTLP/HTTP)",
    group: "observability",
    observability: setting,
    unavailable: gatewayUnavailable,
    async start(ctx) {
      const sink = setting === "traces" ? await startOtlpSink(paths) : undefined;
      let instance;
      try {
        instance = await startGateway(paths, [{ name: "bench", args: [paths.upstream] }], { cpuProfDir: ctx.cpuProfDir, ...settingOptions(setting, sink) });
      } catch (error) {
        await sink?.stop();
        throw error;
      }
      const open = () => openStreamableHttpSession(`${instance.baseUrl}/mcp`);
      let toolNames;
      try {
        toolNames = await probeToolNames(open, 30000, instance.child);
      } catch (error) {
        await instance.stop();
        await sink?.stop();
        throw error;
      }
      const auditLines = () => countAuditLines(instance.home);
      return {
        open,
        /** The same gateway through the lean client (sessions.mjs `openLeanSession`): the second instrument. */
        openLean: () => openLeanSession(`${instance.baseUrl}/mcp`, "legacy"),
        toolNames,
        processes: instance.processes,
        gateway: instance,
        auditLines,
        ...(sink ? { traceSink: sink } : {}),
        /** After the smoke calls: the setting took effect (audit lines written or not; spans exported). */
        async smokeCheck() {
          const problems = [];
          const lines = await settle(auditLines, (n) => (setting === "off" ? n === 0 : n > 0), 3000);
          if (setting === "off" && lines !== 0) problems.push(`audit is off but ${lines} audit lines were written`);
          if (setting !== "off" && lines === 0) problems.push("audit is on but no audit line was written");
          if (sink) {
            // The batch exporter sends after its schedule delay (5 s by default) when fewer spans than a batch wait.
            const { requests } = await settle(() => sink.stats(), (stats) => stats.requests > 0, 15000);
            if (requests === 0) problems.push("no trace export reached the OTLP sink within 15 s");
          }
          return problems;
        },
        stop: async () => {
          await instance.stop();
          await sink?.stop();
        },
      };
    },
  });

  /**
   * The gateway in front of a remote server: the SDK reference (`sdk-mcp`, bench/sdk-server.mjs over Streamable
   * HTTP) configured as a `url:` server, reached by clients over /mcp. Beside `sdk-mcp` (the SDK client talking to
   * that same upstream directly) it measures what the gateway adds to a remote server: the target is 1 ms at p50.
   */
  const gatewayRemote = {
    id: "gateway-remote",
    label: "gateway, /mcp → remote upstream (SDK Streamable HTTP)",
    group: "gateway",
    unavailable: gatewayUnavailable,
    async start(ctx) {
      const { child: upstream, url } = spawnRemoteUpstream();
      try {
        const instance = await startGateway(paths, [{ name: "bench", url: await url }], { cpuProfDir: ctx.cpuProfDir });
        instance.acquire();
        const open = () => openStreamableHttpSession(`${instance.baseUrl}/mcp`);
        const toolNames = await probeToolNames(open, 30000, instance.child);
        return {
          open,
          toolNames,
          processes: () => ({ own: classifyTree(instance.child.pid).own, upstream: [upstream.pid] }),
          stop: async () => {
            await instance.release();
            await stopTracked(upstream);
          },
          gateway: instance,
        };
      } catch (error) {
        await stopTracked(upstream);
        throw error;
      }
    },
  };

  return [
    direct,
    sdk("http"),
    sdk("http", true),
    sdk("sse"),
    supergateway("sse"),
    supergateway("mcp"),
    mcpProxy("mcp"),
    mcpProxy("sse"),
    mcpHub,
    gateway("mcp"),
    gateway("mcp-modern"),
    gateway("mcp-lean"),
    gateway("mcp-modern-lean"),
    gateway("sse"),
    gateway("control"),
    gatewayRemote,
    observability("off"),
    observability("default"),
    observability("traces"),
    designFloor("two-process"),
    designFloor("two-process", "connect-es"),
    designFloor("one-process"),
    designFloor("two-process", "lean", "remote"),
    designFloor("one-process", "lean", "remote"),
  ];
}

/**
 * Writes a gateway team file with these servers (each a node program with args). `auditEnabled: false` gives the
 * team `audit: { enabled: false }`; left out, the team has no `audit:` section (the default: on).
 */
export function writeGatewayConfig(home, port, servers, { auditEnabled } = {}) {
  const lines = [
    "gateway:",
    `  port: ${port}`,
    "  clientAuth: none",
    "  maxSessions: 4096 # the default cap (256) is below the 1,000-idle-session scenario",
    "defaultTeam: bench",
    "teams:",
    "  - id: bench",
    "    name: Bench",
    "    servers:",
  ];
  for (const server of servers) {
    lines.push(`      - name: ${server.name}`);
    if (server.url) {
      // A remote server (bench/sdk-server.mjs over HTTP).
      lines.push(`        url: ${JSON.stringify(server.url)}`);
      continue;
    }
    lines.push(`        command: ${JSON.stringify(process.execPath)}`);
    lines.push(`        args: ${JSON.stringify(server.args)}`);
  }
  lines.push("    policy:", '      allow: ["*"]', "      deny: []");
  if (auditEnabled !== undefined) lines.push(`    audit: { enabled: ${auditEnabled} }`);
  lines.push("");
  const file = join(home, "bench-team.yaml");
  writeFileSync(file, lines.join("\n"));
  return file;
}

/**
 * Profiles the gateway's frontend from outside (bench/lib/profile-attach.mjs); returns the function that stops the
 * profiler and writes `<dir>/frontend-main-<pid>.cpuprofile`. A failure only costs the profile.
 */
async function profileFrontend(instance, dir) {
  const frontendPid = instance.roles().frontend[0];
  if (frontendPid === undefined) return async () => {};
  const helper = spawn(
    process.execPath,
    ["--experimental-websocket", fileURLToPath(new URL("./profile-attach.mjs", import.meta.url)), String(frontendPid), join(dir, `frontend-main-${frontendPid}.cpuprofile`)],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const started = await new Promise((resolve) => {
    helper.stdout.once("data", () => resolve(true));
    helper.once("exit", () => resolve(false));
  });
  return async () => {
    if (!started) return;
    const exited = new Promise((resolve) => helper.once("exit", resolve));
    helper.stdin.end();
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10000))]);
  };
}

/** Names the gateway's processes from their command lines. */
export function gatewayRoles(rootPid) {
  const roles = { daemon: [], frontend: [], watchdog: [], upstream: [], other: [] };
  for (const pid of processTree(rootPid)) {
    const cmd = commandLine(pid);
    if (pid !== rootPid && cmd.includes(UPSTREAM_MARK)) roles.upstream.push(pid);
    else if (/frontend/.test(cmd)) roles.frontend.push(pid);
    else if (/watchdog/.test(cmd)) roles.watchdog.push(pid);
    else if (/daemon[/\\]main\.js|cli[/\\]main\.js/.test(cmd)) roles.daemon.push(pid);
    else roles.other.push(pid);
  }
  return roles;
}

/** The gateway settings the observability scenario and the steady-state tools (ab.mjs, pair.mjs) compare. */
export const GATEWAY_SETTINGS = ["default", "off", "traces", "traces-unsampled"];

/** Whether a gateway in `setting` needs an OTLP receiver (bench/otlp-sink.mjs, `startOtlpSink`). */
export function needsSink(setting) {
  return setting.startsWith("traces");
}

/**
 * `startGateway`'s options for a setting: `default` (metrics and audit on), `off` (audit off; metrics have no off
 * switch), `traces` (the defaults with OpenTelemetry exporting to `sink`, bench/otlp-sink.mjs), `traces-unsampled`
 * (tracing on with a sampler that records nothing: spans are made and propagated, none exported). Every other
 * `OTEL_*` setting the harness inherited is neutralised, so that only a traces setting traces.
 */
export function settingOptions(setting, sink) {
  if (!GATEWAY_SETTINGS.includes(setting)) throw new Error(`unknown setting "${setting}" (one of ${GATEWAY_SETTINGS.join(", ")})`);
  const traced = needsSink(setting);
  if (traced && sink === undefined) throw new Error(`setting "${setting}" needs an OTLP sink`);
  const env = traced
    ? {
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${sink.baseUrl}/v1/traces`,
        OTEL_SDK_DISABLED: "",
        OTEL_TRACES_EXPORTER: "",
        ...(setting === "traces-unsampled" ? { OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "0" } : { OTEL_TRACES_SAMPLER: "" }),
      }
    : { OTEL_SDK_DISABLED: "true" };
  return { auditEnabled: setting === "off" ? false : undefined, env };
}

/**
 * Starts the gateway daemon (which starts its frontend) with a fresh or given DEPLOYSTACK_HOME. `viaCli` starts it
 * as a user does (`dsctl start --foreground`); otherwise the daemon program directly (one process less in the tree).
 * `cpuProfDir` CPU-profiles daemon and frontend (bench/cpu-prof-preload.cjs through NODE_OPTIONS, which the daemon
 * passes to its frontend but not to MCP servers, whose environment is minimal): profiles are written when they exit.
 * `auditEnabled` goes to the team file (writeGatewayConfig); `env` adds to the daemon's environment.
 */
export async function startGateway(paths, servers, { home, viaCli = false, port, keepHome = false, readyTimeoutMs = 60000, cpuProfDir, env = {}, auditEnabled } = {}) {
  const stateHome = home ?? mkdtempSync(join(tmpdir(), "dsgw-bench-"));
  const listenPort = port ?? (await freePort());
  const config = writeGatewayConfig(stateHome, listenPort, servers, { auditEnabled });
  const args = viaCli
    ? [paths.cliMain, "start", "--foreground", "--config", config, "--port", String(listenPort)]
    : [paths.daemonMain, "--config", config, "--port", String(listenPort)];
  const startedAt = performance.now();
  const profiling = cpuProfDir
    ? {
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --require ${paths.cpuProfPreload}`.trim(),
        BENCH_CPU_PROF_DIR: cpuProfDir,
      }
    : {};
  const child = spawnTracked(process.execPath, args, { env: nodeEnv({ DEPLOYSTACK_HOME: stateHome, ...profiling, ...env }) });
  const baseUrl = `http://127.0.0.1:${listenPort}`;
  let users = 0;
  const instance = {
    child,
    home: stateHome,
    port: listenPort,
    baseUrl,
    startedAt,
    socketPath: join(stateHome, "run", "gateway.sock"),
    processes: () => classifyTree(child.pid),
    roles: () => gatewayRoles(child.pid),
    acquire() {
      users++;
    },
    release: async () => {
      users--;
      if (users <= 0) await instance.stop();
    },
    stop: async () => {
      await stopTracked(child, 5000);
      if (!keepHome && home === undefined) rmSync(stateHome, { recursive: true, force: true });
    },
  };
  if (readyTimeoutMs > 0) {
    await waitFor(() => httpAnswers(`${baseUrl}/healthz`), { timeoutMs: readyTimeoutMs, what: "gateway /healthz", child });
  }
  if (cpuProfDir && readyTimeoutMs > 0) {
    const stopProfiling = await profileFrontend(instance, cpuProfDir);
    const stop = instance.stop;
    instance.stop = async () => {
      await stopProfiling();
      await stop();
    };
  }
  return instance;
}

/** Polls `read` until `done(value)` or `timeoutMs` passes; returns the last value read. */
async function settle(read, done, timeoutMs) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || performance.now() >= deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Lines in a gateway's audit log (`logs/audit.jsonl` and its rotated files); 0 when there is none. */
export function countAuditLines(home) {
  const dir = join(home, "logs");
  let lines = 0;
  let names = [];
  try {
    names = readdirSync(dir).filter((name) => /^audit\.jsonl(\.\d+)?$/.test(name));
  } catch {
    return 0;
  }
  for (const name of names) {
    try {
      const bytes = readFileSync(join(dir, name));
      for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, i + 1)) lines++;
    } catch {
      // rotated away while we read
    }
  }
  return lines;
}

/**
 * Starts bench/otlp-sink.mjs (an OTLP/HTTP endpoint that accepts and discards traces, in a process of its own) and
 * hands back its base URL and `stats()`: how many export requests and bytes it has received so far.
 */
export async function startOtlpSink(paths) {
  const child = spawnTracked(process.execPath, [paths.otlpSink], { env: nodeEnv(), keepStdout: true });
  const { port } = await readJsonLine(child);
  const baseUrl = `http://127.0.0.1:${port}`;
  return {
    baseUrl,
    child,
    async stats() {
      const response = await fetch(`${baseUrl}/stats`);
      return response.json();
    },
    stop: () => stopTracked(child),
  };
}

/**
 * Prepares an mcp-hub run: a private HOME whose marketplace cache is pre-seeded and fresh (mcp-hub reads
 * `<home>/.mcp-hub/cache/registry.json` when that folder exists, and only fetches its registry when the cache is
 * missing, empty or older than an hour), so it never reaches the network; the config file; a free port.
 */
export async function prepareMcpHub(paths, servers, initDelayMs = 0) {
  const home = mkdtempSync(join(tmpdir(), "mcphub-bench-"));
  const cacheDir = join(home, ".mcp-hub", "cache");
  mkdirSync(cacheDir, { recursive: true });
  mkdirSync(join(home, ".mcp-hub", "logs"), { recursive: true });
  writeFileSync(
    join(cacheDir, "registry.json"),
    JSON.stringify({
      registry: {
        version: "bench-stub",
        generatedAt: Date.now(),
        totalServers: 1,
        servers: [{ id: "bench-stub", name: "bench stub", description: "offline stub", url: "http://127.0.0.1/", tags: [], category: "other" }],
      },
      lastFetchedAt: Date.now(),
      serverDocumentation: {},
    }),
  );
  const mcpServers = {};
  for (const server of servers) {
    mcpServers[server.name] = {
      command: process.execPath,
      args: initDelayMs > 0 ? [...server.args, "--init-delay-ms", String(initDelayMs)] : server.args,
    };
  }
  const config = join(home, "mcp-servers.json");
  writeFileSync(config, JSON.stringify({ mcpServers }, null, 2));
  const port = await freePort();
  const env = { ...process.env, HOME: home, NODE_ENV: "production" };
  for (const name of ["XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"]) delete env[name];
  return {
    home,
    port,
    env,
    args: ["-r", paths.forceLoopback, paths.mcpHub, "--port", String(port), "--config", config],
    cleanup: () => rmSync(home, { recursive: true, force: true }),
  };
}
