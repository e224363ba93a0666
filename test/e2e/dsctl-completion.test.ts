import { spawn } from "node:child_process";
import { join } from "node:path";
import test from "ava";
import { normalServer, repoRoot, startDaemon, tempHome } from "./helpers/daemon-process.js";

// Shell completion end to end: the script `dsctl completion bash` prints is sourced in a real bash, its function runs
// with COMP_WORDS set as bash sets them on Tab, and the candidates come from the built CLI: verbs and flags from the
// command tree, server and tool names live from a real daemon, nothing (and no error) when no daemon runs.

const cliMain = join(repoRoot, "dist/cli/main.js");

function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

async function script(home: string, shell: string): Promise<string> {
  const generated = await run(process.execPath, [cliMain, "completion", shell], { ...process.env, DEPLOYSTACK_HOME: home });
  if (generated.code !== 0) throw new Error(generated.stderr);
  return generated.stdout;
}

/** Runs the bash completion function for `line` (the cursor at its end) and returns COMPREPLY. */
async function bashComplete(home: string, completion: string, line: string): Promise<string[]> {
  const words = line.split(" ");
  const program = [
    completion,
    `COMP_WORDS=(${words.map((word) => `'${word}'`).join(" ")})`,
    `COMP_CWORD=${words.length - 1}`,
    `COMP_LINE='${line}'`,
    `COMP_POINT=${line.length}`,
    "_dsctl_complete",
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join("\n");
  const result = await run("bash", ["--norc", "--noprofile", "-c", program], {
    PATH: process.env.PATH,
    DEPLOYSTACK_HOME: home,
    // A loaded CI machine may take longer than a Tab's 300 ms to answer; the names, not the speed, are under test.
    DSCTL_COMPLETION_TIMEOUT_MS: "20000",
  });
  if (result.code !== 0) throw new Error(`bash failed: ${result.stderr}`);
  return result.stdout.split("\n").filter((candidate) => candidate !== "");
}

test("bash: verbs and flags without a daemon, silently; live server and tool names with one", async (t) => {
  const idle = tempHome(t);
  const bash = await script(idle, "bash");
  // Other verbs come and go: check that the known ones are offered and that every candidate fits the typed prefix.
  const se = await bashComplete(idle, bash, "dsctl se");
  t.true(se.includes("servers") && se.every((verb) => verb.startsWith("se")), se.join(" "));
  const serverVerbs = await bashComplete(idle, bash, "dsctl servers ");
  for (const verb of ["disable", "enable", "get", "list", "logs", "restart"]) t.true(serverVerbs.includes(verb), verb);
  t.deepEqual(await bashComplete(idle, bash, "dsctl tools call --a"), ["--args"]);
  t.deepEqual(await bashComplete(idle, bash, "dsctl ide add c"), ["claude-code", "claude-desktop", "codex", "cursor"]);
  t.deepEqual(await bashComplete(idle, bash, "dsctl servers get "), [], "no daemon: no names, no error");

  const daemon = await startDaemon(t, { servers: [normalServer("alpha"), normalServer("beta")] });
  const completion = await script(daemon.home, "bash");
  // Tool names exist once alpha has listed its tools: wait for them rather than racing its start-up.
  const deadline = Date.now() + 60_000;
  while ((await daemon.clients.mcp.listTools({})).tools.every((tool) => !tool.name.startsWith("alpha-")) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.deepEqual(await bashComplete(daemon.home, completion, "dsctl servers restart "), ["alpha", "beta"]);
  t.deepEqual(await bashComplete(daemon.home, completion, "dsctl tools list --server b"), ["beta"]);
  const tools = await bashComplete(daemon.home, completion, "dsctl tools call alpha-");
  t.true(tools.length > 0 && tools.every((tool) => tool.startsWith("alpha-")), tools.join(" "));
  const expected = (await daemon.clients.mcp.listTools({})).tools.map((tool) => tool.name).filter((name) => name.startsWith("alpha-")).sort();
  t.deepEqual(tools, expected);
  t.deepEqual(await bashComplete(daemon.home, completion, "dsctl teams switch "), ["e2e"]);
});

test("zsh and fish scripts are generated, and parse when the shell is installed", async (t) => {
  const home = tempHome(t);
  for (const shell of ["zsh", "fish"]) {
    const text = await script(home, shell);
    t.true(text.includes(cliMain) && text.includes("__complete --"), shell);
    const check = await run("sh", ["-c", `command -v ${shell}`], process.env);
    if (check.code !== 0) continue;
    const parsed = await run(shell, ["-n", "-c", text], process.env);
    t.is(parsed.code, 0, parsed.stderr);
  }
});
