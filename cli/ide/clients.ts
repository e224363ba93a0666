import { join } from "node:path";
import { MCP_CLIENT_IDS, type McpClientId } from "../../shared/client-snippets.js";

/**
 * Where each MCP client keeps its config on Linux and macOS, and in which format. Home, platform, working folder and
 * environment are inputs, so tests point every client at a temporary home (and pretend to be a Mac).
 *
 * Locations (each client's docs, checked December 2026):
 * - VS Code: user `~/.config/Code/User/mcp.json` (macOS `~/Library/Application Support/Code/User/mcp.json`), workspace `.vscode/mcp.json`.
 * - Cursor: `~/.cursor/mcp.json`, project `.cursor/mcp.json`.
 * - Claude Code: user scope in `~/.claude.json`, project scope `.mcp.json`.
 * - Claude Desktop: `~/.config/Claude/claude_desktop_config.json` (macOS `~/Library/Application Support/Claude/…`); no project scope.
 * - Codex: `$CODEX_HOME/config.toml` (default `~/.codex`), project `.codex/config.toml` (trusted projects only).
 * - Gemini CLI: `~/.gemini/settings.json`, project `.gemini/settings.json`.
 * - Windsurf: `~/.codeium/windsurf/mcp_config.json`; no project scope.
 */

/** Where an entry goes: the user's own config, or the current project's (often committed, so never a literal token). */
export type IdeScope = "user" | "workspace";

/** What the lookup depends on. */
export interface ClientLocationContext {
  readonly home: string;
  readonly platform: NodeJS.Platform;
  /** The project folder for `--scope workspace`. */
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
}

/** One client's config file for one scope. */
export interface ClientConfigLocation {
  readonly client: McpClientId;
  readonly scope: IdeScope;
  readonly path: string;
  readonly format: "json" | "toml";
  /** The key holding the servers (`servers`, `mcpServers`, `mcp_servers`). */
  readonly serversKey: string;
}

/** A client as `dsctl ide` presents it. */
export interface ClientDescription {
  readonly id: McpClientId;
  readonly name: string;
  readonly scopes: readonly IdeScope[];
}

/** The clients, in the order `list` shows them. */
export const IDE_CLIENTS: readonly ClientDescription[] = [
  { id: "vscode", name: "VS Code", scopes: ["user", "workspace"] },
  { id: "cursor", name: "Cursor", scopes: ["user", "workspace"] },
  { id: "claude-code", name: "Claude Code", scopes: ["user", "workspace"] },
  { id: "claude-desktop", name: "Claude Desktop", scopes: ["user"] },
  { id: "codex", name: "Codex", scopes: ["user", "workspace"] },
  { id: "gemini", name: "Gemini CLI", scopes: ["user", "workspace"] },
  { id: "windsurf", name: "Windsurf", scopes: ["user"] },
];

/** The description of a client id the user typed, or a failure listing the ones there are. */
export function describeClient(id: string): ClientDescription | undefined {
  return IDE_CLIENTS.find((client) => client.id === id);
}

/** The ids, for help texts and completion. */
export const IDE_CLIENT_IDS: readonly McpClientId[] = MCP_CLIENT_IDS;

/** The folder where desktop apps keep their settings: `~/Library/Application Support` on macOS, XDG config elsewhere. */
function appConfigDir(context: ClientLocationContext): string {
  if (context.platform === "darwin") return join(context.home, "Library", "Application Support");
  const xdg = context.env.XDG_CONFIG_HOME;
  return xdg && xdg.startsWith("/") ? xdg : join(context.home, ".config");
}

/** The config file of `client` for `scope`, or undefined when the client has no such scope. */
export function clientConfigLocation(client: McpClientId, scope: IdeScope, context: ClientLocationContext): ClientConfigLocation | undefined {
  const { home, cwd } = context;
  const at = (path: string, serversKey = "mcpServers", format: "json" | "toml" = "json"): ClientConfigLocation => ({ client, scope, path, format, serversKey });
  const user = scope === "user";
  switch (client) {
    case "vscode":
      return at(user ? join(appConfigDir(context), "Code", "User", "mcp.json") : join(cwd, ".vscode", "mcp.json"), "servers");
    case "cursor":
      return at(join(user ? home : cwd, ".cursor", "mcp.json"));
    case "claude-code":
      return at(user ? join(home, ".claude.json") : join(cwd, ".mcp.json"));
    case "claude-desktop":
      return user ? at(join(appConfigDir(context), "Claude", "claude_desktop_config.json")) : undefined;
    case "codex": {
      const codexHome = context.env.CODEX_HOME && context.env.CODEX_HOME.startsWith("/") ? context.env.CODEX_HOME : join(home, ".codex");
      return at(user ? join(codexHome, "config.toml") : join(cwd, ".codex", "config.toml"), "mcp_servers", "toml");
    }
    case "gemini":
      return at(join(user ? home : cwd, ".gemini", "settings.json"));
    case "windsurf":
      return user ? at(join(home, ".codeium", "windsurf", "mcp_config.json")) : undefined;
  }
}
