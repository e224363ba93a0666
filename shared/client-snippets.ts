/**
 * What each MCP client needs to reach the gateway, in one place, so that the daemon's banner, `dsctl ide add` and the
 * README say exactly the same thing. The daemon prints snippets to paste; `dsctl ide` merges the same entries into
 * the clients' own config files.
 *
 * The shapes follow each client's documentation (checked December 2026):
 * - VS Code: `mcp.json`, key `servers`, `{ type: "http", url, headers }` (code.visualstudio.com/docs/copilot/chat/mcp-servers).
 * - Cursor: `mcp.json`, key `mcpServers`, `{ url, headers }`; Cursor picks Streamable HTTP or SSE itself (cursor.com/docs/mcp).
 * - Claude Code: `~/.claude.json` (user scope) or `.mcp.json` (project scope), key `mcpServers`,
 *   `{ type: "http", url, headers }`; project files expand `${VAR}` (code.claude.com/docs/en/mcp).
 * - Claude Desktop: `claude_desktop_config.json`, key `mcpServers`, stdio only: `{ command, args, env }`.
 * - Codex: `config.toml`, table `[mcp_servers.NAME]` with `url` and `http_headers` (developers.openai.com/codex/mcp).
 * - Gemini CLI: `settings.json`, key `mcpServers`, `{ httpUrl, headers }`; `url` would mean SSE (geminicli.com/docs/tools/mcp-server).
 * - Windsurf: `mcp_config.json`, key `mcpServers`, `{ serverUrl, headers }` (docs.windsurf.com/windsurf/cascade/mcp).
 *
 * With `clientAuth: token` the banner's snippets carry a placeholder naming the token file, never the token: the
 * banner may be redirected into a log file, and secrets never land in logs.
 */

/** The MCP server name the gateway is registered under in every client. */
export const CLIENT_SERVER_NAME = "deploystack";

/** The clients `dsctl ide` knows, by the id the user types. */
export const MCP_CLIENT_IDS = ["vscode", "cursor", "claude-code", "claude-desktop", "codex", "gemini", "windsurf"] as const;

/** A client `dsctl ide` can configure. */
export type McpClientId = (typeof MCP_CLIENT_IDS)[number];

/** How a client reaches the gateway: over HTTP, or by launching `dsctl stdio`. */
export interface GatewayEndpoint {
  /** `http://localhost:9095/mcp` (or `/mcp/<profile>`). */
  readonly mcpUrl: string;
  /** The `Authorization` header's value when MCP clients must send a bearer token. */
  readonly authorization?: string;
  /**
   * Instead of a literal token, the environment variable holding it, referenced in each client's own syntax (VS Code
   * prompts for it instead): for config files that are shared with a project and must not hold a secret.
   */
  readonly tokenEnvVar?: string;
  /** The command line of `dsctl stdio`, for clients that only launch stdio servers. */
  readonly stdio: StdioLauncher;
}

/** A command a client launches as a stdio MCP server. */
export interface StdioLauncher {
  readonly command: string;
  readonly args: readonly string[];
  /** Only what differs from the defaults (a non-default `DEPLOYSTACK_HOME`). */
  readonly env?: Readonly<Record<string, string>>;
}

/** The name of the gateway's entry in a client's config: one per profile, so several profiles can sit side by side. */
export function gatewayEntryName(profile?: string): string {
  return profile ? `${CLIENT_SERVER_NAME}-${profile}` : CLIENT_SERVER_NAME;
}

/** The gateway's MCP URL for a port and an optional profile (`/mcp/<profile>`). */
export function gatewayMcpUrl(port: number, profile?: string): string {
  return `http://localhost:${port}/mcp${profile ? `/${encodeURIComponent(profile)}` : ""}`;
}

