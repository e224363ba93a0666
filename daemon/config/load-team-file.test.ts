import test from "ava";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GatewayError } from "../errors.js";
import { parseDuration } from "./duration.js";
import { embeddedTeamFilePath, loadTeamFile, parseTeamFile } from "./load-team-file.js";
import type { TeamsFile } from "./types.js";

const CANARY = "canary-secret-3f9a7c";

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "dsgw-config-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function writeFile(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** Loads a file expected to be invalid and returns the error message. */
async function problemsOf(t: import("ava").ExecutionContext, path: string): Promise<string> {
  const error = await t.throwsAsync(loadTeamFile(path, { variables: { DEPLOYSTACK_HOME: "/state" } }), { instanceOf: GatewayError });
  t.is((error as GatewayError).kind, "invalid_argument");
  return error!.message;
}

test("parseDuration accepts the documented forms and refuses the rest", (t) => {
  t.is(parseDuration("10m"), 600_000);
  t.is(parseDuration("30s"), 30_000);
  t.is(parseDuration("1h"), 3_600_000);
  t.is(parseDuration("500ms"), 500);
  t.is(parseDuration("1.5s"), 1_500);
  t.is(parseDuration(250), 250);
  t.is(parseDuration(0), 0);
  for (const bad of ["10", "10 minutes", "-1s", "m", "", -5, Number.NaN, null, true, [], {}]) {
    t.is(parseDuration(bad), undefined, `should refuse ${JSON.stringify(bad)}`);
  }
});

test("a minimal file gets every default", (t) => {
  const dir = tempDir(t);
  const path = writeFile(dir, "team.yaml", "teams:\n  - id: demo\n    servers:\n      - name: memory\n        command: npx\n");
  const file = parseTeamFile("teams:\n  - id: demo\n    servers:\n      - name: memory\n        command: npx\n", path, { variables: {} });
  const expected: TeamsFile = {
    path,
    defaultTeamId: "demo",
    gateway: {
      port: 9095,
      clientAuth: "none",
      allowedOrigins: [],
      controlAllowedOrigins: [],
      sessionIdleTimeoutMs: 1_800_000,
      maxSessions: 256,
      watch: true,
    },
    teams: [
      {
        id: "demo",
        name: "demo",
        slug: "demo",
        role: "team_admin",
        isDefault: true,
        servers: [
          {
            name: "memory",
            command: "npx",
            args: [],
            env: {},
            cwd: dir,
            enabled: true,
            startup: "eager",
            idleTimeoutMs: 600_000,
            startupTimeoutMs: 120_000,
            prefix: "memory",
          },
        ],
        policy: { allow: ["*"], deny: [], roles: {}, managementTools: false },
      },
    ],
  };
  t.deepEqual(file, expected);
});

test("the seed's format loads with every field", async (t) => {
  const dir = tempDir(t);
  const path = writeFile(
    dir,
    "team.yaml",
    `gateway: { port: 9200, clientAuth: token, allowedOrigins: ["https://app.example"], sessionIdleTimeout: 5m, maxSessions: 8, watch: false }
defaultTeam: second
teams:
  - id: demo
    name: Demo team
    servers:
      - name: brightdata
        command: npx
        args: ["@brightdata/mcp"]
        env: { API_TOKEN: "secure-token-from-vault", PORT: 8080, DEBUG: true }
        startup: lazy
        idleTimeout: 10m
        startupTimeout: 30s
        prefix: bd
        enabled: false
    policy:
      allow: ["*"]
      deny: ["brightdata-delete_*"]
      roles: { team_user: { deny: ["bd-admin_*"] } }
      managementTools: true
  - id: second
    role: team_user
`,
  );
  const file = await loadTeamFile(path, { variables: {} });
  t.is(file.defaultTeamId, "second");
  t.deepEqual(file.gateway, {
    port: 9200,
    clientAuth: "token",
    allowedOrigins: ["https://app.example"],
    controlAllowedOrigins: [],
    sessionIdleTimeoutMs: 300_000,
    maxSessions: 8,
    watch: false,
  });
  const [demo, second] = file.teams;
  t.false(demo.isDefault);
  t.true(second.isDefault);
  t.is(second.role, "team_user");
  t.deepEqual(second.servers, []);
  t.deepEqual(demo.servers[0], {
    name: "brightdata",
    command: "npx",
    args: ["@brightdata/mcp"],
    env: { API_TOKEN: "secure-token-from-vault", PORT: "8080", DEBUG: "true" },
    cwd: dir,
    enabled: false,
    startup: "lazy",
    idleTimeoutMs: 600_000,
    startupTimeoutMs: 30_000,
    prefix: "bd",
  });
  t.deepEqual(demo.policy, {
    allow: ["*"],
    deny: ["brightdata-delete_*"],
    roles: { team_user: { allow: [], deny: ["bd-admin_*"] } },
    managementTools: true,
  });
});

