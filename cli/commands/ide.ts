import { existsSync, readFileSync, realpathSync } from "node:fs";
import { homedir } from "node:os";
import { fileURLToPath } from "node:url";
import {
  clientEntry,
  entryTarget,
  gatewayEntryName,
  gatewayMcpUrl,
  vscodeTokenInput,
  type GatewayEndpoint,
  type McpClientId,
  type StdioLauncher,
} from "../../shared/client-snippets.js";
import type { StatePaths } from "../../shared/paths.js";
import { clientConfigLocation, describeClient, IDE_CLIENTS, type ClientConfigLocation, type ClientLocationContext, type IdeScope } from "../ide/clients.js";
import { applyEdit, currentEntry, editDiff, looksInstalled, planEdit, readConfig, type PlannedEdit } from "../ide/config-edit.js";
import type { CliIo } from "../io.js";
import { CliFailure } from "../run-verb.js";

/**
 * `dsctl ide add|remove|list [CLIENT]`: puts the gateway into an MCP client's own config file (or takes it out), so a
 * developer never copies a snippet. One entry is merged (`deploystack`, or `deploystack-<profile>`); everything else
 * in the file stays as it was. The entry shapes come from `shared/client-snippets.ts`, the same source as the banner.
 */

/** The environment variable a project-scoped entry reads the client token from (a project file must hold no secret). */
export const CLIENT_TOKEN_ENV_VAR = "DEPLOYSTACK_CLIENT_TOKEN";

/** The MCP port when no daemon answers and `--port` is not given: the gateway's default. */
const DEFAULT_MCP_PORT = 9095;

/** Arguments of the `ide` verbs. */
export interface IdeArgs {
  readonly client?: string;
  readonly profile?: string;
  readonly scope?: IdeScope;
  readonly dryRun?: boolean;
  readonly port?: number;
  readonly json?: boolean;
}

/** What the verbs need from their surroundings (tests give a temp home, another platform, a fixed port). */
export interface IdeDeps extends ClientLocationContext {
  readonly paths: StatePaths;
  /** The port the running gateway serves MCP on, if one answers. */
  gatewayPort(): Promise<number | undefined>;
  /** How Claude Desktop launches `dsctl stdio`. Default: this Node and this installation's `main.js`. */
  readonly stdio?: StdioLauncher;
}

/** The default context: the real home, platform, folder and environment. */
export function processIdeContext(): ClientLocationContext {
  return { home: homedir(), platform: process.platform, cwd: process.cwd(), env: process.env };
}

/** `node /abs/dist/cli/main.js stdio`: absolute paths, since desktop apps launch servers without the user's PATH. */
export function defaultStdioLauncher(paths: StatePaths, env: NodeJS.ProcessEnv): StdioLauncher {
  const main = fileURLToPath(new URL("../main.js", import.meta.url));
  const script = existsSync(main) ? realpathSync(main) : main;
  const home = env.DEPLOYSTACK_HOME && env.DEPLOYSTACK_HOME.trim() !== "" ? { DEPLOYSTACK_HOME: paths.home } : undefined;
  return { command: process.execPath, args: [script, "stdio"], ...(home && { env: home }) };
}

/** The gateway as the clients should reach it. */
async function gatewayEndpoint(args: IdeArgs, deps: IdeDeps, scope: IdeScope): Promise<GatewayEndpoint & { readonly secret: boolean }> {
  const port = args.port ?? (await deps.gatewayPort()) ?? DEFAULT_MCP_PORT;
  const token = readClientToken(deps.paths.clientToken);
  const stdio = deps.stdio ?? defaultStdioLauncher(deps.paths, deps.env);
  const mcpUrl = gatewayMcpUrl(port, args.profile);
  if (token === undefined) return { mcpUrl, stdio, secret: false };
  if (scope === "workspace") return { mcpUrl, stdio, tokenEnvVar: CLIENT_TOKEN_ENV_VAR, secret: false };
  return { mcpUrl, stdio, authorization: `Bearer ${token}`, secret: true };
}

/** The client token, when client auth is on (the frontend creates `client.token` only then). */
function readClientToken(path: string): string | undefined {
  try {
    const token = readFileSync(path, "utf8").trim();
    return token === "" ? undefined : token;
  } catch {
    return undefined;
  }
}

