import test from "ava";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import {
  CLIENT_NAME_RULES,
  clientRuleFor,
  createClientNameView,
  DEFAULT_CLIENT_RULE,
  shapeToolName,
  toolNameBudget,
  type ClientNameRule,
} from "./client-names.js";
import { EXPOSED_NAME_PATTERN, wantedExposedName } from "./exposed-names.js";
import { createRegistry } from "./registry.js";
import { createClientNamesScope } from "./client-names-scope.js";
import { createMcpOperations } from "./operations.js";
import { createProfileScope, type ScopeState } from "./profile-scope.js";
import { createProfileSet, IMPLICIT_DEFAULT_PROFILE } from "./profiles.js";
import { createToolIndex } from "./tool-search.js";
import { createUpstreamRouter, type Caller } from "./upstream-router.js";
import { silentLogger } from "../../shared/logger.js";
import { createMemorySupervisor } from "./testing/memory-supervisor.js";

const ENTRY = "deploystack";
const LONG_SERVER = "enterprise-database-management-and-reporting-service-eu-west";
const TOOL_NAMES = [
  "echo",
  "récupérer_les_données_de_tous_les_utilisateurs_du_système",
  "synchronize-all-customer-data-across-multiple-systems-now",
  "synchronize-all-customer-data-across-multiple-systems-later",
  "検索",
  "get_console_message",
];

/** Gateway names for tools of a short and a long server (the gateway's own naming: sanitized, 64 at most). */
const EXPOSED = [
  ...TOOL_NAMES.map((tool) => wantedExposedName("kb", tool)),
  ...TOOL_NAMES.map((tool) => wantedExposedName(LONG_SERVER, tool)),
  wantedExposedName("", "7zip-extract"),
  // A non-ASCII prefix (a cloud display name before slugging, or a hand-written prefix in a test).
  ...TOOL_NAMES.map((tool) => wantedExposedName("données-服务-de-référence-pour-les-équipes", tool)),
];

const ALL_RULES: readonly ClientNameRule[] = [...CLIENT_NAME_RULES, DEFAULT_CLIENT_RULE];

function fitsRule(rule: ClientNameRule, entry: string, name: string): boolean {
  if (!/^[A-Za-z0-9_-]+$/.test(name)) return false;
  if (rule.prefix(entry).length + name.length > rule.maxLength) return false;
  return rule.firstCharacter === undefined || rule.firstCharacter.test(name);
}

for (const rule of ALL_RULES) {
  test(`${rule.label}: every name fits, is unique, resolves back, and a name that fits is unchanged`, (t) => {
    t.true(EXPOSED.every((name) => EXPOSED_NAME_PATTERN.test(name)));
    const view = createClientNameView(rule, ENTRY, EXPOSED);
    const names = EXPOSED.map((exposed) => view.clientName(exposed));
    for (const [index, name] of names.entries()) {
      t.true(fitsRule(rule, ENTRY, name), `${rule.prefix(ENTRY)}${name} (${rule.prefix(ENTRY).length + name.length} chars) fits ${rule.label}`);
      const exposed = EXPOSED[index]!;
      if (name === exposed) t.is(view.exposedName(name), undefined, "an unchanged name is the gateway name itself");
      else t.is(view.exposedName(name), exposed);
      if (fitsRule(rule, ENTRY, exposed)) t.is(name, exposed, `${exposed} fits ${rule.label} and is left alone`);
    }
    t.is(new Set(names).size, names.length, "unique");
    // Deterministic: the same names in the same order give the same view.
    const again = createClientNameView(rule, ENTRY, [...EXPOSED]);
    t.deepEqual(EXPOSED.map((exposed) => again.clientName(exposed)), names);
    t.is(view.identity, EXPOSED.every((exposed) => fitsRule(rule, ENTRY, exposed)));
  });
}

test("clients are recognised by the clientInfo.name they send; anything else gets the strict default", (t) => {
  const cases: [string | undefined, string][] = [
    ["claude-code", "claude-code"],
    ["claude-ai", "claude-desktop"],
    ["cursor-vscode", "cursor"],
    ["Visual Studio Code", "vscode"],
    ["Visual Studio Code - Insiders", "vscode"],
    ["codex-mcp-client", "codex"],
    ["gemini-cli-mcp-client", "gemini"],
    ["windsurf-client", "windsurf"],
    ["unknown-thing", "default"],
    [undefined, "default"],
  ];
  for (const [clientName, id] of cases) t.is(clientRuleFor(clientName).id, id, String(clientName));
});