test("the embedded demo file loads, with package paths, node and the state folder resolved", async (t) => {
  const path = embeddedTeamFilePath();
  t.true(existsSync(path));
  const file = await loadTeamFile(path, { variables: { DEPLOYSTACK_HOME: "/tmp/dsgw-home" } });
  t.deepEqual(
    file.teams.map((team) => [team.id, team.servers.map((server) => server.name)]),
    [
      ["demo", ["everything", "memory"]],
      ["solo", ["memory"]],
    ],
  );
  t.is(file.defaultTeamId, "demo");
  for (const server of file.teams.flatMap((team) => team.servers)) {
    t.is(server.command, process.execPath);
    t.true(existsSync(server.args[0]), `${server.name}: ${server.args[0]} should exist`);
  }
  const memory = file.teams[0].servers[1];
  t.deepEqual(memory.env, { MEMORY_FILE_PATH: "/tmp/dsgw-home/memory-demo.jsonl" });
  t.is(file.teams[0].servers[0].args[1], "stdio");
});

test("a JSON file loads and its problems carry positions too", async (t) => {
  const dir = tempDir(t);
  const good = writeFile(dir, "team.json", JSON.stringify({ teams: [{ id: "a", servers: [{ name: "s", command: "x" }] }] }, null, 2));
  t.is((await loadTeamFile(good, { variables: {} })).teams[0].servers[0].command, "x");
  const bad = writeFile(dir, "bad.json", '{\n  "teams": [\n    {\n      "id": "a",\n      "servers": [{ "name": "s", "comand": "x" }]\n    }\n  ]\n}\n');
  const message = await problemsOf(t, bad);
  t.true(message.includes(`${bad}:5:34: teams[0].servers[0].comand: unknown field (did you mean "command"?)`), message);
  t.true(message.includes(`${bad}:5:19: teams[0].servers[0].command: required`), message);
});

test("a missing field names file, line, column and field path", async (t) => {
  const dir = tempDir(t);
  const path = writeFile(
    dir,
    "bad.yaml",
    `teams:
  - id: demo
    servers:
      - name: one
        command: npx

      - name: two
        args: ["x"]
`,
  );
  t.is(await problemsOf(t, path), `${path}:7:9: teams[0].servers[1].command: required`);
});

