#!/usr/bin/env node
import { parseArgs } from "node:util";
import { gatewayVersion } from "../shared/version.js";
import { runDaemon } from "./run-daemon.js";
import { mcpExtensions } from "./mcp-wiring.js";

/**
 * The daemon's entry point: `node dist/daemon/main.js [--config FILE] [--port N]
 * [--control-listen HOST:PORT]`. `DEPLOYSTACK_HOME` selects the state folder. Users start
 * it through `dsctl start`; it runs in the foreground and prints where to point an IDE.
 */

const usage = `usage: node dist/daemon/main.js [--config FILE] [--port N] [--control-listen 127.0.0.1:PORT]

  --config FILE                  team file (YAML or JSON); default: the embedded demo team
  --port N                       the MCP endpoint's port on 127.0.0.1 (default 9095, or the file's gateway.port)
  --control-listen HOST:PORT     also serve the control API on loopback TCP (bearer token in control.token)
  DEPLOYSTACK_HOME               the state folder (default ~/.deploystack)
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

const code = await runDaemon({
  configPath: values.config,
  port: values.port !== undefined ? parsePort(values.port) : undefined,
  controlListen: values["control-listen"],
  extensions: mcpExtensions,
});
process.exit(code);
