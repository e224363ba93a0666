import anyTest, { type TestFn } from "ava";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import * as z from "zod";
import { isAlive, waitUntil } from "./helpers/daemon-process.js";
import {
  connectDirectEverything,
  connectGatewayClient,
  HTTP_TRANSPORT_KINDS,
  type HttpTransportKind,
  type RecordingClient,
} from "./helpers/mcp-clients.js";
import { startGateway, teamFile, type Gateway } from "./helpers/mcp-gateway.js";

/**
 * The whole MCP surface through the whole running gateway (daemon + koa frontend + real servers),
 * once over Streamable HTTP and once over legacy HTTP+SSE, compared with a direct stdio connection
 * to the same server (MCP 2025-11-25 "Server Features"): tools (names, schemas, every kind of
 * result), resources, templates, prompts, completion, logging levels and subscriptions, routed to
 * three servers (server-everything, server-memory and the fixture) by exposed name or by URI.
 */

interface Context {
  gateway: Gateway;
  direct: RecordingClient;
}

const test = anyTest as TestFn<Context>;

type Json = Record<string, unknown>;

test.before(async (t) => {
  const gateway = await startGateway({ configPath: teamFile("mcp-gateway.yaml"), servers: ["everything", "memory", "fixture"] });
  try {
    t.context = { gateway, direct: await connectDirectEverything() };
  } catch (error) {
    await gateway.close();
    throw error;
  }
});

test.after.always(async (t) => {
  const directPid = (t.context.direct?.transport as StdioClientTransport | undefined)?.pid;
  await t.context.direct?.close();
  await t.context.gateway?.close();
  if (typeof directPid === "number" && !(await waitUntil(() => !isAlive(directPid), 30_000))) {
    throw new Error(`the direct server-everything process ${directPid} outlived the file`);
  }
});

async function connect(t: { context: Context; teardown(fn: () => unknown): void }, kind: HttpTransportKind, name?: string) {
  const client = await connectGatewayClient(t.context.gateway, kind, { name });
  t.teardown(() => client.close());
  return client;
}

async function allTools(client: Client): Promise<Json[]> {
  const tools: Json[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor ? { cursor } : {});
    tools.push(...(page.tools as Json[]));
    cursor = page.nextCursor;
  } while (cursor);
  return tools;
}

async function allResources(client: Client): Promise<Json[]> {
  const resources: Json[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listResources(cursor ? { cursor } : {});
    resources.push(...(page.resources as Json[]));
    cursor = page.nextCursor;
  } while (cursor);
  return resources;
}

async function allTemplates(client: Client): Promise<Json[]> {
  const templates: Json[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listResourceTemplates(cursor ? { cursor } : {});
    templates.push(...(page.resourceTemplates as Json[]));
    cursor = page.nextCursor;
  } while (cursor);
  return templates;
}

async function allPrompts(client: Client): Promise<Json[]> {
  const prompts: Json[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listPrompts(cursor ? { cursor } : {});
    prompts.push(...(page.prompts as Json[]));
    cursor = page.nextCursor;
  } while (cursor);
  return prompts;
}

/** A tools/call whose result is kept exactly as the wire carried it (a loose schema: nothing stripped or defaulted). */
function rawCall(client: Client, name: string, args: Json): Promise<Json> {
  return client.request({ method: "tools/call", params: { name, arguments: args } }, z.looseObject({}));
}

/** The fixture's `big` text (test/fixtures/servers/normal-server.mjs). */
function bigText(n: number): string {
  const unit = 'aé😀"\\\n\t<';
  return unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
}

const byKey = (key: string) => (a: Json, b: Json) => String(a[key]).localeCompare(String(b[key]));

/** server-everything tools hidden by design: MCP tasks are out of scope, so `taskSupport: required` is not exposed. */
function needsTasks(tool: Json): boolean {
  return (tool.execution as Json | undefined)?.taskSupport === "required";
}