test("every problem is listed in one message, in file order", async (t) => {
  const dir = tempDir(t);
  const path = writeFile(
    dir,
    "bad.yaml",
    `gateway:
  port: 70000
  clientAuth: maybe
teams:
  - id: demo
    servers:
      - name: "bad name!"
        command: npx
        startup: sometimes
        idleTimeout: soon
        prefix: "has space"
        idle_timeout: 5m
      - name: dup
        command: a
      - name: dup
        command: b
  - id: demo
`,
  );
  const lines = (await problemsOf(t, path)).split("\n");
  t.deepEqual(lines, [
    `${path}:2:9: gateway.port: must be at most 65535`,
    `${path}:3:15: gateway.clientAuth: expected one of "none", "token"`,
    `${path}:7:15: teams[0].servers[0].name: must match ^[A-Za-z0-9_-]{1,64}$`,
    `${path}:9:18: teams[0].servers[0].startup: expected one of "eager", "lazy"`,
    `${path}:10:22: teams[0].servers[0].idleTimeout: expected a duration like "500ms", "30s", "10m", "1h" or a number of milliseconds`,
    `${path}:11:17: teams[0].servers[0].prefix: must match ^[A-Za-z0-9_-]{0,32}$ (empty means no prefix)`,
    `${path}:12:9: teams[0].servers[0].idle_timeout: unknown field (did you mean "idleTimeout"?)`,
    `${path}:15:15: teams[0].servers[2].name: duplicate server name "dup" (first at servers[1])`,
    `${path}:17:9: teams[1].id: duplicate team id "demo" (first at teams[0])`,
  ]);
});

test("wrong types name the expected and actual type", async (t) => {
  const dir = tempDir(t);
  const path = writeFile(dir, "bad.yaml", "teams:\n  - id: demo\n    servers:\n      - name: a\n        command: [npx]\n        args: npx\n        enabled: yes please\n");
  t.deepEqual((await problemsOf(t, path)).split("\n"), [
    `${path}:5:18: teams[0].servers[0].command: expected a string, got a list`,
    `${path}:6:15: teams[0].servers[0].args: expected a list, got a string`,
    `${path}:7:18: teams[0].servers[0].enabled: expected true or false, got a string`,
  ]);
});

test("file-level problems: empty file, no teams, unknown default team, not a map", async (t) => {
  const dir = tempDir(t);
  t.is(await problemsOf(t, writeFile(dir, "empty.yaml", "# nothing\n")), `${join(dir, "empty.yaml")}:1:1: file is empty; expected a map with a teams list`);
  t.is(await problemsOf(t, writeFile(dir, "list.yaml", "- a\n- b\n")), `${join(dir, "list.yaml")}:1:1: expected a map with a teams list`);
  t.is(await problemsOf(t, writeFile(dir, "none.yaml", "teams: []\n")), `${join(dir, "none.yaml")}:1:8: teams: must have at least 1 entry`);
  t.is(await problemsOf(t, writeFile(dir, "noteams.yaml", "gateway: {}\n")), `${join(dir, "noteams.yaml")}:1:1: teams: required`);
  t.is(
    await problemsOf(t, writeFile(dir, "default.yaml", "defaultTeam: nope\nteams:\n  - id: a\n")),
    `${join(dir, "default.yaml")}:1:14: defaultTeam: no team has the id "nope"`,
  );
  t.is(
    await problemsOf(t, writeFile(dir, "typo.yaml", "team:\n  - id: a\n")).then((m) => m.split("\n")[1]),
    `${join(dir, "typo.yaml")}:1:1: team: unknown field (did you mean "teams"?)`,
  );
});

test("YAML syntax errors carry the line and no source text", async (t) => {
  const dir = tempDir(t);
  const path = writeFile(
    dir,
    "bad.yaml",
    `teams:
  - id: demo
    servers:
      - name: a
        command: npx
        env: { TOKEN: "${CANARY}
`,
  );
  const message = await problemsOf(t, path);
  t.true(message.startsWith(`${path}:7:1: syntax error: missing closing quote or bracket`), message);
  t.false(message.includes(CANARY));
  const duplicate = writeFile(dir, "dup.yaml", "teams:\n  - id: a\n    id: b\n");
  t.is(await problemsOf(t, duplicate), `${duplicate}:3:5: syntax error: duplicate key`);
});

