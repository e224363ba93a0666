import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import test from "ava";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { connect } from "node:net";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { AuditOperation, AuditOutcome } from "../../gen/deploystack/gateway/v1/audit_pb.js";
import { AuditService } from "../../gen/deploystack/gateway/v1/audit_service_pb.js";
import { fixtureServer, waitUntil } from "./helpers/daemon-process.js";
import { dsctlEntry, startGateway, type Gateway } from "./helpers/mcp-gateway.js";
import { connectGatewayClient, connectStdioClient, type RecordingClient } from "./helpers/mcp-clients.js";

// Issue 13 items 1, 3 and 4 against a real gateway: tool calls from real SDK clients (Streamable HTTP, legacy SSE
// and dsctl stdio) and a typed call through dsctl; GET /metrics parsed by a Prometheus text parser with counters
// matching the calls; the audit log holding exactly the calls made (allowed, denied, failing, a prompt, a resource)
// in the file, through AuditService, `dsctl audit` (human, -n, --json, --outcome) and its follow stream; a canary
// secret of the server found in none of them; `dsctl top --once` and the interactive view under a real terminal.

/** The server's secret (in its configured env), also sent by the client as an argument and inside a tool name. */
const canary = `Cn"ry/+ Tök&${randomBytes(8).toString("hex")}`;

function canaryForms(): string[] {
  const bytes = Buffer.from(canary, "utf8");
  return [
    canary,
    JSON.stringify(canary).slice(1, -1),
    encodeURIComponent(canary),
    bytes.toString("base64"),
    bytes.toString("base64url"),
    bytes.toString("hex"),
  ].map((form) => form.toLowerCase());
}

function leaks(text: string): string[] {
  const lower = text.toLowerCase();
  return canaryForms().filter((form) => lower.includes(form));
}

interface PromSample {
  readonly labels?: Record<string, string>;
  readonly value?: string;
  readonly count?: string;
}
interface PromFamily {
  readonly name: string;
  readonly type: string;
  readonly metrics: PromSample[];
}

let gateway: Gateway;
let folder: string;
let streamable: RecordingClient;
let sse: RecordingClient;
let stdio: RecordingClient;

const ECHO_STREAMABLE = 4;

test.before(async () => {
  folder = mkdtempSync(join(tmpdir(), "observability-e2e-"));
  const configPath = join(folder, "team.json");
  writeFileSync(
    configPath,
    JSON.stringify({
      defaultTeam: "obs",
      teams: [
        {
          id: "obs",
          servers: [{ name: "alpha", command: "node", args: [fixtureServer("normal-server.mjs"), "--name", "alpha"], env: { CANARY_TOKEN: canary } }],
          policy: { deny: ["alpha-env_get"] },
          audit: { arguments: "keys" },
        },
      ],
    }),
  );
  gateway = await startGateway({ configPath, servers: ["alpha"] });
  streamable = await connectGatewayClient(gateway, "streamable", { name: "obs-streamable" });
  sse = await connectGatewayClient(gateway, "sse", { name: "obs-sse" });
  stdio = await connectStdioClient(process.execPath, [dsctlEntry, "stdio"], { env: { ...(process.env as Record<string, string>), DEPLOYSTACK_HOME: gateway.home } });

  // The calls every test below looks at, made once, in this order.
  for (let i = 0; i < ECHO_STREAMABLE; i++) await streamable.client.callTool({ name: "alpha-echo", arguments: { text: canary } });
  await sse.client.callTool({ name: "alpha-echo", arguments: { text: "over sse" } });
  await stdio.client.callTool({ name: "alpha-echo", arguments: { text: "over dsctl stdio" } });
  await streamable.client.callTool({ name: "alpha-env_get", arguments: { name: "CANARY_TOKEN" } }).then(
    () => undefined,
    () => undefined,
  );
  await streamable.client.callTool({ name: `alpha-nope_${canary}`, arguments: {} }).then(
    () => undefined,
    () => undefined,
  );
  await streamable.client.getPrompt({ name: "alpha-greet", arguments: { who: "you" } });
  await streamable.client.readResource({ uri: "fixture://readme" });
  const typed = await gateway.dsctl(["tools", "call", "alpha-echo", "--args", JSON.stringify({ text: "typed" })]);
  if (typed.code !== 0) throw new Error(`dsctl tools call failed: ${typed.stderr}`);
});

