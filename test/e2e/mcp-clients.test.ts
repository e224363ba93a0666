import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import anyTest, { type TestFn } from "ava";
import type { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { isAlive, repoRoot, waitUntil } from "./helpers/daemon-process.js";
import { connectGatewayClient, connectStdioClient } from "./helpers/mcp-clients.js";
import { dsctlEntry, startGateway, teamFile, type Gateway } from "./helpers/mcp-gateway.js";

/**
 * Third-party clients against the whole running gateway: the MCP Inspector's CLI (it needs
 * Node ≥ 22, which the project pins as the `node` devDependency) over `/mcp` and `/sse`, and the
 * SDK's `StdioClientTransport` through `dsctl stdio`, the bridge for clients that only launch
 * stdio servers.
 */

interface Context {
  gateway: Gateway;
  inspectorHome: string;
}

const test = anyTest as TestFn<Context>;

type Json = Record<string, any>;

const node22 = join(repoRoot, "node_modules/node/bin/node");
const inspectorCli = join(repoRoot, "node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js");

test.before(async (t) => {
  t.context = {
    gateway: await startGateway({ configPath: teamFile("mcp-gateway.yaml"), servers: ["everything", "memory", "fixture"] }),
    inspectorHome: mkdtempSync(join(tmpdir(), "dsgw-inspector-")),
  };
});

test.after.always(async (t) => {
  await t.context.gateway?.close();
  if (t.context.inspectorHome) rmSync(t.context.inspectorHome, { recursive: true, force: true });
});

/** Runs the Inspector CLI and parses the JSON it prints. */
function inspector(home: string, args: readonly string[]): Promise<{ code: number; json?: Json; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    execFile(
      node22,
      [inspectorCli, "--cli", ...args],
      { env: { ...process.env, HOME: home }, timeout: 90_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        let json: Json | undefined;
        try {
          json = JSON.parse(stdout) as Json;
        } catch {
          json = undefined;
        }
        resolveRun({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, json, stdout, stderr });
      },
    );
  });
}

for (const [endpoint, transport] of [
  ["/mcp", "http"],
  ["/sse", "sse"],
] as const) {
  test(`the MCP Inspector CLI lists and calls tools over ${endpoint}`, async (t) => {
    const { gateway, inspectorHome } = t.context;
    const url = endpoint === "/mcp" ? gateway.mcpUrl : gateway.sseUrl;
    const listed = await inspector(inspectorHome, [url, "--transport", transport, "--method", "tools/list"]);
    t.is(listed.code, 0, listed.stderr);
    const names = ((listed.json?.tools ?? []) as Json[]).map((tool) => String(tool.name));
    for (const name of ["everything-echo", "everything-get-sum", "memory-read_graph", "fixture-echo"]) t.true(names.includes(name), name);

    const called = await inspector(inspectorHome, [
      url,
      "--transport",
      transport,
      "--method",
      "tools/call",
      "--tool-name",
      "everything-echo",
      "--tool-arg",
      `message=hi over ${transport}`,
    ]);
    t.is(called.code, 0, called.stderr);
    t.deepEqual(called.json?.content, [{ type: "text", text: `Echo: hi over ${transport}` }]);

    const routed = await inspector(inspectorHome, [url, "--transport", transport, "--method", "tools/call", "--tool-name", "fixture-echo", "--tool-arg", "text=routed"]);
    t.is(routed.code, 0, routed.stderr);
    t.deepEqual(routed.json?.content, [{ type: "text", text: "routed" }]);
  });
}

test("the SDK's StdioClientTransport lists and calls tools through `dsctl stdio`", async (t) => {
  const { gateway } = t.context;
  const bridge = await connectStdioClient(process.execPath, [dsctlEntry, "stdio"], {
    env: { ...(process.env as Record<string, string>), DEPLOYSTACK_HOME: gateway.home },
  });
  const pid = (bridge.transport as StdioClientTransport).pid;
  let closed = false;
  t.teardown(async () => {
    if (!closed) await bridge.close();
  });
  t.is(bridge.client.getServerVersion()?.name, "deploystack-gateway");

  const overStdio = (await bridge.client.listTools()).tools;
  const http = await connectGatewayClient(gateway, "streamable");
  t.teardown(() => http.close());
  const overHttp = (await http.client.listTools()).tools;
  t.deepEqual(overStdio, overHttp, "the same tools as over HTTP");

  const echoed = await bridge.client.callTool({ name: "everything-echo", arguments: { message: "via stdio" } });
  t.deepEqual(echoed.content, [{ type: "text", text: "Echo: via stdio" }]);
  const routed = await bridge.client.callTool({ name: "fixture-echo", arguments: { text: "fixture via stdio" } });
  t.deepEqual(routed.content, [{ type: "text", text: "fixture via stdio" }]);

  const progress: number[] = [];
  const long = await bridge.client.callTool(
    { name: "everything-trigger-long-running-operation", arguments: { duration: 1, steps: 2 } },
    undefined,
    { onprogress: (p) => void progress.push(p.progress) },
  );
  t.true(JSON.stringify(long.content).includes("Long running operation completed"));
  t.deepEqual(
    bridge.notifications("notifications/progress").map((n) => n.params?.progress),
    [1, 2],
    "progress travels through the bridge",
  );

  await bridge.close();
  closed = true;
  if (pid !== null && pid !== undefined) t.true(await waitUntil(() => !isAlive(pid), 30_000), "the bridge process exited");
});
