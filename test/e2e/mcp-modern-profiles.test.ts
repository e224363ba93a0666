import anyTest, { type TestFn } from "ava";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fixtureServer, startDaemon, tempHome, waitForRunning, waitUntil } from "./helpers/daemon-process.js";
import { createHookScope, type HookScope } from "./helpers/mcp-gateway.js";
import { rawRequest, type RawResponse } from "./helpers/mcp-raw-http.js";

/**
 * Modern requests at `/mcp/<profile>`: confined to the profile like a session (lists, calls refused like unknown
 * tools), an unknown profile is 404, a search-mode profile serves its meta-tools; and trace context in `_meta`
 * reaches a modern server while the client's own description of itself does not.
 */

interface Context {
  scope: HookScope;
  base: string;
}

const test = anyTest as TestFn<Context>;
type Json = Record<string, any>;
const META = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientCapabilities": {},
  "io.modelcontextprotocol/clientInfo": { name: "raw-modern-profiles", version: "1" },
};

test.before(async (t) => {
  const scope = createHookScope();
  t.context = { scope, base: "" };
  const home = tempHome(scope.context);
  const configPath = join(home, "team.json");
  const server = (name: string, file = "normal-server.mjs") => ({ name, command: "node", args: [fixtureServer(file), "--name", name] });
  writeFileSync(
    configPath,
    JSON.stringify({
      defaultTeam: "e2e",
      teams: [
        {
          id: "e2e",
          name: "Profiles",
          servers: [server("alpha"), server("beta"), server("modern", "modern-server.mjs")],
          profiles: { a: { servers: ["alpha"] }, find: { tools: "search" } },
        },
      ],
    }),
  );
  const daemon = await startDaemon(scope.context, { home, configPath });
  await waitForRunning(daemon, ["alpha", "beta", "modern"]);
  let url = "";
  await waitUntil(async () => {
    const status = await daemon.clients.gateway.getStatus({});
    url = status.mcpUrl;
    return status.frontendRunning && url !== "";
  });
  t.context = { scope, base: url };
});

test.after.always(async (t) => {
  await t.context.scope?.close();
});

function post(url: string, id: number, method: string, params: Json = {}): Promise<RawResponse> {
  const name = params.name ?? params.uri;
  return rawRequest({
    method: "POST",
    url,
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": method,
      ...(typeof name === "string" ? { "mcp-name": name } : {}),
    },
    body: JSON.stringify({ jsonrpc: "2.0", id, method, params: { ...params, _meta: { ...META, ...params._meta } } }),
  });
}

const json = (answer: RawResponse): Json => JSON.parse(answer.body) as Json;

test("a profile confines modern requests; an unknown profile is 404", async (t) => {
  const { base } = t.context;
  const tools = (json(await post(`${base}/a`, 1, "tools/list")).result.tools as Json[]).map((tool) => tool.name);
  t.true(tools.length > 0 && tools.every((name) => name.startsWith("alpha-")), tools.join(", "));
  const outside = json(await post(`${base}/a`, 2, "tools/call", { name: "beta-echo", arguments: { text: "x" } }));
  t.is(outside.error.code, -32602, "a tool outside the profile is refused like an unknown one");
  const inside = json(await post(`${base}/a`, 3, "tools/call", { name: "alpha-echo", arguments: { text: "in a" } }));
  t.true(JSON.stringify(inside.result.content).includes("in a"));
  const bare = (json(await post(base, 4, "tools/list")).result.tools as Json[]).map((tool) => tool.name);
  t.true(bare.some((name) => name.startsWith("beta-")), "the bare path serves every tool");
  const unknown = await post(`${base}/nope`, 5, "tools/list");
  t.is(unknown.status, 404, unknown.body);
});

test("a search-mode profile serves find_tools and call_tool to modern clients", async (t) => {
  const { base } = t.context;
  const names = (json(await post(`${base}/find`, 1, "tools/list")).result.tools as Json[]).map((tool) => tool.name);
  t.deepEqual(names.sort(), ["call_tool", "find_tools"]);
  const found = json(await post(`${base}/find`, 2, "tools/call", { name: "find_tools", arguments: { query: "echo" } }));
  t.true(JSON.stringify(found.result).includes("echo"));
  const called = json(await post(`${base}/find`, 3, "tools/call", { name: "call_tool", arguments: { name: "alpha-echo", arguments: { text: "via call_tool" } } }));
  t.true(JSON.stringify(called.result).includes("via call_tool"));
});

test("traceparent and tracestate in _meta reach the server, with the client's capabilities; the client's identity does not", async (t) => {
  const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  const answer = json(await post(t.context.base, 1, "tools/call", { name: "modern-meta", arguments: {}, _meta: { traceparent, tracestate: "vendor=1" } }));
  const seen = JSON.parse(answer.result.content[0].text) as Json;
  t.regex(String(seen.traceparent), /^00-0af7651916cd43dd8448eb211c80319c-/, "the client's trace continues upstream");
  t.is(seen.tracestate, "vendor=1");
  t.not(seen["io.modelcontextprotocol/clientInfo"]?.name, "raw-modern-profiles", "the server sees the gateway, not the client");
  t.deepEqual(seen["io.modelcontextprotocol/clientCapabilities"], {}, "but the capabilities of the client that answers its input requests");
});
