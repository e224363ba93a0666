import type { Readable, Writable } from "node:stream";
import { Argument, Command, InvalidArgumentError, Option } from "commander";
import type { Transport } from "@connectrpc/connect";
import type { StatePaths } from "../shared/paths.js";
import { gatewayVersion } from "../shared/version.js";
import type { BrowserOpener } from "./commands/auth.js";
import type { IdeArgs, IdeDeps } from "./commands/ide.js";
import type { ServiceDeps } from "./commands/service.js";
import type { StartDeps } from "./commands/start.js";
import type { CliIo } from "./io.js";
import { runVerb } from "./run-verb.js";

/** The verbs that talk to the daemon, loaded when one runs (with them the Connect and protobuf runtimes). */
type Verbs = typeof import("./verbs.js");
const loadVerbs = (): Promise<Verbs> => import("./verbs.js");

/**
 * The dsctl command tree (commander): parses argv and hands each verb its client,
 * its arguments and the io. Kept apart from `main.ts` so that tests run the whole
 * command line in-process.
 */

/** What the program needs from the process. */
export interface ProgramContext {
  readonly io: CliIo;
  readonly paths: StatePaths;
  /** Receives each verb's exit code. */
  setExitCode(code: number): void;
  /** For `dsctl stdio`: the raw streams. */
  readonly stdin: Readable;
  readonly stdout: Writable;
  /** A signal that aborts on Ctrl-C; installed only by verbs that stream, so others keep the default. */
  interrupt(): AbortSignal;
  /** Throw commander's usage errors instead of exiting the process (tests). */
  readonly throwOnUsageError?: boolean;
  /** Overrides for `dsctl start` (tests). */
  readonly start?: Partial<Omit<StartDeps, "paths">>;
  /** How `dsctl login` and `dsctl dashboard` open a browser (tests); default the platform's opener. */
  readonly openBrowser?: BrowserOpener;
  /** Overrides for `dsctl ide` (tests: a temp home, another platform, a fixed port). */
  readonly ide?: Partial<Omit<IdeDeps, "paths">>;
  /** Overrides for `dsctl service` (tests: a temp home, another platform, a recording runner). */
  readonly service?: Partial<Omit<ServiceDeps, "paths">>;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65_535) throw new InvalidArgumentError("expected a port number (0-65535)");
  return port;
}

function parseSeconds(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) === 0) throw new InvalidArgumentError("expected a whole number of seconds (1 or more)");
  return Number(value);
}

function parseCount(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError("expected a non-negative whole number");
  return Number(value);
}