test("no env value ever appears in an error message", async (t) => {
  const dir = tempDir(t);
  const path = writeFile(
    dir,
    "bad.yaml",
    `teams:
  - id: demo
    servers:
      - name: a
        command: npx
        env:
          GOOD: "${CANARY}"
          NESTED: { inner: "${CANARY}" }
          LISTED: ["${CANARY}"]
          EMPTY:
          UNDEFINED_REF: "\${NOT_SET_${CANARY.replaceAll("-", "_")}}"
          "bad-name": "${CANARY}"
        comand: "${CANARY}"
`,
  );
  const message = await problemsOf(t, path);
  t.false(message.includes(CANARY), message);
  t.false(message.includes("canary"), message);
  t.true(message.includes(`${path}:8:19: teams[0].servers[0].env.NESTED: expected a string (the value is not shown)`), message);
  t.true(message.includes(`${path}:9:19: teams[0].servers[0].env.LISTED: expected a string (the value is not shown)`), message);
  t.true(message.includes(`${path}:10:11: teams[0].servers[0].env.EMPTY: expected a string (the value is not shown)`), message);
  t.true(message.includes(`teams[0].servers[0].env["bad-name"]: environment variable names must match`), message);
});

test("an undefined variable in an env value is reported without its name", async (t) => {
  const dir = tempDir(t);
  const path = writeFile(dir, "bad.yaml", `teams:\n  - id: a\n    servers:\n      - name: s\n        command: x\n        env: { T: "pre-\${SECRET_PART}" }\n        args: ["\${UNSET_ARG}"]\n`);
  const lines = (await problemsOf(t, path)).split("\n");
  t.deepEqual(lines, [
    `${path}:6:19: teams[0].servers[0].env.T: refers to an undefined variable (the value is not shown)`,
    `${path}:7:16: teams[0].servers[0].args[0]: undefined variable \${UNSET_ARG}`,
  ]);
  t.false(lines.join("\n").includes("SECRET_PART"));
});

test("variables, relative commands and cwd resolve against the file; cwd defaults to its folder", async (t) => {
  const dir = tempDir(t);
  const path = writeFile(
    dir,
    "team.yaml",
    `teams:
  - id: a
    servers:
      - name: local
        command: ./bin/server
        cwd: data
        args: ["\${DEPLOYSTACK_HOME}/x", "$\${LITERAL}", "plain"]
        env: { TOKEN: "\${MY_TOKEN}" }
      - name: onpath
        command: python3
      - name: absolute
        command: /usr/bin/env
        cwd: /tmp
      - name: pkg
        command: node
        args: ["package:@modelcontextprotocol/server-memory/dist/index.js"]
`,
  );
  const file = await loadTeamFile(path, { variables: { DEPLOYSTACK_HOME: "/state", MY_TOKEN: "t0k" } });
  const [local, onPath, absolute, pkg] = file.teams[0].servers;
  t.is(local.command, join(dir, "bin/server"));
  t.is(local.cwd, join(dir, "data"));
  t.deepEqual(local.args, ["/state/x", "${LITERAL}", "plain"]);
  t.deepEqual(local.env, { TOKEN: "t0k" });
  t.is(onPath.command, "python3");
  t.is(onPath.cwd, dir, "without cwd a server runs in the team file's folder");
  t.is(absolute.command, "/usr/bin/env");
  t.is(absolute.cwd, "/tmp");
  t.is(pkg.command, process.execPath);
  t.true(existsSync(pkg.args[0]));
});

test("an unknown package reference is reported at its position", async (t) => {
  const dir = tempDir(t);
  const path = writeFile(dir, "team.yaml", `teams:\n  - id: a\n    servers:\n      - name: s\n        command: node\n        args: ["package:@nope/not-installed/x.js"]\n`);
  t.is(
    await problemsOf(t, path),
    `${path}:6:16: teams[0].servers[0].args[0]: cannot find "@nope/not-installed/x.js" in the installed npm packages`,
  );
});

test("a missing file is not_found and names the file", async (t) => {
  const dir = tempDir(t);
  const error = await t.throwsAsync(loadTeamFile(join(dir, "nope.yaml")), { instanceOf: GatewayError });
  t.is((error as GatewayError).kind, "not_found");
  t.is(error!.message, `team file "${join(dir, "nope.yaml")}" not found`);
});

