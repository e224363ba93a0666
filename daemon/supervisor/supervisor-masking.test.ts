import test from "ava";
import { GatewayError } from "../errors.js";
import { runManagementAction } from "../mcp/management-tools.js";
import { UpstreamRpcError } from "../upstream/types.js";
import { assertNoLeftovers, nodeFixture, supervisorForTest, waitForState } from "./test-support.js";

// The supervisor masks every piece of server text it hands on, in every common encoding: stderr lines, the
// failure reason (lastError), the server's self-description, its catalog, and its JSON-RPC error answers
// (message and data), its MCP log notifications. Tool results are the exception: they pass through untouched.

const secret = `Sv"Tok/+ é&${Date.now().toString(36)}`;
const bytes = Buffer.from(secret, "utf8");
const forms = [
  secret,
  secret.toUpperCase(),
  JSON.stringify(secret).slice(1, -1),
  encodeURIComponent(secret),
  bytes.toString("base64"),
  bytes.toString("base64url"),
  bytes.toString("hex"),
  Buffer.concat([Buffer.from("u:"), bytes]).toString("base64").slice(4, -4),
];
const leaks = (text: string): string[] => forms.filter((form) => text.toLowerCase().includes(form.toLowerCase()));

test("a server's error answers, catalog, identity, logs and failure reason are masked; its results are not", async (t) => {
  const { supervisor, spawned } = supervisorForTest(t, {
    servers: [nodeFixture("leaker", "secret-leaker.mjs", { env: { LEAKER_SECRET: secret } })],
  });
  await supervisor.start();
  await waitForState(t, supervisor, "leaker", "running");
  const connection = await supervisor.acquire("leaker");

  const error = await t.throwsAsync(connection.request("tools/call", { name: "leak_error", arguments: {} }), { instanceOf: UpstreamRpcError });
  t.is(error?.code, -32603, "the server's code is kept");
  t.regex(error?.message ?? "", /^upstream rejected token \*\*\* \(\*\*\*, Basic /);
  const data = error?.data as Record<string, string>;
  t.is(data.secret, "***");
  t.is(data.hexUpper, "***");
  t.deepEqual(leaks(JSON.stringify({ message: error?.message, data })), []);

  const result = await connection.request("tools/call", { name: "leak_result", arguments: {} });
  t.is((result.content as Array<{ text: string }>)[0]!.text, `the secret is ${secret}`, "tool results pass through untouched");

  const logged: unknown[] = [];
  connection.setHandlers({
    onNotification: (method, params) => {
      if (method === "notifications/message") logged.push(params);
    },
    onRequest: async () => ({}),
  });
  await connection.request("tools/call", { name: "leak_log", arguments: {} });
  t.like(logged[0], { level: "error", logger: "leaker", data: { message: "token *** rejected", raw: "***", base64: "***" } });
  t.deepEqual(leaks(JSON.stringify(logged)), [], "MCP log notifications are logs: masked");

  const snapshot = supervisor.get("leaker");
  t.is(snapshot.identity?.instructions, "authenticate with ***");
  const crashTool = supervisor.catalog("leaker")?.tools.find((tool) => tool.name === "crash");
  t.is(crashTool?.description, "Crashes for good (uses token ***)");
  t.deepEqual(leaks(JSON.stringify({ snapshot, catalog: supervisor.catalog("leaker") })), []);

  await connection.request("tools/call", { name: "crash", arguments: {} }).catch(() => undefined);
  const crashed = await waitForState(t, supervisor, "leaker", "backoff");
  t.regex(crashed.lastError ?? "", /^exited with code 1\n(.|\n)*fatal: token \*\*\* expired$/);
  const log = supervisor.log("leaker").tail().map((entry) => entry.text);
  t.true(
    log.some((line) => /^crashing with basicAuth1: Basic [A-Za-z0-9+/]{0,3}\*\*\*[A-Za-z0-9+/]*=*$/.test(line)),
    "inside a longer base64 text, only the characters mixing in the neighbours' bits remain",
  );
  t.deepEqual(leaks(JSON.stringify({ lastError: crashed.lastError, log })), []);

  await supervisor.disable("leaker");
  const refused = await t.throwsAsync(supervisor.acquire("leaker"), { instanceOf: GatewayError });
  t.is(refused?.message, 'server "leaker" is disabled');
  await supervisor.shutdown();
  await assertNoLeftovers(t, spawned);
});

test("what MCP clients learn of a failed server carries no stderr: the call's error and the management tool's status", async (t) => {
  const { supervisor, spawned } = supervisorForTest(t, {
    servers: [nodeFixture("broken", "crash-on-start.mjs")],
    restartPolicy: { initialDelayMs: 1, maxDelayMs: 1, jitter: 0 },
  });
  await supervisor.start();
  const failed = await waitForState(t, supervisor, "broken", "failed");
  t.regex(failed.lastError ?? "", /\nfatal: missing API_KEY/, "the operator's view keeps the stderr reason");
  const refused = await t.throwsAsync(supervisor.acquire("broken"), { instanceOf: GatewayError });
  t.is(refused?.message, 'server "broken" is failed; see `dsctl servers logs broken` for why');
  const status = await runManagementAction(supervisor, "broken", { action: "status" });
  const text = JSON.stringify(status);
  t.false(text.includes("API_KEY"), text);
  t.regex((status.structuredContent as { lastError: string }).lastError, /^crash loop: .*; last: exited with code 1 \(its output: `dsctl servers logs broken`\)$/);
  await supervisor.shutdown();
  await assertNoLeftovers(t, spawned);
});
