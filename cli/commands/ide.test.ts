import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import test, { type ExecutionContext } from "ava";
import { diffChars } from "diff";
import { parse as parseJsonc } from "jsonc-parser";
import { parse as parseToml } from "@decimalturn/toml-patch";
import type { McpClientId } from "../../shared/client-snippets.js";
import { statePaths } from "../../shared/paths.js";
import { backupPath } from "../ide/config-edit.js";
import { createCapturedIo } from "../io.js";
import { createProgram } from "../program.js";
import { ideAdd, ideList, ideRemove, type IdeArgs, type IdeDeps } from "./ide.js";

// `dsctl ide` on temporary homes seeded with real-world config files (comments, trailing commas, tabs, other
// servers, one-line JSON, TOML with comments): for every client, add / idempotent re-add / dry-run diff / backup /
// remove, and the rest of each file untouched byte for byte.

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "../../test/fixtures/ide");
const fixture = (name: string): string => readFileSync(join(fixtures, name), "utf8");
const STDIO = { command: "/usr/local/bin/node", args: ["/opt/dsctl/dist/cli/main.js", "stdio"] };

interface Home {
  readonly root: string;
  readonly home: string;
  readonly project: string;
  readonly deps: IdeDeps;
}

function tempHome(t: ExecutionContext, platform: NodeJS.Platform = "linux", port = 9095): Home {
  const root = mkdtempSync(join(tmpdir(), "dsctl-ide-"));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const home = join(root, "home");
  const project = join(root, "project");
  mkdirSync(home, { recursive: true });
  mkdirSync(project, { recursive: true });
  const paths = statePaths(join(home, ".deploystack"));
  return { root, home, project, deps: { home, platform, cwd: project, env: {}, paths, gatewayPort: async () => port, stdio: STDIO } };
}

