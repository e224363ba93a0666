import { EventEmitter } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import { startFakeDeployStack, followAuthorizationUrl, type FakeServer } from "../../test/fixtures/fake-deploystack/fake-deploystack.js";
import { createConfigHasher } from "../cache/config-hash.js";
import { createToolCache } from "../cache/tool-cache.js";
import { createCloudClient } from "../cloud/cloud-client.js";
import { loadTeamFile } from "../config/load-team-file.js";
import type { ServerConfig, TeamConfig, TeamsFile } from "../config/types.js";
import { GatewayError } from "../errors.js";
import { createEventHub, type GatewayEvent } from "../events.js";
import type { ServerCatalog } from "../supervisor/types.js";
import type { TeamAccessPolicy } from "../policy/access-policy.js";
import { createVault } from "../vault/vault.js";
import { createCacheSeeding } from "./cache-seeding.js";
import { createControlPlane, type ControlPlaneTargets } from "./control-plane.js";
import { findTeam } from "./find-team.js";
import { diffServers } from "./server-diff.js";
import { createTeamChoiceStore } from "./team-choice.js";

/**
 * The control plane with real stores (vault with a key file, tool cache, the cloud client
 * against the fake DeployStack on loopback) and an injected supervisor and registry that
 * record what they were told — the daemon's real supervisor is exercised end to end in
 * test/e2e/control-plane-*.test.ts.
 */

const server = (name: string, overrides: Partial<ServerConfig> = {}): ServerConfig => ({
  name,
  command: "node",
  args: [`${name}.js`],
  env: {},
  enabled: true,
  startup: "eager",
  idleTimeoutMs: 600_000,
  startupTimeoutMs: 120_000,
  prefix: name,
  ...overrides,
});

const policy = { allow: ["*"], deny: [], roles: { team_user: { allow: [], deny: ["a-secret"] } }, managementTools: false };
const team = (id: string, name: string, servers: ServerConfig[], role = "team_admin"): TeamConfig => ({
  id,
  name,
  slug: id,
  role,
  isDefault: false,
  servers,
  policy,
});

const file = (teams: TeamConfig[]): TeamsFile => ({
  path: "/tmp/teams.yaml",
  teams,
  defaultTeamId: teams[0].id,
  gateway: { port: 0, clientAuth: "none", allowedOrigins: [], controlAllowedOrigins: [], sessionIdleTimeoutMs: 1, maxSessions: 1, watch: false },
});

const catalog = (tool: string): ServerCatalog => ({ tools: [{ name: tool, inputSchema: { type: "object" } }], prompts: [], resources: [], resourceTemplates: [] });

function recordingTargets() {
  const emitter = new EventEmitter();
  const replaced: string[][] = [];
  let configs = new Map<string, ServerConfig>();
  let seeds = new Map<string, ServerCatalog>();
  const policies: TeamAccessPolicy[] = [];
  const targets: ControlPlaneTargets = {
    supervisor: {
      async replaceServers(next) {
        replaced.push(next.map((s) => s.name));
        configs = new Map(next.map((s) => [s.name, s]));
      },
      catalog: () => undefined,
      config(name) {
        const config = configs.get(name);
        if (!config) throw new GatewayError("not_found", `server "${name}" not found`);
        return config;
      },
      on(event: string, listener: Parameters<EventEmitter["on"]>[1]) {
        emitter.on(event, listener);
        return this as never;
      },
      off(event: string, listener: Parameters<EventEmitter["on"]>[1]) {
        emitter.off(event, listener);
        return this as never;
      },
    } as ControlPlaneTargets["supervisor"],
    registry: {
      replaceSeeds: (value) => void (seeds = new Map(value)),
      setPolicy: (value) => void policies.push(value),
    },
  };
  return {
    targets,
    replaced,
    /** The registry's seeds right now (replaced as a whole on every seeding). */
    seeds: () => seeds,
    policies,
    start: (servers: readonly ServerConfig[]) => (configs = new Map(servers.map((s) => [s.name, s]))),
    discover: (name: string, value: ServerCatalog) => emitter.emit("catalog", name, value),
  };
}