function checkProfile(profile: string | undefined): void {
  if (profile !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(profile)) {
    throw new CliFailure(`invalid profile "${profile}": letters, digits, "_" and "-" only (at most 64)`);
  }
}

/** The clients a verb acts on: the one named, or (none named) every one that `pick` selects. */
function chosenClients(args: IdeArgs): readonly McpClientId[] {
  if (args.client === undefined) return IDE_CLIENTS.map((client) => client.id);
  const client = describeClient(args.client);
  if (!client) throw new CliFailure(`unknown client "${args.client}"; one of: ${IDE_CLIENTS.map((c) => c.id).join(", ")}`);
  return [client.id];
}

function locationFor(client: McpClientId, scope: IdeScope, deps: IdeDeps, named: boolean): ClientConfigLocation | undefined {
  const location = clientConfigLocation(client, scope, deps);
  if (!location && named) throw new CliFailure(`${describeClient(client)!.name} has no ${scope} config; use --scope user`);
  return location;
}

function displayName(client: McpClientId): string {
  return describeClient(client)!.name;
}

/** `dsctl ide add [CLIENT]`: merges the gateway's entry; without CLIENT, into every client found on this machine. */
export async function ideAdd(args: IdeArgs, io: CliIo, deps: IdeDeps): Promise<number> {
  checkProfile(args.profile);
  const scope = args.scope ?? "user";
  const named = args.client !== undefined;
  const endpoint = await gatewayEndpoint(args, deps, scope);
  const name = gatewayEntryName(args.profile);
  const targets = chosenClients(args)
    .map((client) => locationFor(client, scope, deps, named))
    .filter((location): location is ClientConfigLocation => location !== undefined && (named || looksInstalled(location, deps.home)));
  if (targets.length === 0) {
    throw new CliFailure(`found no MCP client config here; name one: dsctl ide add <${IDE_CLIENTS.map((c) => c.id).join("|")}>`);
  }
  for (const location of targets) {
    if (location.client === "claude-desktop" && args.profile !== undefined) {
      const reason = "Claude Desktop reaches the gateway through `dsctl stdio`, which serves the default profile only";
      if (named) throw new CliFailure(`${reason}; drop --profile`);
      io.stderr.write(`skipped: ${reason}\n`);
      continue;
    }
    const entry = clientEntry(location.client, endpoint);
    const usesPrompt = location.client === "vscode" && endpoint.tokenEnvVar !== undefined;
    const vscodeInput = usesPrompt ? vscodeTokenInput(`DeployStack Gateway client token (cat ${deps.paths.clientToken})`) : undefined;
    const secret = endpoint.secret && location.client !== "claude-desktop";
    const edit = planOrSkip(io, named, () => planEdit(location, { name, entry, vscodeInput, secret }));
    if (!edit) continue;
    report(io, edit.changed, args.dryRun, location, name, "add", editDiff(edit));
    if (!args.dryRun && edit.changed) {
      const backup = applyEdit(edit, { secret });
      if (backup) io.stdout.write(`  backup: ${backup}\n`);
    }
  }
  if (endpoint.tokenEnvVar !== undefined) {
    io.stdout.write(
      `note: project files hold no token; VS Code asks for it once, the other clients read $${CLIENT_TOKEN_ENV_VAR}: export ${CLIENT_TOKEN_ENV_VAR}="$(cat ${deps.paths.clientToken})"\n`,
    );
  }
  if (!args.dryRun) io.stdout.write("restart the client (or reload its MCP servers) to connect.\n");
  return 0;
}

/** `dsctl ide remove [CLIENT]`: takes the gateway's entry out; without CLIENT, out of every client that has it. */
export async function ideRemove(args: IdeArgs, io: CliIo, deps: IdeDeps): Promise<number> {
  checkProfile(args.profile);
  const scope = args.scope ?? "user";
  const named = args.client !== undefined;
  const name = gatewayEntryName(args.profile);
  let removed = 0;
  for (const client of chosenClients(args)) {
    const location = locationFor(client, scope, deps, named);
    if (!location) continue;
    const edit = planOrSkip(io, named, () => planEdit(location, { name, entry: undefined }));
    if (!edit || (!edit.changed && !named)) continue;
    report(io, edit.changed, args.dryRun, location, name, "remove", editDiff(edit));
    if (!args.dryRun && edit.changed) {
      const backup = applyEdit(edit);
      if (backup) io.stdout.write(`  backup: ${backup}\n`);
    }
    if (edit.changed) removed += 1;
  }
  if (!named && removed === 0) io.stdout.write(`no client has a "${name}" entry (${scope} scope)\n`);
  return 0;
}