/** One client's server entry (the value under its servers key), in the shape that client reads. */
export function clientEntry(client: McpClientId, endpoint: GatewayEndpoint): Record<string, unknown> {
  const authorization = endpoint.tokenEnvVar !== undefined ? tokenReference(client, endpoint.tokenEnvVar) : endpoint.authorization;
  const headers = authorization !== undefined ? { Authorization: authorization } : undefined;
  if (client === "codex" && endpoint.tokenEnvVar !== undefined) return { url: endpoint.mcpUrl, bearer_token_env_var: endpoint.tokenEnvVar };
  switch (client) {
    case "vscode":
    case "claude-code":
      return { type: "http", url: endpoint.mcpUrl, ...(headers && { headers }) };
    case "cursor":
      return { url: endpoint.mcpUrl, ...(headers && { headers }) };
    case "gemini":
      return { httpUrl: endpoint.mcpUrl, ...(headers && { headers }) };
    case "windsurf":
      return { serverUrl: endpoint.mcpUrl, ...(headers && { headers }) };
    case "codex":
      return { url: endpoint.mcpUrl, ...(headers && { http_headers: headers }) };
    case "claude-desktop":
      return {
        command: endpoint.stdio.command,
        args: [...endpoint.stdio.args],
        ...(endpoint.stdio.env && Object.keys(endpoint.stdio.env).length > 0 && { env: { ...endpoint.stdio.env } }),
      };
  }
}

/** The header value that makes `client` read the token from `variable` when it connects. */
function tokenReference(client: McpClientId, variable: string): string | undefined {
  switch (client) {
    case "vscode":
      return VSCODE_TOKEN_REFERENCE;
    case "claude-code":
      return `Bearer \${${variable}}`;
    case "cursor":
    case "windsurf":
      return `Bearer \${env:${variable}}`;
    case "gemini":
      return `Bearer $${variable}`;
    case "codex":
    case "claude-desktop":
      return undefined;
  }
}

/** The URL (or, for stdio, the command line) an entry of `client` points at, to tell whether it is this gateway's. */
export function entryTarget(client: McpClientId, entry: unknown): string | undefined {
  if (entry === null || typeof entry !== "object") return undefined;
  const record = entry as Record<string, unknown>;
  const key = client === "gemini" ? "httpUrl" : client === "windsurf" ? "serverUrl" : "url";
  if (client === "claude-desktop") {
    const args = Array.isArray(record.args) ? record.args.map(String) : [];
    return typeof record.command === "string" ? [record.command, ...args].join(" ") : undefined;
  }
  return typeof record[key] === "string" ? record[key] : undefined;
}

/** Inputs of the banner's snippets. */
export interface ClientSnippetOptions {
  /** `http://localhost:9095/mcp`. */
  readonly mcpUrl: string;
  /** `http://localhost:9095/sse`. */
  readonly sseUrl: string;
  /** Set when MCP clients must send a bearer token: the path of `client.token`. */
  readonly clientTokenPath?: string;
  /** How the user runs dsctl here: `dsctl`, or `npx dsctl` when it is not on the PATH. Default `dsctl`. */
  readonly dsctl?: string;
}

/** One client's snippet. */
export interface ClientSnippet {
  /** The client ("VS Code"). */
  readonly client: string;
  /** Where it goes (".vscode/mcp.json"), or "shell". */
  readonly where: string;
  readonly text: string;
}

/** The stdio launcher as the banner shows it: the command the user types, split into command and arguments. */
function bannerLauncher(dsctl: string): StdioLauncher {
  const [command = "dsctl", ...rest] = dsctl.split(" ");
  return { command, args: [...rest, "stdio"] };
}