interface SetupOptions {
  readonly home?: string;
  readonly cloudUrl?: string;
  /** The team file as loaded at start and re-read by sync (default: `teams`, in memory). */
  readonly initialFile?: TeamsFile;
  readonly loadFile?: () => Promise<TeamsFile>;
  readonly serversDir?: string;
}

async function setup(t: ExecutionContext, teams: TeamConfig[], options: SetupOptions = {}) {
  const home = options.home ?? mkdtempSync(join(tmpdir(), "dsgw-"));
  if (!options.home) t.teardown(() => rmSync(home, { recursive: true, force: true }));
  const vault = await createVault({ home, env: {} });
  const cloud = createCloudClient({ vault, baseUrl: options.cloudUrl });
  const cacheDir = join(home, "cache");
  const cache = createCacheSeeding({ cache: createToolCache({ cacheDir }), configHash: createConfigHasher(vault.deriveKey("tool-cache")) });
  const events: GatewayEvent[] = [];
  const hub = createEventHub();
  hub.subscribe((event) => events.push(event));
  const plane = await createControlPlane({
    events: hub,
    initialFile: options.initialFile ?? file(teams),
    loadFile: options.loadFile ?? (async () => file(teams)),
    choices: createTeamChoiceStore({ home, vault }),
    cloud,
    cache,
    syncIntervalMs: 0,
    callbackPort: 0,
    serversDir: options.serversDir,
  });
  t.teardown(() => plane.close());
  const recorder = recordingTargets();
  recorder.start(plane.currentTeam().servers);
  await plane.attach(recorder.targets);
  return { home, plane, events, vault, cacheDir, ...recorder };
}

async function login(plane: Awaited<ReturnType<typeof setup>>["plane"]) {
  const attempt = await plane.beginLogin({});
  await followAuthorizationUrl(attempt.authorizationUrl);
  return attempt.done;
}

test("diffServers: added, removed, changed (with the new config's fields), unchanged, invalid; no env values", (t) => {
  const changes = diffServers(
    [server("a"), server("b", { env: { TOKEN: "old-secret" } }), server("c"), server("d")],
    [server("a"), server("b", { env: { TOKEN: "new-secret" } }), server("c", { prefix: "see" }), server("e")],
    [{ name: "Broken", reason: "a setting is missing" }],
  );
  t.deepEqual(changes, [
    { serverName: "Broken", kind: "invalid", reason: "not started: a setting is missing" },
    { serverName: "a", kind: "unchanged" },
    { serverName: "b", kind: "changed", reason: "env changed — restarted with the new config" },
    { serverName: "c", kind: "changed", reason: "settings changed — applied without a restart" },
    { serverName: "d", kind: "removed" },
    { serverName: "e", kind: "added" },
  ]);
  t.false(JSON.stringify(changes).includes("secret"));
});

test("findTeam: by id, name, slug or name in any case; never by position", (t) => {
  const teams = [team("t1", "Alpha", []), team("t2", "Beta", []), team("t3", "beta", [])];
  t.is(findTeam(teams, "t2").id, "t2");
  t.is(findTeam(teams, "Alpha").id, "t1");
  t.is(findTeam(teams, "alpha").id, "t1");
  t.is(findTeam(teams, "beta").id, "t3", "an exact name wins over a case-insensitive one");
  for (const reference of ["1", "0", "gamma"]) {
    const error = t.throws(() => findTeam(teams, reference), { instanceOf: GatewayError });
    t.is(error?.kind, "not_found");
  }
  t.is(t.throws(() => findTeam([team("x", "Same", []), team("y", "Same", [])], "Same"), { instanceOf: GatewayError })?.kind, "invalid_argument");
});

