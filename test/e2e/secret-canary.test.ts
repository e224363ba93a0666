import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import { toJson, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import { McpError } from "@modelcontextprotocol/sdk/types.js";
import { GetStatusResponseSchema, WatchEventsResponseSchema } from "../../gen/deploystack/gateway/v1/gateway_service_pb.js";
import { CallToolResponseSchema, ListToolsResponseSchema } from "../../gen/deploystack/gateway/v1/mcp_service_pb.js";
import { ServerState } from "../../gen/deploystack/gateway/v1/server_pb.js";
import { GetServerResponseSchema, ListServersResponseSchema, StreamServerLogsResponseSchema } from "../../gen/deploystack/gateway/v1/server_service_pb.js";
import { createLeakFinder, everyCmdline, filesUnder } from "./helpers/canary.js";
import { fixtureServer, waitUntil, writeTeamFile } from "./helpers/daemon-process.js";
import { startGateway } from "./helpers/mcp-gateway.js";
import { connectGatewayClient } from "./helpers/mcp-clients.js";

// The canary test of issue 10 §4: two servers hold a canary secret in their configured env and try to push it out
// in every common encoding — on stderr at start, in `initialize` (instructions) and a tool description, in
// JSON-RPC error answers (message and data), and as the last stderr lines of a crash loop to FAILED. No encoding
// may appear in any outlet: files under the state folder, control API responses, dsctl output (human and --json),
// the MCP errors a real SDK client sees, any process's argv, or the daemon's and frontend's output. A tool *result*
// is the one place it may go (results pass through untouched): the test checks that it does, so the canary is live.

/** Characters every encoding changes: quote, slash, plus, space, ampersand, non-ASCII, mixed case. */
const canary = `Cn"ry/+ Tök&${randomBytes(8).toString("hex")}`;

/** The canary's encodings in a text (test/e2e/helpers/canary.ts). */
const leaksIn = createLeakFinder(canary);

/** Every outlet checked, so the end of the test can show that each one was looked at and had content. */
const checked: Array<{ outlet: string; length: number }> = [];

function assertNoCanary(t: ExecutionContext, outlet: string, text: string): void {
  checked.push({ outlet, length: text.length });
  const found = leaksIn(text);
  if (found.length > 0) t.fail(`${outlet} shows the canary (${found.join(", ")}):\n${text.slice(0, 2000)}`);
}

function protoJson<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): string {
  return JSON.stringify(toJson(schema, message));
}



function errorText(error: unknown): string {
  if (error instanceof McpError) return JSON.stringify({ code: error.code, message: error.message, data: error.data });
  if (error instanceof ConnectError) return JSON.stringify({ code: error.code, message: error.rawMessage, details: error.details });
  return String(error);
}