/** Builds the command tree. */
export function createProgram(context: ProgramContext): Command {
  const { io, paths } = context;
  const socket = paths.controlSocket;

  /** Runs a verb with a fresh connection, closing it afterwards. */
  const withDaemon = async (verb: (v: Verbs, transport: Transport) => Promise<number>): Promise<void> => {
    const v = await loadVerbs();
    const connection = v.dialDaemon(socket);
    try {
      context.setExitCode(await runVerb(io, socket, () => verb(v, connection.transport)));
    } finally {
      connection.close();
    }
  };

  const program = new Command("dsctl")
    .description("Control the DeployStack Gateway: one local MCP endpoint for your team's MCP servers.")
    .version(gatewayVersion, "-v, --version")
    .showHelpAfterError()
    .configureOutput({ writeOut: (text) => io.stdout.write(text), writeErr: (text) => io.stderr.write(text) });
  if (context.throwOnUsageError) program.exitOverride();

  program
    .command("start")
    .description("start the gateway daemon (detached unless --foreground)")
    .option("--foreground", "stay attached; Ctrl-C stops the gateway")
    .option("--config <file>", "a YAML or JSON team file instead of the embedded demo team")
    .option("--port <n>", "the MCP endpoint's port on 127.0.0.1 (default 9095)", parsePort)
    .option("--control-listen <host:port>", "also serve the control API on loopback TCP (bearer token required)")
    .option("--json", "print GetStatus as proto JSON once it answers")
    .action(async (options: { foreground?: boolean; config?: string; port?: number; controlListen?: string; json?: boolean }) => {
      const { startDaemon } = await import("./commands/start.js");
      context.setExitCode(await runVerb(io, socket, () => startDaemon(options, io, { ...context.start, paths })));
    });

  program
    .command("stop")
    .description("stop the gateway daemon and every server it runs")
    .option("--json", "print the response as proto JSON")
    .action((options: { json?: boolean }) => withDaemon((v, t) => v.stopDaemon(v.createClient(v.GatewayService, t), options, io)));

  program
    .command("status")
    .description("show the daemon's version, team, endpoints and server counts")
    .option("--json", "print the response as proto JSON")
    .action((options: { json?: boolean }) => withDaemon((v, t) => v.showStatus(v.createClient(v.GatewayService, t), options, io)));

  const servers = program.command("servers").description("the team's MCP servers");
  servers
    .command("list")
    .description("list servers with their state")
    .option("--json", "print the response as proto JSON")
    .action((options: { json?: boolean }) => withDaemon((v, t) => v.listServers(v.createClient(v.ServerService, t), options, io)));
  const named = [
    ["get", "show one server", "getServer"],
    ["enable", "enable a server and start it", "enableServer"],
    ["disable", "disable a server and stop it", "disableServer"],
    ["restart", "restart a server (clears FAILED)", "restartServer"],
  ] as const;
  for (const [verb, description, run] of named) {
    servers
      .command(verb)
      .description(description)
      .argument("<name>", "the server's name")
      .option("--json", "print the response as proto JSON")
      .action((name: string, options: { json?: boolean }) =>
        withDaemon((v, t) => v[run](v.createClient(v.ServerService, t), { name, json: options.json }, io)),
      );
  }
  servers
    .command("logs")
    .description("print a server's stderr and lifecycle lines (secrets masked)")
    .argument("<name>", "the server's name")
    .option("-f, --follow", "keep printing new lines until Ctrl-C")
    .option("-n, --tail <n>", "how many recent lines first (default: all kept)", parseCount)
    .option("--json", "print each line as proto JSON")
    .action((name: string, options: { follow?: boolean; tail?: number; json?: boolean }) =>
      withDaemon((v, t) =>
        v.serverLogs(v.createClient(v.ServerService, t), { name, ...options, signal: options.follow ? context.interrupt() : undefined }, io),
      ),
    );

  servers
    .command("login")
    .description("sign in to a remote server that uses OAuth (oauth: in its config)")
    .argument("<name>", "the server's name")
    .option("--no-browser", "only print the URL to open")
    .option("--timeout <seconds>", "give up after this many seconds (default 300)", parseSeconds)
    .option("--json", "print each stream message as proto JSON")
    .action((name: string, options: { browser?: boolean; timeout?: number; json?: boolean }) =>
      withDaemon((v, t) =>
        v.loginServer(
          v.createClient(v.ServerService, t),
          {
            name,
            browser: options.browser,
            timeoutMs: options.timeout !== undefined ? options.timeout * 1000 : undefined,
            json: options.json,
            signal: context.interrupt(),
            openBrowser: context.openBrowser,
          },
          io,
        ),
      ),
    );
  servers
    .command("logout")
    .description("forget a remote server's OAuth tokens")
    .argument("<name>", "the server's name")
    .option("--json", "print the response as proto JSON")
    .action((name: string, options: { json?: boolean }) => withDaemon((v, t) => v.logoutServer(v.createClient(v.ServerService, t), { name, json: options.json }, io)));

  const tools = program.command("tools").description("the team's tools, for scripts");
  tools
    .command("list")
    .description("list the tools you may use")
    .option("--server <name>", "only this server's tools")
    .option("--all", "also the tools clients do not see, with the reason")
    .option("--profile <name>", "only the tools a client of this team profile reaches")
    .option("--json", "print the response as proto JSON")
    .action((options: { server?: string; all?: boolean; profile?: string; json?: boolean }) => withDaemon((v, t) => v.listTools(v.createClient(v.McpService, t), options, io)));
  tools
    .command("call")
    .description("call a tool and print its result as JSON (exit 1 when the result is an error)")
    .argument("<name>", "the exposed tool name (<server>-<tool>)")
    .option("--args <json>", "the arguments, a JSON object", "{}")
    .option("--json", "print each stream message as proto JSON")
    .action((name: string, options: { args: string; json?: boolean }) =>
      withDaemon((v, t) => v.callTool(v.createClient(v.McpService, t), { name, ...options, signal: context.interrupt() }, io)),
    );

  program
    .command("login")
    .description("sign in to DeployStack; the gateway then runs your team's servers from the cloud")
    .option("--url <url>", "the DeployStack API (default: the daemon's, https://cloud-api.deploystack.io)")
    .option("--no-browser", "only print the URL to open")
    .option("--timeout <seconds>", "give up after this many seconds (default 300)", parseSeconds)
    .option("--json", "print each stream message as proto JSON")
    .action((options: { url?: string; browser?: boolean; timeout?: number; json?: boolean }) =>
      withDaemon((v, t) =>
        v.login(
          v.createClient(v.AuthService, t),
          {
            url: options.url,
            browser: options.browser,
            timeoutMs: options.timeout !== undefined ? options.timeout * 1000 : undefined,
            json: options.json,
            signal: context.interrupt(),
            openBrowser: context.openBrowser,
          },
          io,
        ),
      ),
    );
  program
    .command("logout")
    .description("sign out of DeployStack: tokens, downloaded configs and caches are removed; the team file applies again")
    .option("--json", "print the response as proto JSON")
    .action((options: { json?: boolean }) => withDaemon((v, t) => v.logout(v.createClient(v.AuthService, t), options, io)));
  program
    .command("whoami")
    .description("show who is signed in to DeployStack (exit 1 when nobody is)")
    .option("--json", "print the response as proto JSON")
    .action((options: { json?: boolean }) => withDaemon((v, t) => v.whoAmI(v.createClient(v.AuthService, t), options, io)));

  const teams = program.command("teams").description("your teams: list, switch, sync");
  teams
    .command("list")
    .description("list your teams (* marks the current one)")
    .option("--json", "print the response as proto JSON")
    .action((options: { json?: boolean }) => withDaemon((v, t) => v.listTeams(v.createClient(v.TeamService, t), options, io)));
  teams
    .command("switch")
    .description("make another team current: its servers and policy apply, MCP sessions stay connected")
    .argument("<team>", "the team's id or name (not its position in the list)")
    .option("--json", "print the response as proto JSON")
    .action((team: string, options: { json?: boolean }) =>
      withDaemon((v, t) => v.switchTeam(v.createClient(v.TeamService, t), { team, json: options.json }, io)),
    );
  teams
    .command("sync")
    .description("re-read the team file or re-download from DeployStack; only changed servers restart")
    .option("--json", "print the response as proto JSON")
    .action((options: { json?: boolean }) => withDaemon((v, t) => v.syncTeams(v.createClient(v.TeamService, t), options, io)));

  const profiles = program.command("profiles").description("the current team's profiles: named subsets of its tools at /mcp/<profile>");
  profiles
    .command("list")
    .description("list the profiles with their mode, tool count and URL (* marks what the bare /mcp serves)")
    .option("--json", "print the response as proto JSON")
    .action((options: { json?: boolean }) => withDaemon((v, t) => v.listProfiles(v.createClient(v.TeamService, t), options, io)));

  const policy = program.command("policy").description("the current team's access policy");
  policy
    .command("explain")
    .description("say which rule allows or denies a tool")
    .argument("<tool>", "the exposed tool name (<server>-<tool>)")
    .option("--json", "print the response as proto JSON")
    .action((tool: string, options: { json?: boolean }) =>
      withDaemon((v, t) => v.explainPolicy(v.createClient(v.TeamService, t), { tool, json: options.json }, io)),
    );

  program
    .command("stdio")
    .description("serve MCP on stdin/stdout, bridged to the gateway (for clients that launch stdio servers)")
    .option("--profile <name>", "serve one of the team's profiles (see `dsctl profiles list`) instead of every tool")
    .action((options: { profile?: string }) =>
      withDaemon((v, t) =>
        v.runStdioBridge(
          v.createClient(v.McpService, t),
          { stdin: context.stdin, stdout: context.stdout, stderr: io.stderr },
          { signal: context.interrupt(), ...(options.profile !== undefined ? { profile: options.profile } : {}) },
        ),
      ),
    );

  program
    .command("dashboard")
    .description("open the web dashboard (starts the loopback control listener when the daemon runs without one)")
    .option("--no-browser", "print the address to open (it carries the control token) instead of opening a browser")
    .option("--listen <host:port>", "where to start the control listener if it is not running (default 127.0.0.1, a free port)")
    .option("--json", "print the EnableControlListener response as proto JSON")
    .action((options: { browser?: boolean; listen?: string; json?: boolean }) =>
      withDaemon(async (v, t) => {
        const { openDashboard } = await import("./commands/dashboard.js");
        return openDashboard(v.createClient(v.GatewayService, t), options, io, { paths, openBrowser: context.openBrowser });
      }),
    );

  program
    .command("audit")
    .description("show the audit log: every tool call, prompt get and resource read (oldest first)")
    .option("-f, --follow", "keep printing new events until Ctrl-C")
    .option("-n, --lines <n>", "how many recent events first (default 20)", parseCount)
    .option("--server <name>", "only this server's events")
    .option("--tool <name>", "only events of this tool, prompt or resource (exposed or canonical name)")
    .addOption(new Option("--outcome <outcome>", "only events with this outcome").choices(["ok", "tool_error", "error", "denied", "cancelled"]))
    .option("--json", "print each event as one line of proto JSON")
    .action((options: { follow?: boolean; lines?: number; server?: string; tool?: string; outcome?: "ok"; json?: boolean }) =>
      withDaemon(async (_v, t) => {
        const { createAuditClient, showAudit } = await import("./commands/audit.js");
        return showAudit(createAuditClient(t), { ...options, signal: options.follow ? context.interrupt() : undefined }, io);
      }),
    );
  program
    .command("top")
    .description("a live view of the gateway: servers, calls/s, p50/p99, errors, busiest tools, sessions (q quits)")
    .option("--once", "print one snapshot and exit")
    .option("--interval <seconds>", "seconds between refreshes (default 2)", parseSeconds)
    .option("--window <seconds>", "the window the figures cover (default 60, at most 300)", parseSeconds)
    .action((options: { once?: boolean; interval?: number; window?: number }) =>
      withDaemon(async (v, t) => {
        const { runTop } = await import("./commands/top.js");
        return runTop(v.createClient(v.GatewayService, t), options, io, { stdin: context.stdin, stdout: context.stdout, signal: context.interrupt() });
      }),
    );

  const ide = program.command("ide").description("put the gateway into your MCP clients' config files (VS Code, Cursor, Claude Code, …)");
  const ideVerbs = [
    ["add", "add the gateway's entry (without CLIENT: to every client found here); other entries stay as they are", "ideAdd"],
    ["remove", "remove the gateway's entry (without CLIENT: from every client that has it)", "ideRemove"],
    ["list", "show which clients have the entry and whether it points at this gateway", "ideList"],
  ] as const;
  for (const [verb, description, run] of ideVerbs) {
    const command = ide
      .command(verb)
      .description(description)
      .argument("[client]", "vscode, cursor, claude-code, claude-desktop, codex, gemini or windsurf")
      .option("--profile <profile>", "a team profile: the entry targets /mcp/<profile>")
      .addOption(new Option("--scope <scope>", "user (your own config, default) or workspace (the project in this folder)").choices(["user", "workspace"]))
      .option("--port <n>", "the gateway's MCP port (default: the running gateway's, else 9095)", parsePort);
    if (verb === "list") command.option("--json", "print the rows as JSON");
    else command.option("--dry-run", "print the diff instead of writing");
    command.action(async (client: string | undefined, options: Omit<IdeArgs, "client">) => {
      const commands = await import("./commands/ide.js");
      const deps: IdeDeps = {
        ...commands.processIdeContext(),
        paths,
        gatewayPort: async () => {
          const { probeDaemon } = await import("./commands/start.js");
          const status = await probeDaemon(socket, 1_000).catch(() => undefined);
          const port = status?.mcpUrl ? Number(new URL(status.mcpUrl).port) : NaN;
          return Number.isInteger(port) && port > 0 ? port : undefined;
        },
        ...context.ide,
      };
      context.setExitCode(await runVerb(io, socket, () => commands[run]({ ...options, client }, io, deps)));
    });
  }

  const service = program.command("service").description("run the gateway as a login service (systemd user unit on Linux, launchd agent on macOS)");
  const serviceDeps = async (): Promise<ServiceDeps> => {
    const { processServiceContext } = await import("./commands/service.js");
    return { ...processServiceContext(), paths, ...context.service };
  };
  service
    .command("install")
    .description("start the gateway at login and restart it after a failure (this installation, this state folder)")
    .option("--config <file>", "the team file the service starts with (default: the embedded demo team)")
    .option("--no-start", "only write the unit or plist; do not enable or start it")
    .action(async (options: { config?: string; start?: boolean }) => {
      const { serviceInstall } = await import("./commands/service.js");
      const deps = await serviceDeps();
      context.setExitCode(await runVerb(io, socket, () => serviceInstall({ config: options.config, noStart: options.start === false }, io, deps)));
    });
  service
    .command("uninstall")
    .description("stop the service and remove everything install wrote")
    .action(async () => {
      const { serviceUninstall } = await import("./commands/service.js");
      const deps = await serviceDeps();
      context.setExitCode(await runVerb(io, socket, () => serviceUninstall(io, deps)));
    });
  service
    .command("status")
    .description("show whether the service is installed, enabled and running (exit 3 when not installed)")
    .option("--json", "print the state as JSON")
    .action(async (options: { json?: boolean }) => {
      const { serviceStatus } = await import("./commands/service.js");
      const deps = await serviceDeps();
      context.setExitCode(await runVerb(io, socket, () => serviceStatus(options, io, deps)));
    });

  program
    .command("completion")
    .description("print the shell completion script (bash, zsh or fish): `source <(dsctl completion bash)`")
    .addArgument(new Argument("<shell>", "the shell").choices(["bash", "zsh", "fish"]))
    .action(async (shell: string) => {
      const { completionScript, defaultCompletionLauncher } = await import("./commands/completion.js");
      context.setExitCode(
        await runVerb(io, socket, async () => {
          io.stdout.write(completionScript(shell, defaultCompletionLauncher()));
          return 0;
        }),
      );
    });
  program
    .command("__complete", { hidden: true })
    .description("the candidates for the last word (called by the completion scripts)")
    .argument("[words...]", "the words after `dsctl`, the last one being completed")
    .helpOption(false)
    .allowUnknownOption()
    .action(async (words: string[]) => {
      const { completeWords, daemonNameSource } = await import("./commands/completion.js");
      const source = daemonNameSource(socket, completionTimeoutMs(process.env));
      try {
        const candidates = await completeWords(program, words.length > 0 ? words : [""], source.names);
        io.stdout.write(candidates.map((candidate) => `${candidate}\n`).join(""));
      } finally {
        source.close();
      }
      context.setExitCode(0);
    });

  return program;
}

/**
 * How long a Tab may wait for live names from the daemon: 300 ms, or `DSCTL_COMPLETION_TIMEOUT_MS` for a machine
 * (or a test) where the daemon answers more slowly.
 */
function completionTimeoutMs(env: NodeJS.ProcessEnv): number {
  const configured = Number(env.DSCTL_COMPLETION_TIMEOUT_MS);
  return Number.isFinite(configured) && configured > 0 ? configured : 300;
}
