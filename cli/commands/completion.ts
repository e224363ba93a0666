import { existsSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Command, Option } from "commander";
import { MCP_CLIENT_IDS } from "../../shared/client-snippets.js";
import { CliFailure } from "../run-verb.js";

/**
 * `dsctl completion bash|zsh|fish` and the hidden `dsctl __complete WORD…` the scripts call on every Tab.
 *
 * Verbs, flags and fixed choices are read from the commander program itself, so a new verb completes without a
 * change here. What cannot be read from it is which argument names what: that is the small table below, and the
 * names themselves (servers, tools, teams) come live from the running daemon with a short timeout. With no daemon
 * (no socket, or no answer in time) those candidates are simply absent: completion never prints an error or waits.
 */

/** The shells there is a script for. */
export const COMPLETION_SHELLS = ["bash", "zsh", "fish"] as const;
export type CompletionShell = (typeof COMPLETION_SHELLS)[number];

/** The kinds of live names, each read from the running daemon. */
export type NameKind = "server" | "tool" | "team" | "profile";

/** Live names from the daemon; every lookup resolves (to `[]` on any failure). */
export type NameSource = (kind: NameKind) => Promise<readonly string[]>;

/** Which positional argument names what, by `<command path> <argument name>`; a parent path covers its verbs. */
const ARGUMENT_KINDS: Readonly<Record<string, NameKind | readonly string[]>> = {
  "servers name": "server",
  "tools call name": "tool",
  "policy explain tool": "tool",
  "teams switch team": "team",
  "ide client": MCP_CLIENT_IDS,
};

/** Which option value names what, by long flag. */
const OPTION_KINDS: Readonly<Record<string, NameKind>> = {
  "--server": "server",
  "--tool": "tool",
  "--profile": "profile",
};

function visible(command: Command): Command[] {
  return command.commands.filter((sub) => !(sub as unknown as { _hidden?: boolean })._hidden);
}

function commandPath(command: Command): string[] {
  const names: string[] = [];
  for (let current: Command | null = command; current?.parent; current = current.parent) names.unshift(current.name());
  return names;
}

function optionsOf(command: Command): Option[] {
  const own = [...command.options];
  // The root's options (--version) and the help flag apply everywhere.
  const help = (command as unknown as { _getHelpOption?: () => Option | null })._getHelpOption?.();
  return help ? [...own, help] : own;
}

function findOption(command: Command, word: string): Option | undefined {
  const flag = word.split("=")[0];
  for (let current: Command | null = command; current; current = current.parent) {
    const found = optionsOf(current).find((option) => option.long === flag || option.short === flag);
    if (found) return found;
  }
  return undefined;
}

function kindOfArgument(command: Command, argumentName: string): NameKind | readonly string[] | undefined {
  const path = commandPath(command);
  for (let length = path.length; length > 0; length--) {
    const kind = ARGUMENT_KINDS[`${path.slice(0, length).join(" ")} ${argumentName}`];
    if (kind) return kind;
  }
  return undefined;
}

async function values(kind: NameKind | readonly string[] | undefined, names: NameSource): Promise<readonly string[]> {
  if (kind === undefined) return [];
  return typeof kind === "string" ? names(kind) : kind;
}

/**
 * The candidates for the last of `words` (the words after `dsctl`, the last one being completed, possibly "").
 * Only candidates that start with it are returned.
 */
export async function completeWords(program: Command, words: readonly string[], names: NameSource): Promise<string[]> {
  const current = words.at(-1) ?? "";
  const prior = words.slice(0, -1);
  let command = program;
  let positional = 0;
  let pendingOption: Option | undefined;
  for (const word of prior) {
    if (pendingOption) {
      pendingOption = undefined;
      continue;
    }
    if (word.startsWith("-") && word !== "-") {
      const option = findOption(command, word);
      if (option && (option.required || option.optional) && !word.includes("=")) pendingOption = option;
      continue;
    }
    const sub = command.commands.find((candidate) => candidate.name() === word || candidate.aliases().includes(word));
    if (sub && positional === 0) {
      command = sub;
      continue;
    }
    positional += 1;
  }

  let candidates: readonly string[];
  if (pendingOption) {
    candidates = pendingOption.argChoices ?? (await values(OPTION_KINDS[pendingOption.long ?? ""], names));
  } else if (current.startsWith("-")) {
    candidates = optionsOf(command).flatMap((option) => (option.hidden ? [] : [option.long ?? option.short ?? ""]));
  } else if (visible(command).length > 0 && positional === 0) {
    candidates = visible(command).map((sub) => sub.name());
  } else {
    const argument = command.registeredArguments[Math.min(positional, command.registeredArguments.length - 1)];
    candidates = argument && (positional < command.registeredArguments.length || argument.variadic) ? (argument.argChoices ?? (await values(kindOfArgument(command, argument.name()), names))) : [];
  }
  return [...new Set(candidates)].filter((candidate) => candidate.startsWith(current)).sort();
}

