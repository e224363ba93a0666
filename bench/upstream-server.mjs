#!/usr/bin/env node
/**
 * The benchmark's one upstream: a minimal stdio MCP server (the SDK's low-level `Server`, no schema layer) with the
 * `echo` and `blob` tools. Every contender reaches this same program, so upstream cost is identical.
 *
 * `--init-delay-ms N` leaves stdin unread for N ms after start, so `initialize` is answered late (the start-up
 * scenario's slow servers) without any timer on the hot path.
 */
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { BENCH_TOOLS, callBenchTool } from "./lib/tools.mjs";

const delayIndex = process.argv.indexOf("--init-delay-ms");
const initDelayMs = delayIndex > 0 ? Number(process.argv[delayIndex + 1]) : 0;

const server = new Server({ name: "bench-upstream", version: "1.0.0" }, { capabilities: { tools: {} } });
server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: BENCH_TOOLS }));
server.setRequestHandler(CallToolRequestSchema, (request) =>
  callBenchTool(request.params.name, request.params.arguments),
);

process.stdin.on("end", () => process.exit(0));

async function main() {
  if (initDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, initDelayMs));
  await server.connect(new StdioServerTransport());
}

main().catch((error) => {
  process.stderr.write(`bench upstream: ${error?.message ?? error}\n`);
  process.exit(1);
});