test("file source: a switch applies the team's servers and policy, is announced, and is remembered across restarts", async (t) => {
  const teams = [team("red", "Red", [server("a"), server("b")]), team("blue", "Blue", [server("a"), server("c")], "team_user")];
  const first = await setup(t, teams);
  t.is(first.plane.currentTeam().id, "red");
  t.is(first.policies.at(-1)?.role, "team_admin");
  const switched = await first.plane.switchTeam("Blue");
  t.is(switched.id, "blue");
  t.deepEqual(first.replaced, [["a", "c"]]);
  t.is(first.policies.at(-1)?.role, "team_user");
  t.like(first.plane.explain("a-secret"), { allowed: false, role: "team_user", tool: "a-secret" });
  t.deepEqual(
    first.events.map((event) => event.kind),
    ["team_switched"],
  );
  const second = await setup(t, teams, { home: first.home });
  t.is(second.plane.currentTeam().id, "blue");
});

test("the tool cache: saved on discovery, seeded on start and switch only when the config fingerprint matches", async (t) => {
  const teams = [team("red", "Red", [server("a"), server("b")]), team("blue", "Blue", [server("a", { args: ["other.js"] })])];
  const first = await setup(t, teams);
  first.discover("a", catalog("a_tool"));
  first.discover("b", catalog("b_tool"));
  const cacheFile = join(first.cacheDir, "teams/red/tools.json");
  t.true(
    await waitFor(() => {
      try {
        const saved = JSON.parse(readFileSync(cacheFile, "utf8")) as { servers: Record<string, unknown> };
        return "a" in saved.servers && "b" in saved.servers;
      } catch {
        return false;
      }
    }),
    "both discoveries were saved",
  );
  const second = await setup(t, teams, { home: first.home });
  t.deepEqual([...second.seeds().keys()].sort(), ["a", "b"]);
  t.deepEqual(second.seeds().get("a")?.tools, catalog("a_tool").tools);
  await second.plane.switchTeam("blue");
  t.deepEqual([...second.seeds().keys()], [], "blue's `a` runs other args: neither red's seed nor red's cache entry answers for it");
});

test("cloud: login switches to the cloud source; a different account wipes the previous one's caches; logout returns to the file", async (t) => {
  const canary = "canary-unit-0123";
  const servers: FakeServer[] = [{ id: "s1", name: "Echo", command: "node", args: ["echo.js"], env: { TOKEN: canary }, status: "ready" }];
  const fake = await startFakeDeployStack({ servers });
  t.teardown(() => fake.close());
  const other = await startFakeDeployStack({ servers });
  t.teardown(() => other.close());
  const ctx = await setup(t, [team("local", "Local", [server("l")])], { cloudUrl: fake.url });

  const result = await login(ctx.plane);
  t.is(result.user.email, "dev@example.com");
  t.is(result.team.id, "team-alpha-0001");
  t.is(ctx.plane.source(), "deploystack");
  t.is(ctx.plane.location(), fake.url);
  t.deepEqual(ctx.replaced.at(-1), ["echo"]);
  t.deepEqual(ctx.events.map((event) => event.kind), ["team_switched"]);
  ctx.discover("echo", catalog("echo_tool"));
  t.true(await waitFor(() => existsSync(join(ctx.cacheDir, "teams/team-alpha-0001/tools.json"))));

  const relogin = await ctx.plane.beginLogin({ url: other.url });
  await followAuthorizationUrl(relogin.authorizationUrl);
  await relogin.done;
  t.false(existsSync(join(ctx.cacheDir, "teams/team-alpha-0001")), "another API means another account: its caches are gone");
  t.is(ctx.plane.location(), other.url);

  await ctx.plane.switchTeam("Beta Team");
  t.is((await ctx.vault.list("cloud.")).includes("cloud.current-team"), true);
  await ctx.plane.logout();
  t.is(ctx.plane.source(), "file");
  t.is(ctx.plane.currentTeam().id, "local");
  t.deepEqual(ctx.replaced.at(-1), ["l"]);
  t.deepEqual(await ctx.vault.list("cloud."), []);
  t.false((await ctx.plane.whoAmI()).loggedIn);
  t.is(ctx.events.filter((event) => event.kind === "team_switched").length, 3);
});

