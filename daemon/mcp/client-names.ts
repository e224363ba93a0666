/**
 * Tool names shaped for the client that reads them.
 *
 * The gateway's own names (exposed-names.ts) fit `^[A-Za-z0-9_-]{1,64}$`, but most clients put
 * something before a tool's name before they hand it to a model API that stops at 64
 * characters: Claude Code and Codex send `mcp__<entry>__<tool>`, VS Code `mcp_<entry>_<tool>`,
 * Cursor drops a tool whose entry and tool names together reach 60 characters, Gemini CLI
 * stops at 63 and wants a letter or `_` first. A 64-character gateway name is then lost in
 * exactly the clients people use. So each client gets names within the budget its own prefix
 * leaves (docs/clients.md has the table and where each rule comes from).
 *
 * A shaped name is a pure function of (rule, entry name, gateway name): the gateway name is
 * sticky (exposed-names.ts), so the shaped one is stable across restarts too. A name that
 * already fits is left alone, so a client whose rule the gateway names satisfy sees them
 * unchanged. One that does not is cut and suffixed with a hash of the whole gateway name.
 * Uniqueness within one client's view is settled by age, as gateway names are (see
 * `createClientNameView`), and the gateway name keeps working for every client (unless a
 * squatting server chose it to equal an older tool's client name: it then means that tool).
 *
 * Prompts are not shaped: no client hands prompt names to a model API as function names.
 */
import { shortHash } from "./exposed-names.js";
import type { ExposedTool } from "./exposed-tool.js";

/** One client's tool-name rule. */
export interface ClientNameRule {
  /** A stable id (`claude-code`, `cursor`, … or `default`): views are cached by it. */
  readonly id: string;
  /** The client's name for people (logs, docs). */
  readonly label: string;
  /** Recognises the client by its `clientInfo.name` (MCP `initialize`, or a modern request's `_meta`). */
  readonly recognise?: RegExp;
  /** What the client puts before a tool's name, given the name of the gateway's entry in its config. */
  prefix(entry: string): string;
  /** The longest name the client accepts, prefix included. */
  readonly maxLength: number;
  /** The first character a name must have, when the client restricts it (Gemini: a letter or `_`). */
  readonly firstCharacter?: RegExp;
}

/** The fewest characters a budget leaves a tool, however long an entry name is: room for a head and the hash. */
export const MIN_TOOL_NAME_BUDGET = 16;

const HASH_LENGTH = 6;
const INVALID = /[^A-Za-z0-9_-]/g;
const LETTER_OR_UNDERSCORE = /^[A-Za-z_]/;

/**
 * The rules of the mainstream clients, first match wins. The `recognise` patterns follow the
 * `clientInfo.name` each client sends (see docs/clients.md); they are loose on purpose
 * (insiders builds, forks), and a client matching none gets `DEFAULT_CLIENT_RULE`.
 */
export const CLIENT_NAME_RULES: readonly ClientNameRule[] = [
  { id: "claude-code", label: "Claude Code", recognise: /^claude[-_ ]?code/i, prefix: (entry) => `mcp__${entry}__`, maxLength: 64 },
  { id: "claude-desktop", label: "Claude Desktop", recognise: /^claude[-_ ]?(ai|desktop)\b/i, prefix: () => "", maxLength: 64 },
  // Cursor counts the entry and tool names together and drops a tool at 60: one character of
  // separator is counted so the sum stays below 60 however Cursor joins them.
  { id: "cursor", label: "Cursor", recognise: /cursor/i, prefix: (entry) => `${entry}_`, maxLength: 60 },
  { id: "vscode", label: "VS Code", recognise: /visual studio code|vs ?code/i, prefix: (entry) => `mcp_${entry}_`, maxLength: 64 },
  { id: "codex", label: "Codex", recognise: /codex/i, prefix: (entry) => `mcp__${entry}__`, maxLength: 64 },
  {
    id: "gemini",
    label: "Gemini CLI",
    recognise: /gemini/i,
    prefix: (entry) => `${entry}__`,
    maxLength: 63,
    firstCharacter: LETTER_OR_UNDERSCORE,
  },
  { id: "windsurf", label: "Windsurf", recognise: /windsurf|codeium|cascade/i, prefix: () => "", maxLength: 64 },
];

/**
 * For a client the gateway does not know: the strictest of the known rules at once (the
 * longest common prefix scheme, `mcp__<entry>__`, within Gemini's 63 characters, starting
 * with a letter or `_`), so that whatever the client does, the names fit.
 */
export const DEFAULT_CLIENT_RULE: ClientNameRule = {
  id: "default",
  label: "any other client",
  prefix: (entry) => `mcp__${entry}__`,
  maxLength: 63,
  firstCharacter: LETTER_OR_UNDERSCORE,
};

