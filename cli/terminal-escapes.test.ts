import test from "ava";
import { create, fromJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { CallToolResponseSchema, McpService } from "../gen/deploystack/gateway/v1/mcp_service_pb.js";
import { ServerService } from "../gen/deploystack/gateway/v1/server_service_pb.js";
import { callTool } from "./commands/tools.js";
import { listServers, serverLogs } from "./commands/servers.js";
import { runVerb } from "./dial.js";
import { createCapturedIo } from "./io.js";
import { createFakeDaemonState, fakeDaemonRoutes } from "./testing/fake-services.js";

/**
 * Strings from servers and the cloud reach the terminal with their control characters escaped (issue "terminal
 * escapes"): an upstream that prints `ESC ] 52` (clipboard) or `ESC [ 2J` (clear screen) cannot act on the user's
 * terminal through dsctl. `--json` output keeps the exact values.
 */

const HOSTILE = "\u001b]52;c;cGF3bmVk\u0007\u001b[2Jgone\u009b31m\u202e";
/** Any byte a terminal would act on, newline and tab aside. */
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e]/;

test("servers logs and servers list print server text escaped; --json keeps it exact", async (t) => {
  const state = createFakeDaemonState();
  state.logs.splice(0, state.logs.length, `stderr says ${HOSTILE}\tcolumn`);
  state.servers.get("memory")!.lastError = `exited with code 1\nError: ${HOSTILE}`;
  const client = createClient(ServerService, createRouterTransport(fakeDaemonRoutes(state)));
  const logs = createCapturedIo();
  t.is(await serverLogs(client, { name: "memory" }, logs), 0);
  t.false(RAW_CONTROL.test(logs.out()));
  t.regex(logs.out(), /stderr says \\x1b\]52;c;cGF3bmVk\\x07\\x1b\[2Jgone\\u009b31m\\u202e\tcolumn\n$/);
  const list = createCapturedIo();
  t.is(await listServers(client, {}, list), 0);
  t.false(RAW_CONTROL.test(list.out()));
  t.regex(list.out(), /\\x1b\[2Jgone/);
  const json = createCapturedIo();
  await serverLogs(client, { name: "memory", json: true }, json);
  t.is((JSON.parse(json.out()) as { line: { text: string } }).line.text, `stderr says ${HOSTILE}\tcolumn`);
});

test("tools call: progress, log messages, the result and a server's error message are escaped in human mode", async (t) => {
  const transport = createRouterTransport((router) => {
    router.service(McpService, {
      async *callTool(request) {
        if (request.name === "fails") throw new ConnectError(`upstream error: ${HOSTILE}`, Code.FailedPrecondition);
        yield create(CallToolResponseSchema, { event: { case: "progress", value: { progress: 1, total: 2, message: `step ${HOSTILE}` } } });
        yield create(CallToolResponseSchema, { event: { case: "log", value: { level: "info", logger: "x", data: fromJson(ValueSchema, `log ${HOSTILE}`) } } });
        yield create(CallToolResponseSchema, { event: { case: "result", value: { content: [{ type: "text", text: `result ${HOSTILE}` }] } } });
      },
    });
  });
  const client = createClient(McpService, transport);
  const io = createCapturedIo();
  t.is(await callTool(client, { name: "ok" }, io), 0);
  t.false(RAW_CONTROL.test(io.out()), "stdout");
  t.false(RAW_CONTROL.test(io.err()), "stderr");
  t.regex(io.err(), /progress 1\/2 step \\x1b\]52/);
  t.regex(io.err(), /log \[info\] x: log \\x1b\]52/);
  t.deepEqual(JSON.parse(io.out()), { content: [{ type: "text", text: `result ${HOSTILE}` }] }, "the human result is still JSON");
  const failed = createCapturedIo();
  t.is(await runVerb(failed, "/sock", () => callTool(client, { name: "fails" }, failed)), 1);
  t.false(RAW_CONTROL.test(failed.err()));
  t.regex(failed.err(), /upstream error: \\x1b\]52;c;cGF3bmVk\\x07/);
  const json = createCapturedIo();
  await callTool(client, { name: "ok", json: true }, json);
  const lines = json.out().trim().split("\n").map((line) => JSON.parse(line) as { result?: { content: Array<{ text: string }> } });
  t.is(lines.at(-1)?.result?.content[0].text, `result ${HOSTILE}`, "--json keeps the exact text");
});
