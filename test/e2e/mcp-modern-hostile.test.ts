import anyTest, { type TestFn } from "ava";
import { fixtureServer, startDaemon, tempHome, waitForRunning, waitUntil, writeTeamFile, type DaemonProcess } from "./helpers/daemon-process.js";
import { createHookScope, type HookScope } from "./helpers/mcp-gateway.js";
import { rawRequest, type RawResponse } from "./helpers/mcp-raw-http.js";

/**
 * A hostile upstream (test/fixtures/servers/hostile-server.mjs) against modern (stateless) requests: what it sprays
 * (guessed progress tokens, cancellations and responses) never reaches a modern request's stream, its secret never
 * leaves in a modern answer, and a call it never answers is given up by closing the response without harming the
 * next request. Serial: the server's sprayed responses to guessed ids may answer its own calls of another test.
 */

interface Context {
  scope: HookScope;
  daemon: DaemonProcess;
  url: string;
}

const test = anyTest as TestFn<Context>;
type Json = Record<string, any>;
const SECRET = "modern-hostile-secret-4242";
const META = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientCapabilities": {},
  "io.modelcontextprotocol/clientInfo": { name: "raw-modern-hostile", version: "1" },
};

test.before(async (t) => {
  const scope = createHookScope();
  const home = tempHome(scope.context);
  const configPath = writeTeamFile(home, [
    { name: "kb", args: [fixtureServer("hostile-server.mjs"), "--name", "kb"], env: { HOSTILE_SECRET: SECRET } },
    { name: "fixture", args: [fixtureServer("normal-server.mjs"), "--name", "fixture"] },
  ]);
  t.context = { scope } as Context;
  const daemon = await startDaemon(scope.context, { home, configPath });
  await waitForRunning(daemon, ["kb", "fixture"]);
  let url = "";
  await waitUntil(async () => {
    const status = await daemon.clients.gateway.getStatus({});
    url = status.mcpUrl;
    return status.frontendRunning && url !== "";
  });
  t.context = { scope, daemon, url };
});

test.after.always(async (t) => {
  await t.context.scope?.close();
});

function call(url: string, id: number, name: string, args: Json, meta: Json = {}, readTimeoutMs?: number): Promise<RawResponse> {
  return rawRequest({
    method: "POST",
    url,
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": "tools/call",
      "mcp-name": name,
    },
    body: JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args, _meta: { ...META, ...meta } } }),
    ...(readTimeoutMs !== undefined ? { readTimeoutMs } : {}),
  });
}

/** Posts a call and aborts it after `ms`; true when no answer had come by then. */
function giveUpAfter(url: string, id: number, name: string, ms: number): Promise<boolean> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ms);
  return fetch(url, {
    method: "POST",
    signal: controller.signal,
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": name },
    body: JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: {}, _meta: META } }),
  }).then(
    async (response) => {
      await response.text();
      clearTimeout(timer);
      return false;
    },
    () => true,
  );
}

async function logOf(daemon: DaemonProcess, name: string): Promise<string> {
  const lines: string[] = [];
  for await (const message of daemon.clients.servers.streamServerLogs({ name, follow: false })) if (message.line) lines.push(message.line.text);
  return lines.join("\n");
}

const messagesOf = (answer: RawResponse): Json[] =>
  String(answer.headers["content-type"]).includes("event-stream")
    ? answer.body
        .split("\n")
        .filter((line) => line.startsWith("data: ") && line.length > 6)
        .map((line) => JSON.parse(line.slice(6)) as Json)
    : [JSON.parse(answer.body) as Json];

test.serial("sprayed progress, cancellations and responses never reach a modern request's stream", async (t) => {
  const answer = await call(t.context.url, 1, "kb-spray_progress", { count: 50 }, { progressToken: "mine" });
  const messages = messagesOf(answer);
  const last = messages.at(-1)!;
  t.is(last.id, 1);
  t.is(last.result.resultType, "complete");
  for (const message of messages.slice(0, -1)) {
    t.is(message.method, "notifications/progress");
    t.is(message.params.progressToken, "mine", "only this request's own token");
  }
  t.is(messages.filter((m) => "id" in m).length, 1, "one response, the request's own");
});

test.serial("a server's secret never leaves in a modern error answer", async (t) => {
  // (A result, isError or not, passes through untouched, as for every client: only the gateway's own outlets mask.)
  for (const [id, how] of [[2, "error"]] as const) {
    const answer = await call(t.context.url, id, "kb-leak", { how });
    t.false(answer.body.includes(SECRET), how);
    t.false(answer.body.includes(Buffer.from(SECRET).toString("base64")), `${how} (base64)`);
    const message = messagesOf(answer).at(-1)!;
    t.is(message.id, id);
  }
});

test.serial("a call the server never answers is given up by closing the response; the gateway serves the next request", async (t) => {
  // The client gives up after a second and closes its request, headers or not.
  const gaveUp = await giveUpAfter(t.context.url, 4, "kb-hang", 1_000);
  t.true(gaveUp, "no answer came: the client gave up and closed the response");
  t.true(await waitUntil(async () => (await logOf(t.context.daemon, "kb")).includes("hang: called"), 30_000));
  const next = await call(t.context.url, 5, "fixture-echo", { text: "still here" });
  t.is(next.status, 200);
  t.true(next.body.includes("still here"));
  const again = await call(t.context.url, 6, "kb-echo", { text: "kb still serves" });
  t.true(again.body.includes("kb still serves"));
});