test.after.always(async () => {
  await streamable?.close().catch(() => undefined);
  await sse?.close().catch(() => undefined);
  await stdio?.close().catch(() => undefined);
  await gateway?.close();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

async function scrape(): Promise<{ text: string; families: Map<string, PromFamily> }> {
  const response = await fetch(new URL("/metrics", gateway.mcpUrl));
  const text = await response.text();
  if (response.status !== 200) throw new Error(`GET /metrics answered ${response.status}: ${text}`);
  if (!response.headers.get("content-type")?.startsWith("text/plain; version=0.0.4")) throw new Error("wrong content type");
  const families = new Map((parsePrometheusTextFormat(text) as PromFamily[]).map((family) => [family.name, family]));
  return { text, families };
}

function sample(families: Map<string, PromFamily>, name: string, labels: Record<string, string>): number | undefined {
  const found = families.get(name)?.metrics.find((metric) => Object.entries(labels).every(([key, value]) => metric.labels?.[key] === value));
  if (!found) return undefined;
  return Number(found.value ?? found.count);
}

/**
 * The observation count of one histogram series. The parser folds a labelled histogram family into one bucket map
 * (its flattening follows the official Python parser, which keeps no per-series labels for histograms), so the
 * series' own lines are handed to it alone, and its `+Inf` bucket is the count.
 */
function histogramCount(text: string, name: string, labels: string): number | undefined {
  const lines = text.split("\n").filter((line) => line.startsWith(`# HELP ${name} `) || line.startsWith(`# TYPE ${name} `) || (line.startsWith(`${name}_`) && labels.split(",").every((pair) => line.includes(pair))));
  const [family] = parsePrometheusTextFormat(`${lines.join("\n")}\n`) as Array<{ metrics: Array<{ buckets?: Record<string, string> }> }>;
  const count = family?.metrics[0]?.buckets?.["+Inf"];
  return count === undefined ? undefined : Number(count);
}

test.serial("GET /metrics parses as Prometheus text and its counters match the calls made", async (t) => {
  const { text, families } = await scrape();
  const echoCalls = ECHO_STREAMABLE + 3; // + one over SSE, one over dsctl stdio, one typed
  t.is(sample(families, "deploystack_gateway_tool_calls_total", { server: "alpha", tool: "alpha-echo", outcome: "ok" }), echoCalls);
  t.is(sample(families, "deploystack_gateway_tool_calls_total", { server: "alpha", tool: "alpha-env_get", outcome: "denied" }), 1);
  // An unknown name is never a label value: it counts under "other".
  t.is(sample(families, "deploystack_gateway_tool_calls_total", { server: "other", tool: "other", outcome: "error" }), 1);
  t.is(families.get("deploystack_gateway_tool_calls_total")?.metrics.length, 3);
  t.is(families.get("deploystack_gateway_tool_call_duration_seconds")?.type, "HISTOGRAM");
  t.is(histogramCount(text, "deploystack_gateway_tool_call_duration_seconds", 'server="alpha",tool="alpha-echo",outcome="ok"'), echoCalls);
  t.is(sample(families, "deploystack_gateway_prompt_gets_total", { server: "alpha", outcome: "ok" }), 1);
  t.is(sample(families, "deploystack_gateway_resource_reads_total", { server: "alpha", outcome: "ok" }), 1);
  // Only calls that reached the server are upstream requests (the denied and unknown ones did not).
  t.is(sample(families, "deploystack_gateway_upstream_requests_total", { server: "alpha", method: "tools/call" }), echoCalls);
  t.is(sample(families, "deploystack_gateway_upstream_errors_total", { server: "alpha", method: "tools/call" }), undefined);
  t.is(sample(families, "deploystack_gateway_server_state", { server: "alpha", state: "running" }), 1);
  t.is(sample(families, "deploystack_gateway_server_state", { server: "alpha", state: "failed" }), 0);
  t.is(sample(families, "deploystack_gateway_server_restarts_total", { server: "alpha" }), 0);
  t.true((sample(families, "deploystack_gateway_sessions", { era: "legacy", transport: "streamable_http" }) ?? 0) >= 1);
  t.true((sample(families, "deploystack_gateway_sessions", { era: "legacy", transport: "sse" }) ?? 0) >= 1);
  t.true((sample(families, "deploystack_gateway_sessions", { era: "legacy", transport: "stdio" }) ?? 0) >= 1);
  t.true((sample(families, "deploystack_gateway_mcp_received_bytes_total", { transport: "streamable_http" }) ?? 0) > 0);
  t.true((sample(families, "deploystack_gateway_mcp_sent_bytes_total", { transport: "sse" }) ?? 0) > 0);
  // Process metrics of both processes, each under its own prefix; the frontend saw the daemon answer.
  t.true(families.has("deploystack_gateway_daemon_process_cpu_seconds_total"));
  t.true(families.has("deploystack_gateway_frontend_process_cpu_seconds_total"));
  t.is(sample(families, "deploystack_gateway_frontend_daemon_up", {}), 1);
  // Conventions: every family is namespaced; counters end in _total.
  for (const family of families.values()) {
    t.true(family.name.startsWith("deploystack_gateway_"), family.name);
    if (family.type === "COUNTER") t.true(family.name.endsWith("_total"), family.name);
  }
  t.deepEqual(leaks(text), []);
});

test.serial("GET /metrics keeps the Host guard of every route", async (t) => {
  const url = new URL("/metrics", gateway.mcpUrl);
  const { status } = await new Promise<{ status: number }>((resolve, reject) => {
    import("node:http").then(({ request }) => {
      const req = request({ host: "127.0.0.1", port: url.port, path: "/metrics", headers: { host: "evil.example" } }, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0 });
      });
      req.on("error", reject);
      req.end();
    }, reject);
  });
  t.is(status, 403);
});