/** The rule for a client, by the `clientInfo.name` it sent; the default rule when it sent none or an unknown one. */
export function clientRuleFor(clientName: string | undefined): ClientNameRule {
  if (clientName === undefined) return DEFAULT_CLIENT_RULE;
  return CLIENT_NAME_RULES.find((rule) => rule.recognise?.test(clientName) === true) ?? DEFAULT_CLIENT_RULE;
}

/** How many characters the rule leaves a tool name after the client's prefix for `entry` (never below `MIN_TOOL_NAME_BUDGET`). */
export function toolNameBudget(rule: ClientNameRule, entry: string): number {
  return Math.max(MIN_TOOL_NAME_BUDGET, rule.maxLength - rule.prefix(entry).length);
}

/** `name` cut to leave room for `_<hash>` within `budget`, then suffixed; the hash is of `salt`. */
function cutWithHash(name: string, budget: number, salt: string): string {
  return `${name.slice(0, budget - HASH_LENGTH - 1)}_${shortHash(salt)}`;
}

/**
 * The name a client with `rule`, whose config names the gateway `entry`, sees for the gateway
 * name `exposedName`, before uniqueness is settled: characters outside `[A-Za-z0-9_-]` become
 * `_`, a `_` goes first when the rule wants another first character, and a name over budget is
 * cut and suffixed with a hash of the whole gateway name. A name that fits is returned as is.
 */
export function shapeToolName(rule: ClientNameRule, entry: string, exposedName: string): string {
  let name = exposedName.replace(INVALID, "_");
  if (name === "") name = "_";
  if (rule.firstCharacter && !rule.firstCharacter.test(name)) name = `_${name}`;
  const budget = toolNameBudget(rule, entry);
  return name.length <= budget ? name : cutWithHash(name, budget, exposedName);
}

/** One client's names for a catalog: built once per registry snapshot, rule and entry (registry.ts). */
export interface ClientNameView {
  readonly rule: ClientNameRule;
  readonly entry: string;
  /** True when every name is the gateway's own: lists and calls pass through untouched. */
  readonly identity: boolean;
  /** The name this client sees for a gateway name (the gateway name when it fits). */
  clientName(exposedName: string): string;
  /** The gateway name behind a name this client was given; undefined for any other name (which may be a gateway name itself). */
  exposedName(clientName: string): string | undefined;
  /** A tool as this client sees it (name and definition's name shaped); memoized, so lists allocate no new tools. */
  tool(tool: ExposedTool): ExposedTool;
}

/**
 * The view of one client over the gateway names `exposedNames` (every tool the registry knows,
 * listed or not, so that the view does not change when a server stops), given oldest first.
 *
 * Uniqueness is settled by age, like the gateway names themselves (exposed-names.ts): each
 * name in turn gets the name it wants unless an older one already has it, in which case it is
 * re-hashed with an attempt counter until free. So a client name, once handed out, keeps
 * meaning the same tool: a server that later lists a tool whose gateway name equals another
 * tool's shaped name cannot take that name from it in any client's view (its tool is shown
 * under a hashed name there, and its gateway name means the older tool for that client). The
 * registry passes the held names in the order they were given, which the tool cache keeps
 * across restarts. Apart from such a squatter, collisions need a 24-bit hash collision, so in
 * practice every name is the plain function of its gateway name.
 */
export function createClientNameView(rule: ClientNameRule, entry: string, exposedNames: Iterable<string>): ClientNameView {
  const taken = new Set<string>();
  const toClient = new Map<string, string>();
  const fromClient = new Map<string, string>();
  const budget = toolNameBudget(rule, entry);
  const done = new Set<string>();
  for (const exposedName of exposedNames) {
    if (done.has(exposedName)) continue;
    done.add(exposedName);
    const wanted = shapeToolName(rule, entry, exposedName);
    let name = wanted;
    for (let attempt = 1; taken.has(name); attempt++) name = cutWithHash(wanted, budget, `${exposedName}\u0000${attempt}`);
    taken.add(name);
    if (name === exposedName) continue;
    toClient.set(exposedName, name);
    fromClient.set(name, exposedName);
  }
  const shaped = new WeakMap<ExposedTool, ExposedTool>();
  return {
    rule,
    entry,
    identity: toClient.size === 0,
    clientName: (exposedName) => toClient.get(exposedName) ?? exposedName,
    exposedName: (clientName) => fromClient.get(clientName),
    tool(tool) {
      const name = toClient.get(tool.exposedName);
      if (name === undefined) return tool;
      let next = shaped.get(tool);
      if (next === undefined) {
        next = { ...tool, exposedName: name, definition: { ...tool.definition, name } };
        shaped.set(tool, next);
      }
      return next;
    },
  };
}