function place(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

interface ClientCase {
  readonly client: McpClientId;
  readonly fixture: string;
  readonly path: (home: Home) => string;
  readonly platform?: NodeJS.Platform;
  readonly scope?: "user" | "workspace";
  /** The servers object of a parsed file. */
  readonly servers: (text: string) => Record<string, unknown>;
  readonly expected: Record<string, unknown>;
}

const jsonServers = (key: string) => (text: string) => (parseJsonc(text) as Record<string, Record<string, unknown>>)[key]!;
const url = "http://localhost:9095/mcp";

const cases: readonly ClientCase[] = [
  {
    client: "vscode",
    fixture: "vscode-user.jsonc",
    path: (h) => join(h.home, ".config/Code/User/mcp.json"),
    servers: jsonServers("servers"),
    expected: { type: "http", url },
  },
  {
    client: "vscode",
    fixture: "vscode-workspace.json",
    scope: "workspace",
    path: (h) => join(h.project, ".vscode/mcp.json"),
    servers: jsonServers("servers"),
    expected: { type: "http", url },
  },
  {
    client: "vscode",
    fixture: "vscode-user.jsonc",
    platform: "darwin",
    path: (h) => join(h.home, "Library/Application Support/Code/User/mcp.json"),
    servers: jsonServers("servers"),
    expected: { type: "http", url },
  },
  { client: "cursor", fixture: "cursor.json", path: (h) => join(h.home, ".cursor/mcp.json"), servers: jsonServers("mcpServers"), expected: { url } },
  {
    client: "claude-code",
    fixture: "claude.json",
    path: (h) => join(h.home, ".claude.json"),
    servers: jsonServers("mcpServers"),
    expected: { type: "http", url },
  },
  {
    client: "claude-code",
    fixture: "claude-project.mcp.json",
    scope: "workspace",
    path: (h) => join(h.project, ".mcp.json"),
    servers: jsonServers("mcpServers"),
    expected: { type: "http", url },
  },
  {
    client: "claude-desktop",
    fixture: "claude-desktop.json",
    platform: "darwin",
    path: (h) => join(h.home, "Library/Application Support/Claude/claude_desktop_config.json"),
    servers: jsonServers("mcpServers"),
    expected: { command: STDIO.command, args: STDIO.args },
  },
  {
    client: "claude-desktop",
    fixture: "claude-desktop.json",
    path: (h) => join(h.home, ".config/Claude/claude_desktop_config.json"),
    servers: jsonServers("mcpServers"),
    expected: { command: STDIO.command, args: STDIO.args },
  },
  {
    client: "codex",
    fixture: "codex.toml",
    path: (h) => join(h.home, ".codex/config.toml"),
    servers: (text) => (parseToml(text) as Record<string, Record<string, unknown>>).mcp_servers!,
    expected: { url },
  },
  { client: "gemini", fixture: "gemini.json", path: (h) => join(h.home, ".gemini/settings.json"), servers: jsonServers("mcpServers"), expected: { httpUrl: url } },
  {
    client: "windsurf",
    fixture: "windsurf.json",
    path: (h) => join(h.home, ".codeium/windsurf/mcp_config.json"),
    servers: jsonServers("mcpServers"),
    expected: { serverUrl: url },
  },
];

for (const c of cases) {
  const title = `${c.client} (${c.scope ?? "user"}, ${c.platform ?? "linux"}, ${c.fixture})`;

  test(`${title}: add merges one entry, keeps the rest byte for byte, backs up, is idempotent; remove restores the file`, async (t) => {
    const h = tempHome(t, c.platform);
    const path = c.path(h);
    const original = fixture(c.fixture);
    const serversKeyFixture = original;
    place(path, serversKeyFixture);
    const before = c.servers(serversKeyFixture);
    const args: IdeArgs = { client: c.client, scope: c.scope };

    const io = createCapturedIo();
    t.is(await ideAdd(args, io, h.deps), 0, io.err());
    const added = readFileSync(path, "utf8");
    const after = c.servers(added);
    t.deepEqual(after.deploystack, c.expected);
    for (const [name, entry] of Object.entries(before)) t.deepEqual(after[name], entry, `${name} kept`);
    t.is(readFileSync(backupPath(path), "utf8"), serversKeyFixture, "the backup holds the file as it was");
    t.is(statSync(backupPath(path)).mode & 0o777, 0o600);
    t.regex(io.out(), /wrote "deploystack"/);
    // Byte for byte: the edit only inserts (the entry, and a comma after the entry before it).
    const removedChars = diffChars(serversKeyFixture, added).filter((part) => part.removed);
    t.deepEqual(removedChars, [], "nothing of the file's own text is removed or rewritten");

    const again = createCapturedIo();
    rmSync(backupPath(path));
    t.is(await ideAdd(args, again, h.deps), 0);
    t.is(readFileSync(path, "utf8"), added, "a second add changes nothing");
    t.false(existsSync(backupPath(path)), "and writes no backup");
    t.regex(again.out(), /already up to date/);

    const removed = createCapturedIo();
    t.is(await ideRemove(args, removed, h.deps), 0, removed.err());
    const final = readFileSync(path, "utf8");
    t.deepEqual(c.servers(final), before);
    t.false(Object.hasOwn(c.servers(final), "deploystack"));
    t.is(final, serversKeyFixture, "remove gives back the original bytes");
    t.is(readFileSync(backupPath(path), "utf8"), added);
  });

  test(`${title}: --dry-run prints a unified diff and writes nothing`, async (t) => {
    const h = tempHome(t, c.platform, 9123);
    const path = c.path(h);
    place(path, fixture(c.fixture));
    const io = createCapturedIo();
    t.is(await ideAdd({ client: c.client, scope: c.scope, dryRun: true }, io, h.deps), 0);
    t.is(readFileSync(path, "utf8"), fixture(c.fixture));
    t.false(existsSync(backupPath(path)));
    t.true(io.out().includes(`--- ${path}`), io.out());
    t.true(io.out().includes(`+++ ${path}`));
    t.regex(io.out(), /^@@ /m);
    const plus = io.out().split("\n").filter((line) => line.startsWith("+") && !line.startsWith("+++"));
    t.true(plus.some((line) => line.includes(c.client === "claude-desktop" ? "stdio" : "http://localhost:9123/mcp")), plus.join("\n"));
  });
}

test("a missing config file is created (with its folder); remove on a missing file is a no-op", async (t) => {
  const h = tempHome(t);
  const io = createCapturedIo();
  t.is(await ideAdd({ client: "windsurf" }, io, h.deps), 0);
  const path = join(h.home, ".codeium/windsurf/mcp_config.json");
  t.deepEqual(JSON.parse(readFileSync(path, "utf8")), { mcpServers: { deploystack: { serverUrl: url } } });
  t.false(existsSync(backupPath(path)), "nothing to back up");
  t.is(await ideAdd({ client: "codex" }, createCapturedIo(), h.deps), 0);
  t.is(readFileSync(join(h.home, ".codex/config.toml"), "utf8"), `[mcp_servers.deploystack]\nurl = "${url}"\n`);
  const none = createCapturedIo();
  t.is(await ideRemove({ client: "gemini" }, none, h.deps), 0);
  t.false(existsSync(join(h.home, ".gemini")));
  t.regex(none.out(), /no "deploystack" entry/);
});

test("an existing entry that points elsewhere is updated in place; a profile gets its own entry and URL", async (t) => {
  const h = tempHome(t, "linux", 9200);
  const path = join(h.home, ".codex/config.toml");
  place(path, `${fixture("codex.toml")}\n[mcp_servers.deploystack]\nurl = "http://localhost:1111/mcp" # old port\n`);
  t.is(await ideAdd({ client: "codex" }, createCapturedIo(), h.deps), 0);
  const text = readFileSync(path, "utf8");
  t.true(text.startsWith(fixture("codex.toml")), "everything above is untouched");
  t.deepEqual((parseToml(text) as { mcp_servers: Record<string, unknown> }).mcp_servers.deploystack, { url: "http://localhost:9200/mcp" });

  t.is(await ideAdd({ client: "cursor", profile: "frontend" }, createCapturedIo(), h.deps), 0);
  t.is(await ideAdd({ client: "cursor" }, createCapturedIo(), h.deps), 0);
  const cursor = JSON.parse(readFileSync(join(h.home, ".cursor/mcp.json"), "utf8")) as { mcpServers: Record<string, unknown> };
  t.deepEqual(cursor.mcpServers, { "deploystack-frontend": { url: "http://localhost:9200/mcp/frontend" }, deploystack: { url: "http://localhost:9200/mcp" } });
  const bad = createCapturedIo();
  await t.throwsAsync(ideAdd({ client: "cursor", profile: "../x" }, bad, h.deps), { message: /invalid profile/ });
  await t.throwsAsync(ideAdd({ client: "claude-desktop", profile: "frontend" }, bad, h.deps), { message: /dsctl stdio/ });
});

test("with client auth on, user files carry the token header (file kept private); project files reference it", async (t) => {
  const h = tempHome(t);
  mkdirSync(h.deps.paths.home, { recursive: true });
  const token = "tok-3f9a1c7e5b2d4a6c8e0f1a3b5c7d9e1f";
  writeFileSync(h.deps.paths.clientToken, `${token}\n`, { mode: 0o600 });
  const bearer = `Bearer ${token}`;
  // An existing config readable by others is made private once it holds the token.
  place(join(h.home, ".gemini/settings.json"), fixture("gemini.json"));
  chmodSync(join(h.home, ".gemini/settings.json"), 0o644);

  const expectations: readonly [McpClientId, string, string, unknown][] = [
    ["vscode", ".config/Code/User/mcp.json", "servers", { type: "http", url, headers: { Authorization: bearer } }],
    ["cursor", ".cursor/mcp.json", "mcpServers", { url, headers: { Authorization: bearer } }],
    ["claude-code", ".claude.json", "mcpServers", { type: "http", url, headers: { Authorization: bearer } }],
    ["gemini", ".gemini/settings.json", "mcpServers", { httpUrl: url, headers: { Authorization: bearer } }],
    ["windsurf", ".codeium/windsurf/mcp_config.json", "mcpServers", { serverUrl: url, headers: { Authorization: bearer } }],
    ["claude-desktop", ".config/Claude/claude_desktop_config.json", "mcpServers", { command: STDIO.command, args: STDIO.args }],
  ];
  for (const [client, file, key, entry] of expectations) {
    t.is(await ideAdd({ client }, createCapturedIo(), h.deps), 0);
    const path = join(h.home, file);
    t.deepEqual((parseJsonc(readFileSync(path, "utf8")) as Record<string, Record<string, unknown>>)[key]!.deploystack, entry, client);
    if (client !== "claude-desktop") t.is(statSync(path).mode & 0o777, 0o600, `${client}: a file holding the token is 0600`);
  }
  t.is(await ideAdd({ client: "codex" }, createCapturedIo(), h.deps), 0);
  t.deepEqual(parseToml(readFileSync(join(h.home, ".codex/config.toml"), "utf8")), { mcp_servers: { deploystack: { url, http_headers: { Authorization: bearer } } } });

  // Workspace files are shared with the project: no token in them, ever.
  const io = createCapturedIo();
  t.is(await ideAdd({ client: "vscode", scope: "workspace" }, io, h.deps), 0);
  t.is(await ideAdd({ client: "claude-code", scope: "workspace" }, io, h.deps), 0);
  t.is(await ideAdd({ client: "codex", scope: "workspace" }, io, h.deps), 0);
  const vscode = JSON.parse(readFileSync(join(h.project, ".vscode/mcp.json"), "utf8"));
  t.deepEqual(vscode.servers.deploystack.headers, { Authorization: "Bearer ${input:deploystack-token}" });
  t.is(vscode.inputs.length, 1);
  t.is(vscode.inputs[0].id, "deploystack-token");
  t.true(vscode.inputs[0].password);
  t.deepEqual(JSON.parse(readFileSync(join(h.project, ".mcp.json"), "utf8")).mcpServers.deploystack.headers, { Authorization: "Bearer ${DEPLOYSTACK_CLIENT_TOKEN}" });
  t.deepEqual((parseToml(readFileSync(join(h.project, ".codex/config.toml"), "utf8")) as { mcp_servers: Record<string, unknown> }).mcp_servers.deploystack, {
    url,
    bearer_token_env_var: "DEPLOYSTACK_CLIENT_TOKEN",
  });
  for (const file of [".vscode/mcp.json", ".mcp.json", ".codex/config.toml"]) t.false(readFileSync(join(h.project, file), "utf8").includes(token), file);
  t.regex(io.out(), /export DEPLOYSTACK_CLIENT_TOKEN=/);
  t.false(io.out().includes(token), "the token is never printed");

  // Removing the VS Code entry takes its prompt with it, and leaves an input of the user's alone.
  const vscodePath = join(h.project, ".vscode/mcp.json");
  const withOther = readFileSync(vscodePath, "utf8").replace('"inputs": [', '"inputs": [\n    { "type": "promptString", "id": "other" },');
  writeFileSync(vscodePath, withOther);
  t.is(await ideRemove({ client: "vscode", scope: "workspace" }, createCapturedIo(), h.deps), 0);
  const left = JSON.parse(readFileSync(vscodePath, "utf8"));
  t.deepEqual(left.inputs, [{ type: "promptString", id: "other" }]);
  t.deepEqual(left.servers, {});
});

test("an unparseable file is never rewritten; the error names the file and position", async (t) => {
  const h = tempHome(t);
  const path = join(h.home, ".cursor/mcp.json");
  place(path, '{ "mcpServers": { "a": { "url": "x" } }\n');
  await t.throwsAsync(ideAdd({ client: "cursor" }, createCapturedIo(), h.deps), { message: new RegExp(`cannot edit ${path.replaceAll(".", "\\.")}: it is not valid JSON \\(CloseBraceExpected at 2:1\\)`) });
  t.is(readFileSync(path, "utf8"), '{ "mcpServers": { "a": { "url": "x" } }\n');
  const toml = join(h.home, ".codex/config.toml");
  place(toml, "[mcp_servers.a\nurl = 1\n");
  await t.throwsAsync(ideAdd({ client: "codex" }, createCapturedIo(), h.deps), { message: /config\.toml: it is not valid TOML/ });
  await t.throwsAsync(ideAdd({ client: "notepad" }, createCapturedIo(), h.deps), { message: /unknown client "notepad"; one of: vscode, cursor/ });
  await t.throwsAsync(ideAdd({ client: "windsurf", scope: "workspace" }, createCapturedIo(), h.deps), { message: /Windsurf has no workspace config/ });
});

test("a symlinked config is edited through the link, which stays a link", async (t) => {
  const h = tempHome(t);
  const real = join(h.root, "dotfiles/gemini-settings.json");
  place(real, fixture("gemini.json"));
  mkdirSync(join(h.home, ".gemini"));
  symlinkSync(real, join(h.home, ".gemini/settings.json"));
  t.is(await ideAdd({ client: "gemini" }, createCapturedIo(), h.deps), 0);
  t.true(readFileSync(real, "utf8").includes('"deploystack"'));
  t.true(existsSync(backupPath(real)));
});

test("add without a client writes to every client found here; list shows who points at this gateway", async (t) => {
  const h = tempHome(t);
  place(join(h.home, ".cursor/mcp.json"), fixture("cursor.json"));
  place(join(h.home, ".claude.json"), fixture("claude.json"));
  mkdirSync(join(h.home, ".codex"));
  place(join(h.home, ".gemini/settings.json"), fixture("gemini.json").replace('"theme"', '"mcpServers2": {},\n  "theme"'));
  const io = createCapturedIo();
  t.is(await ideAdd({}, io, h.deps), 0, io.err());
  t.regex(io.out(), /Cursor: wrote/);
  t.regex(io.out(), /Claude Code: wrote/);
  t.regex(io.out(), /Codex: wrote/);
  t.regex(io.out(), /Gemini CLI: wrote/);
  t.false(/VS Code|Windsurf|Claude Desktop/.test(io.out()), "clients not installed are left alone");

  // Point Gemini elsewhere; put a broken VS Code file in.
  const gemini = join(h.home, ".gemini/settings.json");
  writeFileSync(gemini, readFileSync(gemini, "utf8").replace("http://localhost:9095/mcp", "http://localhost:7000/mcp"));
  place(join(h.home, ".config/Code/User/mcp.json"), "{ nope");
  const listed = createCapturedIo();
  t.is(await ideList({ json: true }, listed, h.deps), 0);
  const rows = (JSON.parse(listed.out()) as { clients: { client: string; scope: string; state: string; target?: string }[] }).clients;
  const state = (client: string): string | undefined => rows.find((row) => row.client === client && row.scope === "user")?.state;
  t.is(state("cursor"), "configured");
  t.is(state("claude-code"), "configured");
  t.is(state("codex"), "configured");
  t.is(state("gemini"), "other");
  t.is(rows.find((row) => row.client === "gemini")?.target, "http://localhost:7000/mcp");
  t.is(state("vscode"), "unreadable");
  t.is(state("windsurf"), "no-config");
  t.is(state("claude-desktop"), "no-config");

  const table = createCapturedIo();
  t.is(await ideList({}, table, h.deps), 0);
  t.regex(table.out(), /^CLIENT\s+SCOPE\s+STATE\s+CONFIG$/m);
  t.regex(table.out(), /^gemini\s+user\s+points elsewhere \(http:\/\/localhost:7000\/mcp\)/m);
  t.regex(table.out(), /^cursor\s+user\s+configured\s+\S+\.cursor\/mcp\.json$/m);

  // The gateway moved to another port: the entries no longer point at it.
  const moved = createCapturedIo();
  t.is(await ideList({ json: true }, moved, { ...h.deps, gatewayPort: async () => 9500 }), 0);
  t.is((JSON.parse(moved.out()) as { clients: { client: string; state: string }[] }).clients.find((row) => row.client === "cursor")?.state, "other");

  const removeAll = createCapturedIo();
  t.is(await ideRemove({}, removeAll, h.deps), 0);
  t.regex(removeAll.out(), /Cursor: removed/);
  t.is(readFileSync(join(h.home, ".claude.json"), "utf8"), fixture("claude.json"));
});

test("the program registers `dsctl ide` with its flags", async (t) => {
  const h = tempHome(t);
  const io = createCapturedIo();
  let exit = -1;
  const program = createProgram({
    io,
    paths: h.deps.paths,
    stdin: process.stdin,
    stdout: process.stdout,
    setExitCode: (code) => (exit = code),
    interrupt: () => new AbortController().signal,
    throwOnUsageError: true,
    ide: { home: h.home, platform: "linux", cwd: h.project, env: {}, gatewayPort: async () => 9444, stdio: STDIO },
  });
  await program.parseAsync(["node", "dsctl", "ide", "add", "gemini", "--dry-run", "--port", "9333"]);
  t.is(exit, 0, io.err());
  t.true(io.out().includes('+    "deploystack": {'), io.out());
  t.true(io.out().includes("http://localhost:9333/mcp"));
  t.false(existsSync(join(h.home, ".gemini")));
  await t.throwsAsync(program.parseAsync(["node", "dsctl", "ide", "add", "gemini", "--scope", "team"]), { message: /Allowed choices are user, workspace/ });
});
