import test, { type ExecutionContext } from "ava";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { silentLogger } from "../../shared/logger.js";
import { createAccessPolicy } from "../policy/access-policy.js";
import { createMcpEngine, type McpEngineOptions } from "./engine.js";
import { isManagementToolName, managementToolName } from "./management-tools.js";
import { createMemorySupervisor, type MemoryServerSpec } from "./testing/memory-supervisor.js";
import { SessionClientTransport } from "./testing/session-harness.js";
import { createProbe, createTestServer } from "./testing/test-server.js";

type Json = Record<string, any>;

const defaultSpecs: MemoryServerSpec[] = [
  { name: "alpha", create: () => createTestServer("alpha", createProbe()) },
  { name: "beta", create: () => createTestServer("beta", createProbe()) },
];

async function setup(t: ExecutionContext, options: Partial<McpEngineOptions> = {}, specs = defaultSpecs) {
  const supervisor = createMemorySupervisor(specs);
  await supervisor.start();
  const engine = createMcpEngine({ supervisor, logger: silentLogger, version: "1.0.0", listChangedDebounceMs: 5, ...options });
  t.teardown(async () => {
    engine.close();
    await supervisor.shutdown();
  });
  const client = new Client({ name: "admin-ide", version: "1" });
  let listChanged = 0;
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => void listChanged++);
  await client.connect(new SessionClientTransport(engine));
  t.teardown(() => client.close());
  return { engine, supervisor, client, listChangedCount: () => listChanged };
}

async function toolNames(client: Client): Promise<string[]> {
  return (await client.listTools()).tools.map((tool) => tool.name);
}

async function eventually(predicate: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return predicate();
}

test("names: <server>-manage, and the policy predicate recognises that shape", (t) => {
  t.is(managementToolName("postgres"), "postgres-manage");
  t.true(isManagementToolName("postgres-manage"));
  t.false(isManagementToolName("postgres-query"));
  t.false(isManagementToolName("-manage"));
  t.false(isManagementToolName("postgres-manage_1a2b3c"), "a renamed server tool is not taken for one");
});

test("off by default; turned on, every server gets one tool and sessions are told the list changed", async (t) => {
  const { engine, client, listChangedCount } = await setup(t);
  t.false((await toolNames(client)).some((name) => name.endsWith("-manage")));
  engine.setManagementTools(true);
  t.true(await eventually(() => listChangedCount() >= 1), "tools/list_changed");
  const tools = (await client.listTools()).tools;
  const manage = tools.filter((tool) => tool.name.endsWith("-manage"));
  t.deepEqual(manage.map((tool) => tool.name), ["alpha-manage", "beta-manage"]);
  t.deepEqual(manage[0]!.inputSchema.required, ["action"]);
  t.deepEqual((manage[0]!.inputSchema.properties as Json).action.enum, ["enable", "disable", "status"]);
  t.truthy(manage[0]!.outputSchema);
  t.true(engine.isManagementTool("alpha-manage"));
  t.false(engine.isManagementTool("alpha-echo"));
  engine.setManagementTools(false);
  t.true(await eventually(async () => !(await toolNames(client)).includes("alpha-manage")));
  t.false(engine.isManagementTool("alpha-manage"));
});