test("budgets follow the prefix each client puts before the name", (t) => {
  t.is(toolNameBudget(clientRuleFor("claude-code"), "deploystack"), 64 - "mcp__deploystack__".length);
  t.is(toolNameBudget(clientRuleFor("cursor-vscode"), "deploystack"), 60 - "deploystack_".length);
  t.is(toolNameBudget(clientRuleFor("claude-ai"), "deploystack"), 64);
  // A profile's entry is longer and leaves less; a silly-long entry still leaves room for a head and a hash.
  t.is(toolNameBudget(clientRuleFor("claude-code"), "deploystack-frontend"), 64 - "mcp__deploystack-frontend__".length);
  t.is(toolNameBudget(clientRuleFor("claude-code"), "x".repeat(80)), 16);
});

test("a shortened name keeps a readable head and ends in a hash of the whole gateway name", (t) => {
  const rule = clientRuleFor("claude-code");
  const exposed = wantedExposedName(LONG_SERVER, "synchronize-all-customer-data-across-multiple-systems-now");
  const shaped = shapeToolName(rule, ENTRY, exposed);
  t.is(shaped.length, toolNameBudget(rule, ENTRY));
  t.true(shaped.startsWith(exposed.slice(0, shaped.length - 7)));
  t.regex(shaped, /_[0-9a-f]{6}$/);
  t.not(shaped, shapeToolName(rule, ENTRY, wantedExposedName(LONG_SERVER, "synchronize-all-customer-data-across-multiple-systems-later")));
  // Gemini and the default want a letter or `_` first.
  t.is(shapeToolName(clientRuleFor("gemini-cli"), ENTRY, "7zip-extract"), "_7zip-extract");
  t.is(shapeToolName(clientRuleFor("claude-code"), ENTRY, "7zip-extract"), "7zip-extract");
});

test("uniqueness by age: a later gateway name equal to an older tool's shortened name cannot take it", (t) => {
  const rule = clientRuleFor("claude-code");
  const long = wantedExposedName(LONG_SERVER, "synchronize-all-customer-data-across-multiple-systems-now");
  const shortened = shapeToolName(rule, ENTRY, long);
  // The long tool is older: it keeps its client name; the squatter is shown under a hashed one.
  const view = createClientNameView(rule, ENTRY, [long, shortened]);
  t.is(view.clientName(long), shortened);
  t.is(view.exposedName(shortened), long, "the name the client was given still means the older tool");
  const squatter = view.clientName(shortened);
  t.not(squatter, shortened);
  t.true(fitsRule(rule, ENTRY, squatter));
  t.is(view.exposedName(squatter), shortened);
  // The other way round (the tool with the short name is older), the short name stays its own.
  const older = createClientNameView(rule, ENTRY, [shortened, long]);
  t.is(older.clientName(shortened), shortened);
  t.is(older.exposedName(shortened), undefined, "an unchanged name is the gateway name itself");
  t.not(older.clientName(long), shortened);
  t.is(older.exposedName(older.clientName(long)), long);
});

test("registry: one view per snapshot and client rule; shaped names resolve to the tools, long and non-ASCII names included", async (t) => {
  const server = (): McpServer => {
    const mcp = new McpServer({ name: "long", version: "1.0.0" });
    for (const name of TOOL_NAMES) mcp.registerTool(name, { description: `tool ${name}` }, async () => ({ content: [{ type: "text", text: name }] }));
    return mcp;
  };
  const supervisor = createMemorySupervisor([
    { name: LONG_SERVER, create: server },
    { name: "kb", create: server },
  ]);
  t.teardown(() => supervisor.shutdown());
  await supervisor.start();
  const registry = createRegistry({ supervisor });
  t.teardown(() => registry.close());
  const tools = registry.tools();
  t.is(tools.length, TOOL_NAMES.length * 2);
  for (const rule of ALL_RULES) {
    const view = registry.clientNames(rule, ENTRY);
    t.is(registry.clientNames(rule, ENTRY), view, "built once per snapshot");
    const seen = new Set<string>();
    for (const tool of tools) {
      const shaped = view.tool(tool);
      t.is(view.tool(tool), shaped, "memoized");
      t.is(shaped.definition.name, shaped.exposedName);
      t.true(fitsRule(rule, ENTRY, shaped.exposedName), `${rule.label}: ${shaped.exposedName}`);
      seen.add(shaped.exposedName);
      const back = view.exposedName(shaped.exposedName) ?? shaped.exposedName;
      const resolved = registry.resolveTool(back);
      t.is(resolved.server, tool.server);
      t.is(resolved.upstreamName, tool.upstreamName);
      t.deepEqual({ ...shaped.definition, name: tool.exposedName }, tool.definition, "only the name changes");
    }
    t.is(seen.size, tools.length);
  }
  // Claude Desktop and Windsurf check the bare name against 64 characters: the gateway's names pass as they are.
  t.true(registry.clientNames(clientRuleFor("claude-ai"), ENTRY).identity);
  t.false(registry.clientNames(clientRuleFor("claude-code"), ENTRY).identity);
});

