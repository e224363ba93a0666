import test from "ava";
import { statePaths } from "../../shared/paths.js";
import { createCapturedIo } from "../io.js";
import { createProgram } from "../program.js";
import { completeWords, completionScript, type NameKind } from "./completion.js";

// Completion derived from the real command tree: verbs, flags, choices, and live names by argument.

const program = createProgram({
  io: createCapturedIo(),
  paths: statePaths("/nonexistent/dsctl-completion"),
  stdin: process.stdin,
  stdout: process.stdout,
  setExitCode: () => undefined,
  interrupt: () => new AbortController().signal,
  throwOnUsageError: true,
});

const live: Record<NameKind, string[]> = { server: ["alpha", "beta"], tool: ["alpha-echo", "beta-add"], team: ["e2e"], profile: ["frontend"] };
const asked: NameKind[] = [];
const names = async (kind: NameKind): Promise<string[]> => {
  asked.push(kind);
  return live[kind];
};
const complete = (...words: string[]): Promise<string[]> => completeWords(program, words, names);

test("verbs come from the program (hidden ones excluded), filtered by the typed prefix", async (t) => {
  const verbs = await complete("");
  for (const verb of ["start", "stop", "status", "servers", "tools", "ide", "completion", "stdio", "teams", "policy"]) t.true(verbs.includes(verb), verb);
  t.false(verbs.includes("__complete"));
  t.deepEqual(verbs, program.commands.filter((c) => c.name() !== "__complete").map((c) => c.name()).sort());
  const st = await complete("st");
  t.true(["start", "status", "stdio", "stop"].every((verb) => st.includes(verb)) && st.every((verb) => verb.startsWith("st")), st.join(" "));
  const servers = program.commands.find((c) => c.name() === "servers")!.commands.map((c) => c.name()).sort();
  t.deepEqual(await complete("servers", ""), servers);
  t.true(servers.includes("restart"));
  t.deepEqual(await complete("ide", "r"), ["remove"]);
});

test("flags come from the command being completed; choices from commander", async (t) => {
  const start = program.commands.find((c) => c.name() === "start")!;
  t.deepEqual(await complete("start", "--"), [...start.options.map((option) => option.long!), "--help"].sort());
  t.true((await complete("start", "--")).includes("--foreground"));
  t.deepEqual(await complete("servers", "logs", "alpha", "-"), ["--follow", "--help", "--json", "--tail"]);
  t.deepEqual(await complete("ide", "add", "--scope", ""), ["user", "workspace"]);
  t.deepEqual(await complete("completion", ""), ["bash", "fish", "zsh"]);
  t.deepEqual(await complete("ide", "add", ""), ["claude-code", "claude-desktop", "codex", "cursor", "gemini", "vscode", "windsurf"]);
});

test("live names by argument: servers, tools, teams, profiles; option values skip correctly", async (t) => {
  asked.length = 0;
  t.deepEqual(await complete("servers", "restart", ""), ["alpha", "beta"]);
  t.deepEqual(await complete("servers", "logs", "-n", "5", "b"), ["beta"]);
  t.deepEqual(await complete("tools", "call", "a"), ["alpha-echo"]);
  t.deepEqual(await complete("tools", "list", "--server", ""), ["alpha", "beta"]);
  t.deepEqual(await complete("policy", "explain", ""), ["alpha-echo", "beta-add"]);
  t.deepEqual(await complete("teams", "switch", ""), ["e2e"]);
  t.deepEqual(await complete("ide", "add", "cursor", "--profile", ""), ["frontend"]);
  t.deepEqual(asked, ["server", "server", "tool", "server", "tool", "team", "profile"]);
  t.deepEqual(await complete("servers", "get", "alpha", ""), [], "only one name");
  t.deepEqual(await complete("stop", ""), []);
});

test("each shell's script calls the hidden verb with this Node and this installation", (t) => {
  const launcher = { node: "/opt/node's/bin/node", script: "/opt/ds/dist/cli/main.js" };
  const bash = completionScript("bash", launcher);
  t.true(bash.includes(`'/opt/node'\\''s/bin/node' '/opt/ds/dist/cli/main.js' __complete -- "\${COMP_WORDS[@]:1:COMP_CWORD}"`), bash);
  t.true(bash.includes("complete -o default -F _dsctl_complete dsctl"));
  t.true(completionScript("zsh", launcher).startsWith("#compdef dsctl\n"));
  t.true(completionScript("fish", launcher).includes("complete -c dsctl -f -a"));
  t.throws(() => completionScript("tcsh", launcher), { message: 'no completion for "tcsh"; one of: bash, zsh, fish' });
});