test("without a vault there is no login, and the file source still works", async (t) => {
  const home = mkdtempSync(join(tmpdir(), "dsgw-"));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  const plane = await createControlPlane({
    events: createEventHub(),
    initialFile: file([team("local", "Local", [server("l")])]),
    loadFile: async () => file([team("local", "Local", [server("l")])]),
    choices: createTeamChoiceStore({ home }),
    syncIntervalMs: 0,
  });
  t.is(plane.currentTeam().id, "local");
  const error = await t.throwsAsync(plane.beginLogin({}), { instanceOf: GatewayError });
  t.is(error?.kind, "failed_precondition");
  t.regex(error?.message ?? "", /vault could not be opened/);
  t.deepEqual(await plane.whoAmI(), { loggedIn: false, expired: false });
});

test("reloadFile (hot reload) on a real file: a mistake keeps the running config and is reported with file:line:column:field until fixed", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "dsgw-reload-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "team.yaml");
  const yaml = (env: string, extra = ""): string =>
    `teams:\n  - id: red\n    servers:\n      - name: a\n        command: a-bin\n      - name: b\n        command: b-bin\n        env: { MARK: "${env}" }\n${extra}`;
  writeFileSync(path, yaml("one"));
  const load = () => loadTeamFile(path, { variables: {} });
  const ctx = await setup(t, [], { initialFile: await load(), loadFile: load });
  t.is(ctx.plane.configError(), undefined);

  writeFileSync(path, yaml("two", "        startup: sometimes\n"));
  await ctx.plane.reloadFile();
  const error = ctx.plane.configError();
  t.is(error?.path, path);
  t.is(error?.message, `${path}:9:18: teams[0].servers[1].startup: expected one of "eager", "lazy"`);
  t.false(error?.message.includes("two"), "no value from the file");
  t.deepEqual(ctx.events.map((event) => event.kind), ["config_error"]);
  t.like(ctx.events[0], { kind: "config_error", path, message: error?.message });
  t.is(ctx.replaced.length, 0, "nothing was applied");
  t.is(ctx.targets.supervisor.config("b").env.MARK, "one");

  writeFileSync(path, yaml("two"));
  await ctx.plane.reloadFile();
  t.is(ctx.plane.configError(), undefined, "fixed: the error clears");
  t.deepEqual(ctx.events.map((event) => event.kind), ["config_error", "config_synced"]);
  const synced = ctx.events[1];
  t.deepEqual(
    synced.kind === "config_synced" ? synced.changes.map((change) => [change.serverName, change.kind]) : [],
    [
      ["a", "unchanged"],
      ["b", "changed"],
    ],
  );
  t.is(ctx.targets.supervisor.config("b").env.MARK, "two");
  t.is(ctx.targets.supervisor.config("a").cwd, dir, "servers run in the team file's folder");
});

test("cloud servers each get a 0700 working folder of their own under the servers folder, the same for every team", async (t) => {
  const fake = await startFakeDeployStack({
    servers: [
      { id: "s1", name: "Echo", command: "node", args: ["echo.js"], env: {}, status: "ready" },
      { id: "s2", name: "Notes", command: "node", args: ["notes.js"], env: {}, status: "ready" },
    ],
  });
  t.teardown(() => fake.close());
  const home = mkdtempSync(join(tmpdir(), "dsgw-"));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  const serversDir = join(home, "servers");
  const ctx = await setup(t, [team("local", "Local", [server("l")])], { home, cloudUrl: fake.url, serversDir });
  await login(ctx.plane);
  for (const name of ["echo", "notes"]) {
    const cwd = ctx.targets.supervisor.config(name).cwd;
    t.is(cwd, join(serversDir, name));
    t.is(statSync(cwd!).mode & 0o777, 0o700);
  }
  await ctx.plane.switchTeam("Beta Team");
  t.is(ctx.targets.supervisor.config("echo").cwd, join(serversDir, "echo"), "a team switch keeps the folder (and so the process)");
});

async function waitFor(condition: () => boolean, timeoutMs = 30_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}