/** How the script runs dsctl: this Node and this installation's entry, so completion works without `dsctl` on PATH. */
export interface CompletionLauncher {
  readonly node: string;
  readonly script: string;
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** This Node and this installation's `dist/cli/main.js` (through any `npm link` or global-install symlink). */
export function defaultCompletionLauncher(): CompletionLauncher {
  const main = fileURLToPath(new URL("../main.js", import.meta.url));
  return { node: process.execPath, script: existsSync(main) ? realpathSync(main) : main };
}

/** The completion script for `shell`. */
export function completionScript(shell: string, launcher: CompletionLauncher): string {
  const run = `${shellQuote(launcher.node)} ${shellQuote(launcher.script)} __complete`;
  switch (shell) {
    case "bash":
      return [
        "# dsctl completion for bash: add `source <(dsctl completion bash)` to ~/.bashrc",
        "_dsctl_complete() {",
        "  local IFS=$'\\n'",
        `  COMPREPLY=( $(${run} -- "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null) )`,
        "}",
        "complete -o default -F _dsctl_complete dsctl",
        "",
      ].join("\n");
    case "zsh":
      return [
        "#compdef dsctl",
        "# dsctl completion for zsh: add `source <(dsctl completion zsh)` to ~/.zshrc (after compinit)",
        "_dsctl_complete() {",
        "  local -a candidates",
        `  candidates=( \${(f)"$(${run} -- "\${(@)words[2,CURRENT]}" 2>/dev/null)"} )`,
        "  compadd -- \"${candidates[@]}\"",
        "}",
        "compdef _dsctl_complete dsctl",
        "",
      ].join("\n");
    case "fish":
      return [
        "# dsctl completion for fish: dsctl completion fish > ~/.config/fish/completions/dsctl.fish",
        `complete -c dsctl -f -a '(${run.replaceAll("'", "\\'")} -- (commandline -opc)[2..-1] (commandline -ct) 2>/dev/null)'`,
        "",
      ].join("\n");
    default:
      throw new CliFailure(`no completion for "${shell}"; one of: ${COMPLETION_SHELLS.join(", ")}`);
  }
}

/**
 * Live names from the daemon at `socketPath`, each lookup bounded by `timeoutMs`. No socket file: nothing is loaded
 * or dialled at all.
 */
export function daemonNameSource(socketPath: string, timeoutMs: number): { readonly names: NameSource; close(): void } {
  let connection: { close(): void } | undefined;
  const names: NameSource = async (kind) => {
    if (!existsSync(socketPath)) return [];
    try {
      const v = await import("../verbs.js");
      const dialed = v.dialDaemon(socketPath);
      connection = dialed;
      const options = { timeoutMs };
      switch (kind) {
        case "server":
          return (await v.createClient(v.ServerService, dialed.transport).listServers({}, options)).servers.map((server) => server.name);
        case "tool":
          return (await v.createClient(v.McpService, dialed.transport).listTools({}, options)).tools.map((tool) => tool.name);
        case "team": {
          const teams = (await v.createClient(v.TeamService, dialed.transport).listTeams({}, options)).teams;
          return teams.flatMap((team) => [team.id, ...(team.name && !/\s/.test(team.name) ? [team.name] : [])]);
        }
        case "profile":
          return (await v.createClient(v.TeamService, dialed.transport).listProfiles({}, options)).profiles
            .filter((profile) => profile.defined)
            .map((profile) => profile.name);
      }
    } catch {
      return [];
    }
  };
  return { names, close: () => connection?.close() };
}