test("displayPath names the file in messages", async (t) => {
  const dir = tempDir(t);
  const path = writeFile(dir, "bad.yaml", "teams:\n  - name: x\n    owner: me\n");
  const error = await t.throwsAsync(loadTeamFile(path, { displayPath: "examples/bad.yaml", variables: {} }));
  t.deepEqual(error!.message.split("\n"), [
    "examples/bad.yaml:2:5: teams[0].id: required",
    "examples/bad.yaml:3:5: teams[0].owner: unknown field",
  ]);
});

test("roots: folder paths resolve against the file, file:// URIs are kept, each with its folder's name", async (t) => {
  const dir = tempDir(t);
  const path = writeFile(
    dir,
    "team.yaml",
    `teams:
  - id: a
    servers:
      - name: rooted
        command: x
        roots: ["projects/web", "/srv/shared data", "file:///home/dev/notes", "\${DEPLOYSTACK_HOME}/work"]
      - name: plain
        command: x
`,
  );
  const file = await loadTeamFile(path, { variables: { DEPLOYSTACK_HOME: "/state" } });
  const [rooted, plain] = file.teams[0].servers;
  t.deepEqual(rooted.roots, [
    { uri: `file://${join(dir, "projects/web")}`, name: "web" },
    { uri: "file:///srv/shared%20data", name: "shared data" },
    { uri: "file:///home/dev/notes", name: "notes" },
    { uri: "file:///state/work", name: "work" },
  ]);
  t.is(plain.roots, undefined);
});

test("roots: other schemes, remote file URIs and wrong types are reported at their position", async (t) => {
  const dir = tempDir(t);
  const path = writeFile(
    dir,
    "team.yaml",
    `teams:
  - id: a
    servers:
      - name: s
        command: x
        roots:
          - https://example.com/repo
          - file://otherhost/share
      - name: t
        command: x
        roots: [42]
`,
  );
  const lines = (await problemsOf(t, path)).split("\n");
  t.deepEqual(lines, [
    `${path}:11:17: teams[0].servers[1].roots[0]: expected a string, got an integer`,
  ]);
  const second = writeFile(dir, "second.yaml", `teams:\n  - id: a\n    servers:\n      - name: s\n        command: x\n        roots:\n          - https://example.com/repo\n          - file://otherhost/share\n`);
  t.deepEqual((await problemsOf(t, second)).split("\n"), [
    `${second}:7:13: teams[0].servers[0].roots[0]: must be a folder path or a file:// URI`,
    `${second}:8:13: teams[0].servers[0].roots[1]: must be an absolute file:// URI of a local folder (file:///path)`,
  ]);
});

test("requestTimeout: a duration per server, absent by default (the connection's own defaults apply), never 0", async (t) => {
  const dir = tempDir(t);
  const path = writeFile(
    dir,
    "team.yaml",
    `teams:
  - id: a
    servers:
      - name: quick
        command: x
        requestTimeout: 90s
      - name: plain
        command: x
`,
  );
  const [quick, plain] = (await loadTeamFile(path)).teams[0].servers;
  t.is(quick.requestTimeoutMs, 90_000);
  t.is(plain.requestTimeoutMs, undefined);
  const bad = writeFile(dir, "bad.yaml", `teams:\n  - id: a\n    servers:\n      - name: s\n        command: x\n        requestTimeout: 0\n      - name: t\n        command: x\n        requestTimeout: forever\n`);
  t.deepEqual((await problemsOf(t, bad)).split("\n"), [
    `${bad}:6:25: teams[0].servers[0].requestTimeout: must be more than 0`,
    `${bad}:9:25: teams[0].servers[1].requestTimeout: expected a duration like "500ms", "30s", "10m", "1h" or a number of milliseconds`,
  ]);
});