test("scope: the caller's client decides per request (the modern era's per-request clientInfo); calls are turned back into gateway names", async (t) => {
  const server = (): McpServer => {
    const mcp = new McpServer({ name: "long", version: "1.0.0" });
    for (const name of TOOL_NAMES) mcp.registerTool(name, { description: `tool ${name}` }, async () => ({ content: [{ type: "text", text: name }] }));
    return mcp;
  };
  const supervisor = createMemorySupervisor([{ name: LONG_SERVER, create: server }]);
  t.teardown(() => supervisor.shutdown());
  await supervisor.start();
  const registry = createRegistry({ supervisor });
  t.teardown(() => registry.close());
  const router = createUpstreamRouter({ supervisor, logger: silentLogger, acquireTimeoutMs: 5_000, hooks: { onLog: () => undefined, onResourceUpdated: () => undefined, configuredRoots: () => [], onConnection: () => undefined } });
  t.teardown(() => router.close());
  for (const snapshot of supervisor.list()) router.attach(snapshot.name);
  const operations = createMcpOperations({ registry, router, waitMs: 5_000, manage: async () => ({}) });
  const state: ScopeState = { profile: IMPLICIT_DEFAULT_PROFILE, found: new Set() };
  const scope = createClientNamesScope(
    createProfileScope(state, { registry, operations, indexOf: () => createToolIndex([]), onFound: () => undefined }),
    { registry, entry: ENTRY, clientName: (caller) => caller?.client?.name, searchMode: () => state.profile.mode === "search" },
  );
  const callerOf = (name: string): Caller => ({ capabilities: {}, client: { name, era: "modern", transport: "streamable_http" } });
  const signal = new AbortController().signal;

  const gatewayNames = (await scope.listTools(undefined, callerOf("claude-ai"))).map((tool) => tool.exposedName);
  t.deepEqual(gatewayNames, registry.tools().map((tool) => tool.exposedName), "Claude Desktop: the gateway's names");
  const claudeCode = await scope.listTools(undefined, callerOf("claude-code"));
  t.notDeepEqual(claudeCode.map((tool) => tool.exposedName), gatewayNames);
  for (const tool of claudeCode) {
    t.true(`mcp__${ENTRY}__${tool.exposedName}`.length <= 64);
    const result = (await scope.callTool({ name: tool.exposedName, arguments: {} }, callerOf("claude-code"), signal)) as { content: { text: string }[] };
    t.is(`tool ${result.content[0]!.text}`, String(tool.definition.description), `${tool.exposedName} reaches its tool`);
  }
  // A shaped name means nothing to a client that was never given it.
  const shaped = claudeCode.find((tool) => !gatewayNames.includes(tool.exposedName))!;
  const unknown = await scope.callTool({ name: shaped.exposedName, arguments: {} }, callerOf("claude-ai"), signal).catch((error: Error) => error);
  t.true(unknown instanceof Error && /unknown tool/.test(unknown.message));
  // In search mode, call_tool's target is translated too.
  state.profile = createProfileSet([{ name: "search", tools: "search" }]).find("search")!;
  const viaMeta = (await scope.callTool({ name: "call_tool", arguments: { name: shaped.exposedName, arguments: {} } }, callerOf("claude-code"), signal)) as {
    content: { text: string }[];
  };
  t.is(`tool ${viaMeta.content[0]!.text}`, String(shaped.definition.description));
});