/** The snippets for VS Code, Cursor, Claude Code, legacy SSE clients and stdio-only clients. */
export function clientSnippets(options: ClientSnippetOptions): ClientSnippet[] {
  const tokenPath = options.clientTokenPath;
  const authorization = tokenPath ? `Bearer <contents of ${tokenPath}>` : undefined;
  const dsctl = options.dsctl ?? "dsctl";
  const endpoint: GatewayEndpoint = { mcpUrl: options.mcpUrl, authorization, stdio: bannerLauncher(dsctl) };
  const claudeHeader = tokenPath ? ` --header "Authorization: Bearer $(cat ${tokenPath})"` : "";
  // VS Code prompts for the token once and keeps it in its secret storage (examples/clients/vscode-mcp-token.json).
  const vscode = tokenPath
    ? {
        inputs: [vscodeTokenInput(`DeployStack Gateway client token (cat ${tokenPath})`)],
        servers: { [CLIENT_SERVER_NAME]: clientEntry("vscode", { ...endpoint, authorization: VSCODE_TOKEN_REFERENCE }) },
      }
    : { servers: { [CLIENT_SERVER_NAME]: clientEntry("vscode", endpoint) } };
  return [
    { client: "VS Code", where: ".vscode/mcp.json", text: JSON.stringify(vscode) },
    { client: "Cursor", where: "~/.cursor/mcp.json", text: JSON.stringify({ mcpServers: { [CLIENT_SERVER_NAME]: clientEntry("cursor", endpoint) } }) },
    { client: "Claude Code", where: "shell", text: `claude mcp add --transport http ${CLIENT_SERVER_NAME} ${options.mcpUrl}${claudeHeader}` },
    {
      client: "Legacy SSE clients",
      where: "their mcpServers",
      text: JSON.stringify({ mcpServers: { [CLIENT_SERVER_NAME]: { url: options.sseUrl, ...(authorization && { headers: { Authorization: authorization } }) } } }),
    },
    {
      client: "Claude Desktop and other stdio-only clients",
      where: "their mcpServers",
      text: JSON.stringify({ mcpServers: { [CLIENT_SERVER_NAME]: clientEntry("claude-desktop", endpoint) } }),
    },
  ];
}

/** The id of VS Code's prompt for the client token. */
export const VSCODE_TOKEN_INPUT_ID = "deploystack-token";

/** The header value that makes VS Code send what the user typed at its prompt. */
export const VSCODE_TOKEN_REFERENCE = `Bearer \${input:${VSCODE_TOKEN_INPUT_ID}}`;

/** VS Code's prompt for the client token (kept in its secret storage, so a shared `.vscode/mcp.json` holds no secret). */
export function vscodeTokenInput(description: string): Record<string, unknown> {
  return { type: "promptString", id: VSCODE_TOKEN_INPUT_ID, description, password: true };
}

/** The foreground banner: endpoints, socket, the snippets, and how to stop. */
export function formatBanner(
  options: ClientSnippetOptions & {
    readonly controlSocket: string;
    readonly controlAddress?: string;
    readonly frontendRunning: boolean;
    /** The team's profiles (`/mcp/<profile>`), each with its mode; none: the line is left out. */
    readonly profiles?: readonly { readonly name: string; readonly mode: string }[];
  },
): string {
  const dsctl = options.dsctl ?? "dsctl";
  const lines = [
    "DeployStack Gateway is running.",
    "",
    `  MCP (Streamable HTTP)  ${options.mcpUrl}`,
    `  MCP (legacy SSE)       ${options.sseUrl}`,
    `  control socket         ${options.controlSocket}`,
  ];
  if (options.controlAddress) lines.push(`  control (tcp)          http://${options.controlAddress}`);
  if (options.profiles && options.profiles.length > 0) {
    lines.push("", `  Profiles (a subset of the tools each; \`${dsctl} profiles list\`):`);
    for (const profile of options.profiles) lines.push(`    ${profile.name.padEnd(20)} ${profile.mode.padEnd(7)} ${options.mcpUrl}/${profile.name}`);
  }
  if (!options.frontendRunning) lines.push("", "  note: the MCP frontend is not running yet (see the log); the URLs answer once it is.");
  lines.push("", `Add it to your IDE in one step: \`${dsctl} ide add <client>\` (${MCP_CLIENT_IDS.join(", ")}), or paste:`);
  for (const snippet of clientSnippets(options)) {
    lines.push("", `  ${snippet.client} — ${snippet.where}:`, `    ${snippet.text}`);
  }
  lines.push("", `Stop with Ctrl-C (or \`${dsctl} stop\`).`);
  return lines.join("\n");
}
