import test from "ava";
import { buildChildEnv, spawnChild, type ChildHandle } from "../supervisor/child-process.js";
import { fixturePath, serverEverythingPath, trackGroups, waitFor } from "../supervisor/test-support.js";
import type { ServerCatalog } from "../supervisor/types.js";
import { watchCatalog } from "./catalog.js";
import { createUpstreamConnection } from "./connection.js";
import { createStdioMessageTransport } from "./stdio-transport.js";

async function connectTo(t: import("ava").ExecutionContext, name: string, command: string, args: string[], env: Record<string, string> = {}) {
  const track = trackGroups(t);
  const child: ChildHandle = spawnChild({ command, args, env: buildChildEnv(env) });
  track(child.pid);
  t.teardown(() => child.stop({ stdinGraceMs: 500, termGraceMs: 1000 }).then(() => undefined));
  child.process.stderr!.resume();
  const transport = createStdioMessageTransport({ input: child.process.stdin!, output: child.process.stdout! });
  const connection = await createUpstreamConnection({ serverName: name, transport });
  t.teardown(() => connection.close());
  return { child, connection };
}

test("python server over stdio: handshake, paginated tools, list_changed refresh seen by the engine too", async (t) => {
  const { connection } = await connectTo(t, "py", "python3", [fixturePath("python-server.py")], { PAGE_SIZE: "2" });
  t.is(connection.identity.serverInfo.name, "fixture-python");
  const catalogs: ServerCatalog[] = [];
  const engineSaw: string[] = [];
  connection.setHandlers({ onNotification: (method) => engineSaw.push(method), onRequest: async () => ({}) });
  const watcher = watchCatalog(connection, { onCatalog: (catalog) => catalogs.push(catalog) });
  const first = await watcher.ready;
  t.deepEqual(
    first.tools.map((tool) => tool.name),
    ["echo", "env_get", "add_tool"],
    "all pages merged",
  );
  t.deepEqual(first.prompts, [], "prompts not declared, not asked");
  const added = await connection.request("tools/call", { name: "add_tool", arguments: {} });
  t.deepEqual(added, { content: [{ type: "text", text: "added_3" }] });
  t.true(await waitFor(() => watcher.current.tools.length === 4));
  t.is(watcher.current.tools[3].name, "added_3");
  t.true(engineSaw.includes("notifications/tools/list_changed"));
  t.is(catalogs.length, 2);
});

test("server-everything over stdio: handshake and the full catalog", async (t) => {
  const { connection } = await connectTo(t, "everything", process.execPath, [serverEverythingPath, "stdio"]);
  t.is(connection.identity.serverInfo.name, "mcp-servers/everything");
  const watcher = watchCatalog(connection, { onCatalog: () => {} });
  const catalog = await watcher.ready;
  const names = catalog.tools.map((tool) => tool.name);
  t.true(names.includes("echo"), names.join(","));
  t.true(catalog.prompts.length > 0);
  t.true(catalog.resources.length > 0);
  t.true(catalog.resourceTemplates.length > 0);
  const echoed = await connection.request("tools/call", { name: "echo", arguments: { message: "hello" } });
  t.deepEqual(echoed.content, [{ type: "text", text: "Echo: hello" }]);
});
