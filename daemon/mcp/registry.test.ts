import test from "ava";
import { GatewayError } from "../errors.js";
import { createRegistry } from "./registry.js";
import { createMemorySupervisor } from "./testing/memory-supervisor.js";
import { createProbe, createTestServer } from "./testing/test-server.js";

async function started(t: import("ava").ExecutionContext, specs: Parameters<typeof createMemorySupervisor>[0]) {
  const supervisor = createMemorySupervisor(specs);
  t.teardown(() => supervisor.shutdown());
  await supervisor.start();
  return supervisor;
}

test("merges tools and prompts of all servers under prefixed names; definitions pass through except name", async (t) => {
  const supervisor = await started(t, [
    { name: "alpha", create: () => createTestServer("alpha", createProbe()) },
    { name: "beta", prefix: "b", create: () => createTestServer("beta", createProbe()) },
  ]);
  const registry = createRegistry({ supervisor });
  t.teardown(() => registry.close());
  const names = registry.tools().map((tool) => tool.exposedName);
  t.true(names.includes("alpha-echo"));
  t.true(names.includes("b-echo"));
  t.deepEqual(names, [...names].sort());
  const echo = registry.resolveTool("b-echo");
  t.is(echo.server, "beta");
  t.is(echo.upstreamName, "echo");
  const upstream = supervisor.catalog("beta")!.tools.find((tool) => tool.name === "echo")!;
  t.deepEqual(echo.definition, { ...upstream, name: "b-echo" });
  t.is((echo.definition._meta as Record<string, unknown>)["example.com/origin"], "beta");
  t.deepEqual(registry.prompts().map((p) => p.exposedName), ["alpha-greet", "b-greet"]);
  t.is(registry.tools("alpha").every((tool) => tool.server === "alpha"), true);
});

test("routes resources by exact URI and by template", async (t) => {
  const supervisor = await started(t, [
    { name: "alpha", create: () => createTestServer("alpha", createProbe()) },
    { name: "beta", create: () => createTestServer("beta", createProbe()) },
  ]);
  const registry = createRegistry({ supervisor });
  t.teardown(() => registry.close());
  t.is(registry.resolveResource("mem://beta/readme"), "beta");
  t.is(registry.resolveResource("mem://alpha/items/42"), "alpha");
  t.is(registry.resolveResource("mem://beta/items/x"), "beta");
  const error = t.throws(() => registry.resolveResource("mem://gamma/readme"), { instanceOf: GatewayError });
  t.is(error?.kind, "not_found");
  t.deepEqual(registry.resourceTemplates().map((r) => r.uriTemplate).sort(), ["mem://alpha/items/{id}", "mem://beta/items/{id}"]);
  t.deepEqual(registry.resolveCompletion({ type: "ref/resource", uri: "mem://beta/items/{id}" }), {
    server: "beta",
    ref: { type: "ref/resource", uri: "mem://beta/items/{id}" },
  });
  t.deepEqual(registry.resolveCompletion({ type: "ref/prompt", name: "alpha-greet" }), {
    server: "alpha",
    ref: { type: "ref/prompt", name: "greet" },
  });
});

test("policy: denied tools are absent from lists and resolve to permission_denied", async (t) => {
  const supervisor = await started(t, [{ name: "alpha", create: () => createTestServer("alpha", createProbe()) }]);
  const registry = createRegistry({
    supervisor,
    policy: { decide: (tool) => (tool.exposedName === "alpha-fail" ? { allowed: false, rule: 'deny "alpha-fail"' } : { allowed: true, rule: "allow *" }) },
  });
  t.teardown(() => registry.close());
  t.false(registry.tools().some((tool) => tool.exposedName === "alpha-fail"));
  const error = t.throws(() => registry.resolveTool("alpha-fail"), { instanceOf: GatewayError });
  t.is(error?.kind, "permission_denied");
  t.regex(error!.message, /alpha-fail/);
  const changes: string[][] = [];
  registry.onChange((kinds) => changes.push([...kinds]));
  registry.setPolicy({ decide: () => ({ allowed: true, rule: "allow *" }) });
  t.true(registry.tools().some((tool) => tool.exposedName === "alpha-fail"));
  t.deepEqual(changes, [["tools"]]);
});

test("seeded catalogs: task-only tools are hidden, a disabled server's items resolve to an error naming it", async (t) => {
  const supervisor = await started(t, [
    { name: "alpha", create: () => createTestServer("alpha", createProbe()) },
    { name: "cold", enabled: false, create: () => createTestServer("cold", createProbe()) },
  ]);
  const registry = createRegistry({ supervisor });
  t.teardown(() => registry.close());
  t.false(registry.hasSeeds());
  registry.replaceSeeds(
    new Map([
      [
        "cold",
        {
          tools: [
            { name: "normal", inputSchema: { type: "object" } },
            { name: "tasky", inputSchema: { type: "object" }, execution: { taskSupport: "required" } },
            { name: "maybe-task", inputSchema: { type: "object" }, execution: { taskSupport: "optional" } },
          ],
          prompts: [],
          resources: [],
          resourceTemplates: [],
        },
      ],
    ]),
  );
  t.true(registry.hasSeeds(), "the daemon gives clients a head start before spawning servers when this holds");
  t.false(registry.tools().some((tool) => tool.server === "cold"), "disabled server hidden from lists");
  const error = t.throws(() => registry.resolveTool("cold-normal"), { instanceOf: GatewayError });
  t.is(error?.kind, "unavailable");
  t.regex(error!.message, /server "cold" is disabled/);
  t.is(t.throws(() => registry.resolveTool("cold-tasky"), { instanceOf: GatewayError })?.kind, "not_found");
  t.is(t.throws(() => registry.resolveTool("cold-maybe-task"), { instanceOf: GatewayError })?.kind, "unavailable");
  const changes: string[][] = [];
  registry.onChange((kinds) => changes.push([...kinds]));
  await supervisor.enable("cold");
  t.true(changes.some((kinds) => kinds.includes("tools")));
  const visible = registry.tools("cold").map((tool) => tool.exposedName);
  t.true(visible.includes("cold-echo"), "the live catalog replaces the seed");
  t.false(visible.includes("cold-normal"));
});

test("follows list changes of a server", async (t) => {
  const supervisor = await started(t, [{ name: "alpha", create: () => createTestServer("alpha", createProbe()) }]);
  const registry = createRegistry({ supervisor });
  t.teardown(() => registry.close());
  const changed = new Promise<ReadonlySet<string>>((resolve) => registry.onChange(resolve));
  supervisor.server("alpha")!.registerTool("late", { description: "added later" }, async () => ({ content: [] }));
  t.true((await changed).has("tools"));
  t.truthy(registry.resolveTool("alpha-late"));
});