test("prefix overlaps that let names collide are warnings naming both servers, at the second server's prefix; the file still loads", (t) => {
  const text = [
    "teams:",
    "  - id: demo",
    "    servers:",
    "      - name: kb",
    "        command: node",
    "      - name: kb-memory",
    "        command: node",
    "      - name: notes",
    "        command: node",
    "        prefix: kb",
    "      - name: apart",
    "        command: node",
    "",
  ].join("\n");
  const file = parseTeamFile(text, "/tmp/team.yaml", { displayPath: "team.yaml", variables: {} });
  t.is(file.teams[0]!.servers.length, 4, "warnings never reject the file");
  t.deepEqual(file.warnings, [
    'team.yaml:6:15: teams[0].servers[1].name: warning: prefix "kb-memory" of server "kb-memory" begins with prefix "kb" of server "kb": tool and prompt names can collide (server "kb-memory" keeps the names that begin with "kb-memory-")',
    'team.yaml:6:15: teams[0].servers[1].name: warning: prefix "kb-memory" of server "kb-memory" begins with prefix "kb" of server "notes": tool and prompt names can collide (server "kb-memory" keeps the names that begin with "kb-memory-")',
    'team.yaml:10:17: teams[0].servers[2].prefix: warning: server "notes" has the same prefix "kb" as server "kb": their tool and prompt names can collide (the first to hold a name keeps it, the other is renamed)',
  ]);
  const clean = parseTeamFile("teams:\n  - id: demo\n    servers:\n      - { name: a, command: node }\n      - { name: b, command: node }\n", "/tmp/t.yaml", { variables: {} });
  t.is(clean.warnings, undefined);
});

test("gateway: sessionInitTimeout, http and controlHttp load as the listeners' limits; only what is set is passed on", async (t) => {
  const dir = tempDir(t);
  const path = writeFile(
    dir,
    "team.yaml",
    `gateway:
  sessionInitTimeout: 5s
  http: { headersTimeout: 2s, requestTimeout: 1m, maxConnections: 64 }
  controlHttp: { maxConnections: 4 }
teams:
  - id: demo
`,
  );
  const { gateway } = await loadTeamFile(path, { variables: {} });
  t.is(gateway.sessionInitTimeoutMs, 5_000);
  t.deepEqual(gateway.http, { headersTimeoutMs: 2_000, requestTimeoutMs: 60_000, maxConnections: 64 });
  t.deepEqual(gateway.controlHttp, { maxConnections: 4 });

  const bare = await loadTeamFile(writeFile(dir, "bare.yaml", "teams:\n  - id: demo\n"), { variables: {} });
  t.false("sessionInitTimeoutMs" in bare.gateway || "http" in bare.gateway || "controlHttp" in bare.gateway, "absent: the listeners' own defaults");
});

test("gateway: bad listener limits are refused with their position", async (t) => {
  const dir = tempDir(t);
  const shorter = writeFile(dir, "shorter.yaml", "gateway:\n  http: { headersTimeout: 20s, requestTimeout: 5s }\nteams:\n  - id: demo\n");
  t.regex(await problemsOf(t, shorter), /shorter\.yaml:2:\d+: gateway\.http\.requestTimeout: requestTimeout \(5000 ms\) must not be shorter than headersTimeout \(20000 ms\)/);
  // Only the headers timeout is set, past the default request timeout (30 s): the field to fix is the one written.
  const pastDefault = writeFile(dir, "past-default.yaml", "gateway:\n  controlHttp: { headersTimeout: 45s }\nteams:\n  - id: demo\n");
  t.regex(await problemsOf(t, pastDefault), /gateway\.controlHttp\.headersTimeout: requestTimeout \(30000 ms\) must not be shorter/);
  const zero = writeFile(dir, "zero.yaml", "gateway:\n  sessionInitTimeout: 0s\n  http: { maxConnections: 0 }\nteams:\n  - id: demo\n");
  const message = await problemsOf(t, zero);
  t.regex(message, /gateway\.sessionInitTimeout: must be more than 0/);
  t.regex(message, /gateway\.http\.maxConnections/);
});
