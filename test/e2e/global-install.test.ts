import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, relative } from "node:path";
import test from "ava";
import { repoRoot } from "./helpers/daemon-process.js";
import { startLockfileRegistry } from "./helpers/lockfile-registry.js";

// Install anywhere: the package as npm publishes it (`npm pack`) is installed globally into a temporary prefix with
// nothing from the network (dependencies from the local npm cache; see lockfile-registry.ts for why a loopback
// registry must serve their metadata), then the installed `dsctl`, run from an empty folder with only Node on the
// PATH, starts the gateway on the embedded demo team, calls a tool, and stops it. Every module the built code imports
// must resolve among production dependencies alone.

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(command: string, args: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Every `.js` file under `folder`. */
function javascriptFiles(folder: string): string[] {
  return readdirSync(folder, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".js"))
    .map((file) => join(folder, file));
}

/** The bare specifiers (packages) a built file imports, statically or dynamically. */
function bareImports(source: string): string[] {
  const found = new Set<string>();
  for (const match of source.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s*"([^"]+)"|import\(\s*"([^"]+)"\s*\)/g)) {
    const specifier = match[1] ?? match[2]!;
    if (!specifier.startsWith(".") && !specifier.startsWith("node:") && !specifier.startsWith("/")) found.add(specifier);
  }
  return [...found];
}

test("npm pack → npm install -g from the local cache → dsctl start, a tool call, dsctl stop", async (t) => {
  t.timeout(600_000);
  const root = mkdtempSync(join(tmpdir(), "dsctl-global-"));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const prefix = join(root, "prefix");
  const home = join(root, "state");
  const work = join(root, "work");
  mkdirSync(work);
  const npmEnv = { ...process.env, npm_config_update_notifier: "false", npm_config_fund: "false", npm_config_audit: "false" };

  // The tarball npm would publish (dist/ is built before the tests run; --ignore-scripts keeps the shared working
  // tree's dist/ as it is while other tests use it).
  const packed = await run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", root], { cwd: repoRoot, env: npmEnv });
  t.is(packed.code, 0, packed.stderr);
  const [manifest] = JSON.parse(packed.stdout) as [{ filename: string; files: { path: string }[] }];
  const tarball = join(root, manifest.filename);
  const shipped = manifest.files.map((file) => file.path);
  t.true(shipped.includes("examples/demo-team.yaml"), "the embedded demo team ships");
  t.true(shipped.includes("dist/cli/main.js"));
  t.true(shipped.includes("scripts/postinstall.mjs"), "the postinstall script ships with the package that runs it");
  t.false(shipped.some((path) => path.endsWith(".test.js")), "no tests ship");

  const registry = await startLockfileRegistry(join(repoRoot, "package-lock.json"));
  t.teardown(() => registry.close());
  const installed = await run(
    "npm",
    ["install", "-g", "--prefix", prefix, "--prefer-offline", "--registry", registry.url, "--no-audit", "--no-fund", "--loglevel=error", tarball],
    { cwd: work, env: npmEnv },
  );
  t.is(installed.code, 0, `${installed.stdout}\n${installed.stderr}`);
  t.deepEqual(registry.tarballRequests, [], "every package came from the local npm cache");

  const packageDir = join(prefix, "lib/node_modules/deploystack-gateway");
  const bin = join(prefix, "bin/dsctl");
  t.true(existsSync(bin), "the dsctl bin is linked");
  t.true(statSync(bin).isFile());
  const modules = readdirSync(join(packageDir, "node_modules"));
  for (const dev of ["typescript", "ava", "tsx", "@bufbuild/buf", "@modelcontextprotocol/inspector"]) {
    t.false(modules.includes(dev.split("/")[0]!) && existsSync(join(packageDir, "node_modules", dev)), `${dev} (a dev dependency) is not installed`);
  }

  // Every package the built code imports resolves from the installed copy, with production dependencies only.
  const specifiers = new Set<string>();
  for (const file of javascriptFiles(join(packageDir, "dist"))) for (const specifier of bareImports(readFileSync(file, "utf8"))) specifiers.add(specifier);
  t.true(specifiers.has("commander") && specifiers.has("@connectrpc/connect"), [...specifiers].join(" "));
  const resolver = [
    "const failures = [];",
    `for (const specifier of ${JSON.stringify([...specifiers])}) { try { import.meta.resolve(specifier); } catch (error) { failures.push(specifier + ": " + error.message); } }`,
    "process.stdout.write(JSON.stringify(failures));",
  ].join("\n");
  const resolved = await run(process.execPath, ["--input-type=module", "-e", resolver], { cwd: join(packageDir, "dist/cli"), env: process.env });
  t.is(resolved.code, 0, resolved.stderr);
  t.deepEqual(JSON.parse(resolved.stdout), [], `imports resolve in ${relative(root, packageDir)}`);

  // The installed dsctl, from an empty folder, with only Node and the prefix on the PATH.
  const env: NodeJS.ProcessEnv = { PATH: [join(prefix, "bin"), dirname(process.execPath), "/usr/bin", "/bin"].join(delimiter), HOME: root, DEPLOYSTACK_HOME: home };
  const dsctl = (...args: string[]): Promise<Run> => run(bin, args, { cwd: work, env });
  t.teardown(async () => {
    await dsctl("stop");
  });

  const version = await dsctl("--version");
  t.is(version.stdout.trim(), (JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string }).version);

  const started = await dsctl("start", "--port", "0");
  t.is(started.code, 0, `${started.stdout}\n${started.stderr}`);
  t.regex(started.stdout, /^gateway started \(pid \d+\)$/m);
  t.regex(started.stdout, /mcp\s+http:\/\/localhost:\d+\/mcp/);

  const status = await dsctl("status", "--json");
  t.is(status.code, 0, status.stderr);
  t.is((JSON.parse(status.stdout) as { configPath?: string }).configPath, join(packageDir, "examples/demo-team.yaml"), "the embedded demo team of the installed copy");

  const call = await dsctl("tools", "call", "everything-echo", "--args", '{"message":"hello from a global install"}');
  t.is(call.code, 0, `${call.stdout}\n${call.stderr}`);
  t.true(call.stdout.includes("hello from a global install"), call.stdout);

  const stopped = await dsctl("stop");
  t.is(stopped.code, 0, stopped.stderr);
  const after = await dsctl("status");
  t.is(after.code, 1);
  t.regex(after.stderr, /cannot reach the gateway daemon/);
});