test("canary: no encoding of a server's secret leaves the gateway through any outlet but a tool result", async (t) => {
  const configDir = mkdtempSync(join(tmpdir(), "dsgw-canary-config-"));
  t.teardown(() => rmSync(configDir, { recursive: true, force: true }));
  const marker = join(configDir, "crasher.crashed");
  const configPath = writeTeamFile(configDir, [
    { name: "leaker", args: [fixtureServer("secret-leaker.mjs")], env: { LEAKER_SECRET: canary } },
    { name: "crasher", args: [fixtureServer("secret-leaker.mjs")], env: { LEAKER_SECRET: canary, LEAKER_MARKER: marker } },
  ]);
  const gateway = await startGateway({ configPath, servers: ["leaker", "crasher"] });
  let closed = false;
  const closeGateway = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await gateway.close();
  };
  t.teardown(closeGateway);
  const { gateway: gatewayApi, servers, mcp } = gateway.daemon.clients;

  // Events over the whole run, the crash loop included.
  const events: string[] = [];
  const watchController = new AbortController();
  const watching = (async () => {
    try {
      for await (const message of gatewayApi.watchEvents({}, { signal: watchController.signal })) events.push(protoJson(WatchEventsResponseSchema, message));
    } catch {
      // cancelled at the end
    }
  })();

  // --- A real MCP SDK client over Streamable HTTP.
  const client = await connectGatewayClient(gateway, "streamable", { name: "canary" });
  t.teardown(() => client.close());
  assertNoCanary(t, "the initialize answer's instructions", client.client.getInstructions() ?? "");
  const listed = await client.client.listTools();
  const crashTool = listed.tools.find((tool) => tool.name === "crasher-crash");
  t.truthy(crashTool, JSON.stringify(listed.tools.map((tool) => tool.name)));
  t.regex(crashTool?.description ?? "", /\*\*\*/, "the secret in a tool description is masked, not dropped");
  assertNoCanary(t, "MCP tools/list", JSON.stringify(listed));

  const leakError = await client.client.callTool({ name: "leaker-leak_error", arguments: {} }).then(
    (result) => t.fail(`leak_error answered a result: ${JSON.stringify(result)}`),
    (error: unknown) => error,
  );
  t.true(leakError instanceof McpError, String(leakError));
  t.regex((leakError as McpError).message, /upstream rejected token \*\*\*/, "the server's error message is kept, its secret masked");
  t.deepEqual(Object.keys(((leakError as McpError).data ?? {}) as object).sort().slice(0, 3), ["base64", "base64url", "basicAuth0"]);
  assertNoCanary(t, "MCP error answer of leak_error (message and data)", errorText(leakError));

  // MCP logging is a log: a server's notifications/message reaches clients masked.
  const logged = await client.client.callTool({ name: "leaker-leak_log", arguments: {} });
  t.true(await client.waitForNotifications("notifications/message", 1), "the log notification reached the client");
  const logMessages = JSON.stringify(client.notifications("notifications/message"));
  t.regex(logMessages, /token \*\*\* rejected/);
  assertNoCanary(t, "MCP notifications/message and its call's result", `${logMessages}\n${JSON.stringify(logged)}`);

  // The one place the secret may go: a tool result passes through untouched (and so the canary checks are live).
  const result = await client.client.callTool({ name: "leaker-leak_result", arguments: {} });
  t.true(JSON.stringify(result).includes(JSON.stringify(canary).slice(1, -1)), "a tool result passes through untouched");
  t.true(leaksIn(JSON.stringify(result)).length > 0, "the leak detector sees the canary where it legitimately is");

  // --- crasher: started once (its tools are known), now crashes for good, printing the secret as its last words.
  const crashed = await client.client.callTool({ name: "crasher-crash", arguments: {} }).then(
    (value) => JSON.stringify(value),
    (error: unknown) => errorText(error),
  );
  assertNoCanary(t, "MCP answer of the call during which the server died", crashed);
  const failed = await waitUntil(async () => {
    const { servers: list } = await servers.listServers({});
    return list.find((server) => server.name === "crasher")?.state === ServerState.FAILED;
  }, 120_000);
  t.true(failed, "crasher crash-loops to FAILED");

  const failedCall = await client.client.callTool({ name: "crasher-leak_error", arguments: {} }).then(
    (value) => JSON.stringify(value),
    (error: unknown) => errorText(error),
  );
  t.regex(failedCall, /server \\?"crasher\\?" is failed; see `dsctl servers logs crasher`/, failedCall);
  t.notRegex(failedCall, /fatal|token|crashing with/, "no stderr text reaches an MCP client");
  assertNoCanary(t, "MCP error of a FAILED server's tool", failedCall);

  // --- The control API.
  const status = await gatewayApi.getStatus({});
  assertNoCanary(t, "GetStatus", protoJson(GetStatusResponseSchema, status));
  const list = await servers.listServers({});
  assertNoCanary(t, "ListServers", protoJson(ListServersResponseSchema, list));
  const crasher = list.servers.find((server) => server.name === "crasher");
  t.regex(crasher?.lastError ?? "", /fatal: token \*\*\* was rejected/, "lastError keeps the (masked) reason");
  for (const name of ["leaker", "crasher"]) {
    assertNoCanary(t, `GetServer(${name})`, protoJson(GetServerResponseSchema, await servers.getServer({ name })));
    const lines: string[] = [];
    for await (const message of servers.streamServerLogs({ name })) lines.push(protoJson(StreamServerLogsResponseSchema, message));
    t.true(lines.length > 10, `${name} has log lines`);
    t.true(lines.some((line) => line.includes("starting with basicAuth1: Basic ")), "stderr lines are kept, masked");
    assertNoCanary(t, `StreamServerLogs(${name})`, lines.join("\n"));
  }
  assertNoCanary(t, "McpService.ListTools", protoJson(ListToolsResponseSchema, await mcp.listTools({})));
  const logCall: string[] = [];
  for await (const message of mcp.callTool({ name: "leaker-leak_log", arguments: {} })) logCall.push(protoJson(CallToolResponseSchema, message));
  t.true(logCall.some((line) => line.includes('"log"')), logCall.join("\n"));
  assertNoCanary(t, "McpService.CallTool(leaker-leak_log) with its log event", logCall.join("\n"));
  for (const name of ["leaker-leak_error", "crasher-leak_error"]) {
    const answer: string[] = [];
    try {
      for await (const message of mcp.callTool({ name, arguments: {} })) answer.push(protoJson(CallToolResponseSchema, message));
      t.fail(`${name} over McpService.CallTool did not fail: ${answer.join("\n")}`);
    } catch (error) {
      answer.push(errorText(error));
    }
    assertNoCanary(t, `McpService.CallTool(${name})`, answer.join("\n"));
  }

  // --- dsctl, human and --json.
  const dsctlRuns = [
    ["status"],
    ["servers", "list"],
    ["servers", "get", "crasher"],
    ["servers", "get", "leaker"],
    ["servers", "logs", "crasher"],
    ["servers", "logs", "leaker"],
    ["tools", "list"],
    ["tools", "call", "leaker-leak_error"],
    ["tools", "call", "leaker-leak_log"],
    ["tools", "call", "crasher-leak_error"],
  ];
  for (const args of dsctlRuns) {
    for (const json of [false, true]) {
      const full = json ? [...args, "--json"] : args;
      const run = await gateway.dsctl(full);
      t.true(run.stdout.length + run.stderr.length > 0, `dsctl ${full.join(" ")} printed something`);
      assertNoCanary(t, `dsctl ${full.join(" ")}`, `${run.stdout}\n${run.stderr}`);
    }
  }
  const listedHuman = await gateway.dsctl(["servers", "list"]);
  t.regex(listedHuman.stdout, /crasher .*FAILED.*exited with code 1: fatal: token \*\*\* was rejected/, listedHuman.stdout);
  const callHuman = await gateway.dsctl(["tools", "call", "leaker-leak_error"]);
  t.not(callHuman.code, 0);
  t.regex(callHuman.stderr, /upstream rejected token \*\*\*/, callHuman.stderr);

  // --- argv of every process on the machine (the servers', the frontend's, the daemon's).
  const frontendPid = gateway.frontendPid();
  t.truthy(frontendPid, "the frontend runs");
  for (const { pid, argv } of everyCmdline()) assertNoCanary(t, `argv of pid ${pid}`, argv);

  watchController.abort();
  await watching;
  t.true(events.length > 0, "WatchEvents saw the crash loop");
  assertNoCanary(t, "WatchEvents", events.join("\n"));

  // --- Files under the state folder (debug logs included) while running, then after the gateway stopped.
  const checkFiles = (when: string): void => {
    const files = filesUnder(gateway.home);
    t.true(files.some((file) => file.endsWith(".log")), files.join("\n"));
    for (const file of files) assertNoCanary(t, `${when}: ${file.slice(gateway.home.length)}`, readFileSync(file).toString("utf8"));
  };
  checkFiles("running");
  await client.close();
  gateway.daemon.process.kill("SIGTERM");
  t.is((await gateway.daemon.exited).code, 0, "the daemon stops cleanly");
  checkFiles("stopped");
  assertNoCanary(t, "the daemon's and frontend's stdout and stderr", `${gateway.daemon.stdout()}\n${gateway.daemon.stderr()}`);
  await closeGateway();

  const empty = checked.filter((entry) => entry.length === 0 && !entry.outlet.startsWith("argv") && !entry.outlet.startsWith("the initialize"));
  t.deepEqual(empty, [], "every outlet checked had content");
  t.log(`${checked.length} outlets checked`);
});