/** A named client's unreadable file fails the verb; when sweeping every client, it is skipped with a warning. */
function planOrSkip(io: CliIo, named: boolean, plan: () => PlannedEdit): PlannedEdit | undefined {
  try {
    return plan();
  } catch (error) {
    if (named || !(error instanceof CliFailure)) throw error;
    io.stderr.write(`skipped: ${error.message}\n`);
    return undefined;
  }
}

function report(io: CliIo, changed: boolean, dryRun: boolean | undefined, location: ClientConfigLocation, name: string, verb: "add" | "remove", diff: string): void {
  const client = displayName(location.client);
  if (!changed) {
    io.stdout.write(verb === "add" ? `${client}: "${name}" is already up to date in ${location.path}\n` : `${client}: no "${name}" entry in ${location.path}\n`);
    return;
  }
  if (dryRun) {
    io.stdout.write(`${client}: would ${verb === "add" ? "write" : "remove"} "${name}" in ${location.path}\n${diff}`);
    return;
  }
  io.stdout.write(`${client}: ${verb === "add" ? "wrote" : "removed"} "${name}" in ${location.path}\n`);
}

/** One row of `dsctl ide list`. */
export interface IdeListRow {
  readonly client: McpClientId;
  readonly scope: IdeScope;
  readonly path: string;
  /** `configured`: points at this gateway; `other`: an entry by that name points elsewhere; `absent`; `no-config`; `unreadable`. */
  readonly state: "configured" | "other" | "absent" | "no-config" | "unreadable";
  /** Where the entry points (its URL, or the stdio command line). */
  readonly target?: string;
  readonly problem?: string;
}

/** `dsctl ide list [CLIENT]`: which clients have the entry, and whether it points at this gateway. */
export async function ideList(args: IdeArgs, io: CliIo, deps: IdeDeps): Promise<number> {
  checkProfile(args.profile);
  const name = gatewayEntryName(args.profile);
  const rows: IdeListRow[] = [];
  const port = args.port ?? (await deps.gatewayPort()) ?? DEFAULT_MCP_PORT;
  const endpoints = {
    user: await gatewayEndpoint({ ...args, port }, deps, "user"),
    workspace: await gatewayEndpoint({ ...args, port }, deps, "workspace"),
  };
  for (const client of chosenClients(args)) {
    for (const scope of describeClient(client)!.scopes) {
      const location = clientConfigLocation(client, scope, deps);
      if (!location) continue;
      const { text, exists } = readConfig(location.path);
      if (!exists) {
        // A project scope the current folder does not use is noise; the user scope always shows.
        if (scope === "user" || args.scope === "workspace") rows.push({ client, scope, path: location.path, state: "no-config" });
        continue;
      }
      try {
        const entry = currentEntry(location, text, name);
        const target = entryTarget(client, entry);
        const expected = entryTarget(client, clientEntry(client, endpoints[scope]));
        rows.push({ client, scope, path: location.path, state: entry === undefined ? "absent" : target === expected ? "configured" : "other", ...(target && { target }) });
      } catch (error) {
        rows.push({ client, scope, path: location.path, state: "unreadable", problem: (error as Error).message });
      }
    }
  }
  if (args.json) {
    io.stdout.write(`${JSON.stringify({ entry: name, clients: rows }, null, 2)}\n`);
    return 0;
  }
  const { formatTable } = await import("../output.js");
  const describe = (row: IdeListRow): string => {
    switch (row.state) {
      case "configured":
        return "configured";
      case "other":
        return `points elsewhere (${row.target ?? "no URL"})`;
      case "absent":
        return "not configured";
      case "no-config":
        return "no config file";
      case "unreadable":
        return row.problem ?? "unreadable";
    }
  };
  io.stdout.write(formatTable(["CLIENT", "SCOPE", "STATE", "CONFIG"], rows.map((row) => [row.client, row.scope, describe(row), row.path])));
  return 0;
}