for (const kind of HTTP_TRANSPORT_KINDS) {
  test(`${kind}: tools/list exposes <server>-<tool> names with upstream's exact definitions`, async (t) => {
    const client = await connect(t, kind);
    const tools = await allTools(client.client);
    const names = tools.map((tool) => String(tool.name));
    for (const name of names) t.regex(name, /^[A-Za-z0-9_-]{1,64}$/);
    t.is(new Set(names).size, names.length, "exposed names are unique");
    for (const name of ["memory-create_entities", "memory-read_graph", "fixture-echo", "fixture-slow"]) t.true(names.includes(name), name);

    const upstream = (await allTools(t.context.direct.client)).filter((tool) => !needsTasks(tool));
    const exposed = tools.filter((tool) => String(tool.name).startsWith("everything-"));
    t.deepEqual(
      exposed.map((tool) => tool.name).sort(),
      upstream.map((tool) => `everything-${String(tool.name)}`).sort(),
    );
    for (const tool of upstream) {
      const through = exposed.find((candidate) => candidate.name === `everything-${String(tool.name)}`);
      t.deepEqual(through, { ...tool, name: `everything-${String(tool.name)}` }, `definition of ${String(tool.name)}`);
    }
  });

  test(`${kind}: tools/call results deep-equal a direct stdio call (text, image, structured, links, annotations, isError)`, async (t) => {
    const client = await connect(t, kind);
    const cases: Array<[string, Json, string]> = [
      ["echo", { message: `hello over ${kind}` }, "text"],
      ["get-tiny-image", {}, "image"],
      ["get-structured-content", { location: "Chicago" }, "structuredContent"],
      ["get-resource-links", { count: 3 }, "resource_link"],
      ["get-annotated-message", { messageType: "error", includeImage: true }, "annotations"],
      ["get-sum", { a: 2, b: 40 }, "text"],
      ["echo", { message: 42 }, "isError"],
      ["get-structured-content", { location: "Atlantis" }, "isError"],
    ];
    for (const [tool, args, feature] of cases) {
      const through = await client.client.callTool({ name: `everything-${tool}`, arguments: args });
      const direct = await t.context.direct.client.callTool({ name: tool, arguments: args });
      const throughRaw = await rawCall(client.client, `everything-${tool}`, args);
      const directRaw = await rawCall(t.context.direct.client, tool, args);
      t.deepEqual(through, direct, `${tool} ${JSON.stringify(args)}`);
      t.deepEqual(throughRaw, directRaw, `${tool} on the wire`);
      const serialized = JSON.stringify(through);
      if (feature === "isError") t.is(through.isError, true, `${tool} reports isError`);
      else if (feature === "structuredContent") t.truthy(through.structuredContent);
      else t.true(serialized.includes(feature === "text" ? '"type":"text"' : feature), `${tool} carries ${feature}`);
    }
  });

  // Serial: server-memory rewrites its whole file per call, so two concurrent create_entities can lose one (upstream's race).
  test.serial(`${kind}: calls route to the second and third server by exposed name`, async (t) => {
    const client = await connect(t, kind);
    const entity = `e2e-${kind}-${Date.now()}`;
    const created = await client.client.callTool({
      name: "memory-create_entities",
      arguments: { entities: [{ name: entity, entityType: "test", observations: [`seen over ${kind}`] }] },
    });
    t.falsy(created.isError, JSON.stringify(created));
    const found = await client.client.callTool({ name: "memory-search_nodes", arguments: { query: entity } });
    t.true(JSON.stringify(found).includes(`seen over ${kind}`));
    const echoed = await client.client.callTool({ name: "fixture-echo", arguments: { text: `fixture via ${kind}` } });
    t.deepEqual(echoed.content, [{ type: "text", text: `fixture via ${kind}` }]);
    const unknown = await client.client.callTool({ name: "nobody-echo", arguments: {} }).then(
      (result) => ({ result }),
      (error: unknown) => ({ error }),
    );
    t.true("error" in unknown || (unknown.result as Json).isError === true, "an unknown tool is refused");
  });

  test(`${kind}: large results reach the client exactly, answered at once or on a stream, while other calls go on`, async (t) => {
    const client = await connect(t, kind);
    // 300,000 characters (beyond the daemon's raw pass-through threshold) at once, and after 100 ms (a stream by
    // then, on a client that takes priming events); 1,000 characters stay on the ordinary path.
    const cases: Array<[number, number]> = [
      [300_000, 0],
      [300_000, 100],
      [1_000, 0],
    ];
    for (const [n, ms] of cases) {
      const [big, echoed] = await Promise.all([
        rawCall(client.client, "fixture-big", { n, ms }),
        client.client.callTool({ name: "fixture-echo", arguments: { text: `beside ${n}/${ms}` } }),
      ]);
      t.deepEqual(big, { content: [{ type: "text", text: bigText(n) }, { type: "text", text: "end" }], _meta: { "fixture/n": n } }, `${n}/${ms}`);
      t.deepEqual(echoed.content, [{ type: "text", text: `beside ${n}/${ms}` }]);
    }
  });

  test(`${kind}: resources, templates and reads pass through and route by URI`, async (t) => {
    const client = await connect(t, kind);
    const resources = await allResources(client.client);
    const upstream = await allResources(t.context.direct.client);
    t.true(upstream.length > 0);
    t.deepEqual(resources.filter((resource) => String(resource.uri).startsWith("demo://")).sort(byKey("uri")), [...upstream].sort(byKey("uri")));
    t.true(resources.some((resource) => resource.uri === "fixture://readme"), "the fixture's resource is listed too");

    const templates = await allTemplates(client.client);
    const upstreamTemplates = await allTemplates(t.context.direct.client);
    t.true(upstreamTemplates.length > 0);
    t.deepEqual(
      templates.filter((template) => String(template.uriTemplate).startsWith("demo://")).sort(byKey("uriTemplate")),
      [...upstreamTemplates].sort(byKey("uriTemplate")),
    );

    const staticUri = String(upstream.find((resource) => String(resource.uri).includes("/static/"))?.uri ?? upstream[0]?.uri);
    t.deepEqual(await client.client.readResource({ uri: staticUri }), await t.context.direct.client.readResource({ uri: staticUri }));

    const dynamicUri = "demo://resource/dynamic/text/7";
    const timeless = (value: unknown) => JSON.stringify(value).replace(/created at [^"]*/g, "created at <time>");
    t.is(timeless(await client.client.readResource({ uri: dynamicUri })), timeless(await t.context.direct.client.readResource({ uri: dynamicUri })));

    const readme = await client.client.readResource({ uri: "fixture://readme" });
    t.deepEqual(readme.contents, [{ uri: "fixture://readme", text: "fixture readme" }]);
  });

  test(`${kind}: prompts list and get with arguments deep-equal upstream's, under prefixed names`, async (t) => {
    const client = await connect(t, kind);
    const prompts = await allPrompts(client.client);
    const upstream = await allPrompts(t.context.direct.client);
    t.true(upstream.length > 0);
    t.deepEqual(
      prompts.filter((prompt) => String(prompt.name).startsWith("everything-")).sort(byKey("name")),
      upstream.map((prompt) => ({ ...prompt, name: `everything-${String(prompt.name)}` })).sort(byKey("name")),
    );
    t.deepEqual(
      await client.client.getPrompt({ name: "everything-args-prompt", arguments: { city: "Berlin", state: "Berlin" } }),
      await t.context.direct.client.getPrompt({ name: "args-prompt", arguments: { city: "Berlin", state: "Berlin" } }),
    );
    t.deepEqual(await client.client.getPrompt({ name: "everything-simple-prompt" }), await t.context.direct.client.getPrompt({ name: "simple-prompt" }));
    const greet = await client.client.getPrompt({ name: "fixture-greet", arguments: { who: kind } });
    t.deepEqual(greet.messages, [{ role: "user", content: { type: "text", text: `hello ${kind}` } }]);
  });

  test(`${kind}: completion/complete for prompt and resource-template arguments`, async (t) => {
    const client = await connect(t, kind);
    const department = await client.client.complete({
      ref: { type: "ref/prompt", name: "everything-completable-prompt" },
      argument: { name: "department", value: "S" },
    });
    t.deepEqual(
      department,
      await t.context.direct.client.complete({ ref: { type: "ref/prompt", name: "completable-prompt" }, argument: { name: "department", value: "S" } }),
    );
    t.deepEqual(department.completion.values, ["Sales", "Support"]);
    const withContext = await client.client.complete({
      ref: { type: "ref/prompt", name: "everything-completable-prompt" },
      argument: { name: "name", value: "" },
      context: { arguments: { department: "Engineering" } },
    });
    t.deepEqual(withContext.completion.values, ["Alice", "Bob", "Charlie"]);

    const template = (await allTemplates(t.context.direct.client))[0] as Json;
    const variable = /\{(\w+)\}/.exec(String(template.uriTemplate))?.[1] ?? "resourceId";
    const ref = { type: "ref/resource" as const, uri: String(template.uriTemplate) };
    t.deepEqual(
      await client.client.complete({ ref, argument: { name: variable, value: "1" } }),
      await t.context.direct.client.complete({ ref, argument: { name: variable, value: "1" } }),
    );
  });
}

test("dsctl tools call: a large result comes through the control API parsed and whole", async (t) => {
  // A whole number of the text's 9-unit pattern: no emoji cut in half (dsctl prints UTF-8, where half an emoji is U+FFFD).
  const n = 300_006;
  const { stdout, code } = await t.context.gateway.dsctl(["tools", "call", "fixture-big", "--args", JSON.stringify({ n })]);
  t.is(code, 0);
  t.deepEqual(JSON.parse(stdout), { content: [{ type: "text", text: bigText(n) }, { type: "text", text: "end" }], _meta: { "fixture/n": n } });
});

test.serial("logging/setLevel: each session gets server logs at or above its own level", async (t) => {
  const verbose = await connect(t, "streamable", "verbose");
  const quiet = await connect(t, "sse", "quiet");
  await verbose.client.setLoggingLevel("debug");
  await quiet.client.setLoggingLevel("error");
  // server-everything logs at level "info" when it receives resources/subscribe.
  await verbose.client.subscribeResource({ uri: "demo://resource/dynamic/text/11" });
  t.true(await verbose.waitForNotifications("notifications/message", 1), "the debug-level session gets the info log");
  const infoLog = verbose.notifications("notifications/message").find((message) => JSON.stringify(message.params).includes("dynamic/text/11"));
  t.is(infoLog?.params?.level, "info");
  await verbose.client.unsubscribeResource({ uri: "demo://resource/dynamic/text/11" });
  await new Promise((resolveWait) => setTimeout(resolveWait, 1_000));
  for (const message of quiet.notifications("notifications/message")) {
    t.true(["error", "critical", "alert", "emergency"].includes(String(message.params?.level)), JSON.stringify(message));
  }

  await quiet.client.setLoggingLevel("info");
  const before = quiet.notifications("notifications/message").length;
  await verbose.client.subscribeResource({ uri: "demo://resource/dynamic/text/12" });
  t.true(await quiet.waitForNotifications("notifications/message", before + 1), "after setLevel info, the other session gets it too");
  await verbose.client.unsubscribeResource({ uri: "demo://resource/dynamic/text/12" });
});

test.serial("resources/subscribe: updates reach the subscribed session only", async (t) => {
  const subscriber = await connect(t, "streamable", "subscriber");
  const bystander = await connect(t, "sse", "bystander");
  const uri = "demo://resource/dynamic/text/3";
  await subscriber.client.subscribeResource({ uri });
  // server-everything then sends notifications/resources/updated for each subscribed URI (at once, then every 5 s).
  await subscriber.client.callTool({ name: "everything-toggle-subscriber-updates", arguments: {} });
  try {
    t.true(await subscriber.waitForNotifications("notifications/resources/updated", 1, 30_000), "the subscriber is told");
    t.deepEqual(subscriber.notifications("notifications/resources/updated")[0]?.params, { uri });
  } finally {
    await subscriber.client.callTool({ name: "everything-toggle-subscriber-updates", arguments: {} });
  }
  await subscriber.client.unsubscribeResource({ uri });
  t.deepEqual(bystander.notifications("notifications/resources/updated"), [], "a session that did not subscribe hears nothing");
});
