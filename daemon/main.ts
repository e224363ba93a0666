#!/usr/bin/env node
import { parseArgs } from "node:util";
import { HOP_TIMING_ENV, startHopTiming } from "../shared/hop-timing.js";
import { gatewayVersion } from "../shared/version.js";
import { parseDuration } from "./config/duration.js";
import { runDaemon } from "./run-daemon.js";

/**
 * The daemon's entry point: `node dist/daemon/main.js [--config FILE] [--port N]
 * [--control-listen HOST:PORT]`. `DEPLOYSTACK_HOME` selects the state folder. Users start
 * it through `dsctl start`; it runs in the foreground and prints where to point an IDE.
 */

const usage = `usage: node dist/daemon/main.js [--config FILE] [--port N] [--control-listen 127.0.0.1:PORT]
         [--cloud-url URL] [--oauth-callback-port N] [--sync-interval DURATION] [--server-wait DURATION]

  --config FILE                  team file (YAML or JSON); default: the embedded demo team
  --port N                       the MCP endpoint's port on 127.0.0.1 (default 9095, or the file's gateway.port)
  --control-listen HOST:PORT     also serve the control API on loopback TCP (bearer token in control.token)
  --cloud-url URL                the DeployStack API for \`dsctl login\` (default https://cloud-api.deploystack.io;
                                 also DEPLOYSTACK_CLOUD_URL)
  --oauth-callback-port N        the login's loopback callback port (default 8976, the port DeployStack accepts;
                                 0 picks a free one)
  --sync-interval DURATION       periodic sync with DeployStack when logged in (default 5m; 0 turns it off)
  --server-wait DURATION         how long MCP calls wait for a server that is still starting (default 5s)
  DEPLOYSTACK_HOME               the state folder (default ~/.deploystack)
  DEPLOYSTACK_HOP_TIMING_DIR     write per-hop timings of the hot path there (benchmarks; off by default)
  OTEL_EXPORTER_OTLP_ENDPOINT    export OpenTelemetry traces to this OTLP/HTTP collector (off by default; also
                                 OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or gateway.tracing.endpoint in the team file)
`;

function fail(message: string): never {
  process.stderr.write(`error: ${message}\n${usage}`);
  process.exit(2);
}

function parsePort(value: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) fail(`--port must be a number from 0 to 65535, got "${value}"`);
  return Number(value);
}

let parsed: ReturnType<typeof parseCommandLine>;
function parseCommandLine() {
  return parseArgs({
    options: {
      config: { type: "string" },
      port: { type: "string" },
      "control-listen": { type: "string" },
      "cloud-url": { type: "string" },
      "oauth-callback-port": { type: "string" },
      "sync-interval": { type: "string" },
      "server-wait": { type: "string" },
      help: { type: "boolean", short: "h" },
      version: { type: "boolean" },
    },
    strict: true,
    allowPositionals: false,
  });
}
try {
  parsed = parseCommandLine();
} catch (error) {
  fail((error as Error).message);
}
const { values } = parsed;
if (values.help) {
  process.stdout.write(usage);
  process.exit(0);
}
if (values.version) {
  process.stdout.write(`${gatewayVersion}\n`);
  process.exit(0);
}

function parseDurationFlag(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(/^\d+$/.test(value) ? Number(value) : value);
  if (ms === undefined) fail(`--${flag}: expected a duration like "30s", "5m" or "0", got "${value}"`);
  return ms;
}

startHopTiming(process.env[HOP_TIMING_ENV] || undefined, "daemon");
const code = await runDaemon({
  configPath: values.config,
  port: values.port !== undefined ? parsePort(values.port) : undefined,
  controlListen: values["control-listen"],
  cloudUrl: values["cloud-url"] ?? (process.env.DEPLOYSTACK_CLOUD_URL || undefined),
  oauthCallbackPort: values["oauth-callback-port"] !== undefined ? parsePort(values["oauth-callback-port"]) : undefined,
  syncIntervalMs: parseDurationFlag("sync-interval", values["sync-interval"]),
  serverWaitMs: parseDurationFlag("server-wait", values["server-wait"]),
});
process.exit(code);