test("status, disable and enable act on the supervisor as dsctl servers get|disable|enable do", async (t) => {
  const { client, supervisor } = await setup(t, { managementTools: true });
  const status = (await client.callTool({ name: "alpha-manage", arguments: { action: "status" } })) as Json;
  t.falsy(status.isError);
  t.like(status.structuredContent, { server: "alpha", action: "status", state: "running", enabled: true, restarts: 0 });
  t.true(status.structuredContent.toolCount > 0);
  t.regex(status.content[0].text, /^server "alpha" is running, enabled/);

  const disabled = (await client.callTool({ name: "alpha-manage", arguments: { action: "disable" } })) as Json;
  t.like(disabled.structuredContent, { server: "alpha", action: "disable", state: "stopped", enabled: false });
  t.like(supervisor.get("alpha"), { state: "stopped", enabled: false });
  const whileDisabled = await toolNames(client);
  t.false(whileDisabled.includes("alpha-echo"), "the server's tools are gone");
  t.true(whileDisabled.includes("alpha-manage"), "its management tool stays, to enable it again");
  const refused = (await client.callTool({ name: "alpha-echo", arguments: { text: "x" } }).catch((error: unknown) => ({ error }))) as Json;
  t.regex(String(refused.error ?? refused.content?.[0]?.text), /server "alpha" is disabled/);

  const enabled = (await client.callTool({ name: "alpha-manage", arguments: { action: "enable" } })) as Json;
  t.like(enabled.structuredContent, { server: "alpha", action: "enable", state: "running", enabled: true });
  const echoed = (await client.callTool({ name: "alpha-echo", arguments: { text: "back" } })) as Json;
  t.is(echoed.content[0].text, "alpha:back");
});

test("a bad action is a tool error the model can read; the typed CallTool path runs the same tool", async (t) => {
  const { client, engine } = await setup(t, { managementTools: true });
  const bad = (await client.callTool({ name: "beta-manage", arguments: { action: "explode" } })) as Json;
  t.true(bad.isError);
  t.is(bad.content[0].text, 'invalid action "explode": expected one of enable, disable, status');
  const typed = await engine.callTool("beta-manage", { action: "status" });
  t.like(typed.structuredContent as Json, { server: "beta", state: "running", enabled: true });
});

test("a server tool named like a management tool is renamed, the management tool keeps its name", async (t) => {
  const withManage = (): McpServer => {
    const server = createTestServer("alpha", createProbe());
    server.registerTool("manage", { description: "the server's own manage tool" }, async () => ({ content: [{ type: "text", text: "own manage" }] }));
    return server;
  };
  const { client, engine } = await setup(t, { managementTools: true }, [{ name: "alpha", create: withManage }]);
  const names = await toolNames(client);
  const renamed = names.find((name) => /^alpha-manage_[0-9a-f]{6}$/.test(name));
  t.truthy(renamed, names.join(", "));
  t.true(names.includes("alpha-manage"));
  t.deepEqual(engine.registry.collisions(), [
    { wantedName: "alpha-manage", keptServer: "alpha", renamedServer: "alpha", renamedItem: "manage", assignedName: renamed! },
  ]);
  t.true(engine.isManagementTool("alpha-manage"));
  t.false(engine.isManagementTool(renamed!));
  const own = (await client.callTool({ name: renamed!, arguments: {} })) as Json;
  t.is(own.content[0].text, "own manage");
  const managed = (await client.callTool({ name: "alpha-manage", arguments: { action: "status" } })) as Json;
  t.is(managed.structuredContent.server, "alpha");
});

test("management tools go through the access policy: admins by default, not users", async (t) => {
  const policy = { allow: ["*"], deny: [], roles: {}, managementTools: true };
  const { client, engine } = await setup(t, {
    managementTools: true,
    policy: createAccessPolicy(policy, "team_user", { team: "demo", isManagementTool: isManagementToolName }),
  });
  const asUser = await toolNames(client);
  t.false(asUser.some((name) => name.endsWith("-manage")), asUser.join(", "));
  t.true(asUser.includes("alpha-echo"));
  const refused = await client.callTool({ name: "alpha-manage", arguments: { action: "disable" } }).then(
    (result) => ({ result }),
    (error: unknown) => ({ error: String(error) }),
  );
  t.regex(JSON.stringify(refused), /not allowed by the team policy/);
  t.like(engine.registry.tools().find((tool) => tool.exposedName === "alpha-echo"), { server: "alpha" });

  engine.registry.setPolicy(createAccessPolicy(policy, "team_admin", { team: "demo", isManagementTool: engine.isManagementTool }));
  t.true(await eventually(async () => (await toolNames(client)).includes("alpha-manage")));
  const status = (await client.callTool({ name: "alpha-manage", arguments: { action: "status" } })) as Json;
  t.is(status.structuredContent.state, "running");
});
