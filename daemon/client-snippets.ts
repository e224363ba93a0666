/**
 * What to paste into an IDE to use the gateway, in one place so that the daemon's banner,
 * `dsctl start` and the README say exactly the same thing.
 *
 * With `clientAuth: token` the snippets carry an Authorization header whose value is a
 * placeholder naming the token file, never the token: the banner may be redirected into a
 * log file, and secrets never land on disk in plain text.
 */

/** Inputs of the snippets. */
export interface ClientSnippetOptions {
  /** `http://localhost:9095/mcp`. */
  readonly mcpUrl: string;
  /** `http://localhost:9095/sse`. */
  readonly sseUrl: string;
  /** Set when MCP clients must send a bearer token: the path of `client.token`. */
  readonly clientTokenPath?: string;
}

/** One client's snippet. */
export interface ClientSnippet {
  /** The client ("VS Code"). */
  readonly client: string;
  /** Where it goes (".vscode/mcp.json"), or "shell". */
  readonly where: string;
  readonly text: string;
}

/** The MCP server name the gateway is registered under in every client. */
export const CLIENT_SERVER_NAME = "deploystack";

/** The snippets for VS Code, Cursor and Claude Code. */
export function clientSnippets(options: ClientSnippetOptions): ClientSnippet[] {
  const tokenPath = options.clientTokenPath;
  const headers = tokenPath ? { headers: { Authorization: `Bearer <contents of ${tokenPath}>` } } : {};
  const claudeHeader = tokenPath ? ` --header "Authorization: Bearer $(cat ${tokenPath})"` : "";
  // VS Code prompts for the token once and keeps it in its secret storage (examples/clients/vscode-mcp-token.json).
  const vscode = tokenPath
    ? {
        inputs: [{ type: "promptString", id: "deploystack-token", description: `DeployStack Gateway client token (cat ${tokenPath})`, password: true }],
        servers: { [CLIENT_SERVER_NAME]: { type: "http", url: options.mcpUrl, headers: { Authorization: "Bearer ${input:deploystack-token}" } } },
      }
    : { servers: { [CLIENT_SERVER_NAME]: { type: "http", url: options.mcpUrl } } };
  return [
    {
      client: "VS Code",
      where: ".vscode/mcp.json",
      text: JSON.stringify(vscode),
    },
    {
      client: "Cursor",
      where: "~/.cursor/mcp.json",
      text: JSON.stringify({ mcpServers: { [CLIENT_SERVER_NAME]: { url: options.mcpUrl, ...headers } } }),
    },
    {
      client: "Claude Code",
      where: "shell",
      text: `claude mcp add --transport http ${CLIENT_SERVER_NAME} ${options.mcpUrl}${claudeHeader}`,
    },
  ];
}

/** The foreground banner: endpoints, socket, and the snippets. */
export function formatBanner(options: ClientSnippetOptions & { readonly controlSocket: string; readonly controlAddress?: string; readonly frontendRunning: boolean }): string {
  const lines = [
    "DeployStack Gateway is running.",
    "",
    `  MCP (Streamable HTTP)  ${options.mcpUrl}`,
    `  MCP (legacy SSE)       ${options.sseUrl}`,
    `  control socket         ${options.controlSocket}`,
  ];
  if (options.controlAddress) lines.push(`  control (tcp)          http://${options.controlAddress}`);
  if (!options.frontendRunning) lines.push("", "  note: the MCP frontend is not running yet (see the log); the URLs answer once it is.");
  lines.push("", "Point your IDE at it:");
  for (const snippet of clientSnippets(options)) {
    lines.push("", `  ${snippet.client} — ${snippet.where}:`, `    ${snippet.text}`);
  }
  lines.push("", "Stop with Ctrl-C (or `dsctl stop`).");
  return lines.join("\n");
}