interface AuditLine {
  readonly time: string;
  readonly team: string;
  readonly client: { readonly name?: string; readonly era?: string; readonly transport: string };
  readonly operation: string;
  readonly name: string;
  readonly canonicalName?: string;
  readonly server?: string;
  readonly outcome: string;
  readonly durationMs: number;
  readonly errorCode?: string;
  readonly arguments?: { readonly mode: string; readonly keys: string[] };
}

function auditLines(): AuditLine[] {
  const path = join(gateway.home, "logs", "audit.jsonl");
  return readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as AuditLine);
}

test.serial("the audit log holds exactly the calls made, 0600, without the canary", (t) => {
  const path = join(gateway.home, "logs", "audit.jsonl");
  t.is(statSync(path).mode & 0o777, 0o600);
  const lines = auditLines();
  t.deepEqual(
    lines.map((line) => [line.operation, line.name.startsWith("alpha-nope_") ? "alpha-nope_…" : line.name, line.outcome, line.client.transport]),
    [
      ...Array.from({ length: ECHO_STREAMABLE }, () => ["tools/call", "alpha-echo", "ok", "streamable_http"]),
      ["tools/call", "alpha-echo", "ok", "sse"],
      ["tools/call", "alpha-echo", "ok", "stdio"],
      ["tools/call", "alpha-env_get", "denied", "streamable_http"],
      ["tools/call", "alpha-nope_…", "error", "streamable_http"],
      ["prompts/get", "alpha-greet", "ok", "streamable_http"],
      ["resources/read", "fixture://readme", "ok", "streamable_http"],
      ["tools/call", "alpha-echo", "ok", "control_api"],
    ],
  );
  for (const line of lines) {
    t.is(line.team, "obs");
    t.true(line.durationMs >= 0);
    t.false(Number.isNaN(Date.parse(line.time)));
  }
  t.deepEqual(lines[0]!.client, { name: "obs-streamable", era: "legacy", transport: "streamable_http" });
  t.deepEqual(lines[4]!.client, { name: "obs-sse", era: "legacy", transport: "sse" });
  t.deepEqual(lines[5]!.client, { name: "e2e-stdio", era: "legacy", transport: "stdio" });
  t.deepEqual(lines[10]!.client, { name: "control-api", transport: "control_api" });
  t.deepEqual(lines[0]!.arguments, { mode: "keys", keys: ["text"] });
  t.like(lines[6], { server: "alpha", canonicalName: "alpha-env_get", errorCode: "permission_denied" });
  t.like(lines[7], { errorCode: "not_found" });
  t.is(lines[7]!.server, undefined);
  t.true(lines[7]!.name.includes("***"), "the unknown name a client sent is masked like server text");
  t.is(lines[0]!.canonicalName, "alpha-echo");
  for (const file of readdirSync(join(gateway.home, "logs"))) {
    t.deepEqual(leaks(readFileSync(join(gateway.home, "logs", file), "utf8")), [], file);
  }
});

test.serial("dsctl audit prints the last N events, as proto JSON with --json, filtered by outcome", async (t) => {
  const human = await gateway.dsctl(["audit", "-n", "3"]);
  t.is(human.code, 0, human.stderr);
  const humanLines = human.stdout.trim().split("\n");
  t.is(humanLines.length, 3);
  t.regex(humanLines[0]!, /ok\s+prompt\s+alpha-greet\s+server=alpha\s+\S+ms\s+client=obs-streamable\/streamable_http/);
  t.regex(humanLines[2]!, /ok\s+tool\s+alpha-echo\s+server=alpha .*client=control-api\/control_api\s+args=text/);

  const json = await gateway.dsctl(["audit", "-n", "20", "--json"]);
  t.is(json.code, 0, json.stderr);
  const events = json.stdout
    .trim()
    .split("\n")
    .map((line) => (JSON.parse(line) as { event: Record<string, unknown> }).event);
  t.is(events.length, 11);
  t.like(events[6], { operation: "AUDIT_OPERATION_TOOL_CALL", outcome: "AUDIT_OUTCOME_DENIED", exposedName: "alpha-env_get", server: "alpha", team: "obs" });

  const denied = await gateway.dsctl(["audit", "--outcome", "denied", "--json"]);
  t.is(denied.stdout.trim().split("\n").length, 1);
  t.deepEqual(leaks(human.stdout + json.stdout + denied.stdout), []);
});

test.serial("dsctl top --once prints servers, busiest tools and sessions within 80×24", async (t) => {
  const result = await gateway.dsctl(["top", "--once"]);
  t.is(result.code, 0, result.stderr);
  const lines = result.stdout.replace(/\n$/, "").split("\n");
  t.true(lines.length <= 24, result.stdout);
  for (const line of lines) t.true(line.length <= 80, line);
  t.regex(result.stdout, /team obs/);
  t.regex(result.stdout, /^alpha\s+RUNNING\s+\d/m);
  t.regex(result.stdout, /^alpha-echo\s+\d+/m);
  t.regex(result.stdout, /sessions: .*legacy streamable_http/);
  t.regex(result.stdout, /sessions: .*legacy stdio/);
  t.deepEqual(leaks(result.stdout), []);
});

const run = promisify(execFile);

test.serial("dsctl top runs in a real 80×24 terminal (tmux), redraws, and quits on q", async (t) => {
  const tmux = await run("which", ["tmux"]).then(
    (r) => r.stdout.trim(),
    () => "",
  );
  if (!tmux) {
    t.pass("tmux is not installed here: the interactive mode is covered by --once and the render tests");
    return;
  }
  const socket = `obs-top-${process.pid}-${randomBytes(4).toString("hex")}`;
  const tmuxArgs = (args: string[]): string[] => ["-L", socket, "-f", "/dev/null", ...args];
  t.teardown(() => run(tmux, tmuxArgs(["kill-server"])).catch(() => undefined));
  const command = `${process.execPath} ${dsctlEntry} top --interval 1; echo TOP-EXITED-$?; sleep 30`;
  await run(tmux, tmuxArgs(["new-session", "-d", "-x", "80", "-y", "24", "-e", `DEPLOYSTACK_HOME=${gateway.home}`, command]));
  const capture = async (): Promise<string> => (await run(tmux, tmuxArgs(["capture-pane", "-p"]))).stdout;
  t.true(await waitUntil(async () => (await capture()).includes("BUSIEST TOOLS"), 60_000), await capture());
  const screen = await capture();
  t.regex(screen, /^alpha\s+RUNNING/m);
  for (const line of screen.split("\n")) t.true(line.length <= 80);
  await run(tmux, tmuxArgs(["send-keys", "q"]));
  t.true(await waitUntil(async () => (await capture()).includes("TOP-EXITED-0"), 30_000), await capture());

  // Ctrl-C quits too (in raw mode it arrives as a key, not as SIGINT), and the terminal is given back.
  await run(tmux, tmuxArgs(["respawn-pane", "-k", "-e", `DEPLOYSTACK_HOME=${gateway.home}`, command]));
  t.true(await waitUntil(async () => (await capture()).includes("BUSIEST TOOLS"), 60_000), await capture());
  await run(tmux, tmuxArgs(["send-keys", "C-c"]));
  t.true(await waitUntil(async () => (await capture()).includes("TOP-EXITED-0"), 30_000), await capture());
  t.false((await capture()).includes("BUSIEST TOOLS"), "the alternate screen was left");
});

test.serial("WatchAuditEvents and dsctl audit -f deliver a new call as it happens", async (t) => {
  const sessionManager = new Http2SessionManager("http://localhost", {}, { createConnection: () => connect(gateway.daemon.paths.controlSocket) });
  t.teardown(() => sessionManager.abort());
  const audit = createClient(AuditService, createConnectTransport({ httpVersion: "2", baseUrl: "http://localhost", sessionManager }));
  const listed = await audit.listAuditEvents({ filter: { tool: "alpha-greet" }, limit: 5 });
  t.is(listed.events.length, 1);
  t.is(listed.events[0]!.operation, AuditOperation.PROMPT_GET);

  const follower = spawn(process.execPath, [dsctlEntry, "audit", "-f", "-n", "0", "--server", "alpha"], {
    env: { ...process.env, DEPLOYSTACK_HOME: gateway.home },
    stdio: ["ignore", "pipe", "pipe"],
  });
  t.teardown(() => follower.kill("SIGKILL"));
  let followed = "";
  follower.stdout.on("data", (chunk: Buffer) => (followed += chunk.toString("utf8")));

  const abort = new AbortController();
  t.teardown(() => abort.abort());
  const watched: string[] = [];
  const watching = (async () => {
    try {
      for await (const message of audit.watchAuditEvents({ follow: true, tail: 0, filter: { outcome: AuditOutcome.OK } }, { signal: abort.signal })) {
        watched.push(message.event?.exposedName ?? "");
      }
    } catch {
      // cancelled at the end
    }
  })();
  // The follower subscribes asynchronously: call until both have seen a call made after they started.
  const seen = await waitUntil(async () => {
    await streamable.client.callTool({ name: "alpha-echo", arguments: { text: "followed" } });
    return watched.includes("alpha-echo") && followed.includes("alpha-echo");
  }, 60_000);
  t.true(seen, `watched: ${watched.join(",")}\nfollowed: ${followed}`);
  follower.kill("SIGINT");
  abort.abort();
  await watching;
});
