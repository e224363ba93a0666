import { parse, patch } from "@decimalturn/toml-patch";
import { CliFailure } from "../run-verb.js";
import { sameJson } from "./json-config.js";

/**
 * Edits one `[mcp_servers.NAME]` table of Codex's `config.toml`, keeping the rest of the file as the user wrote it.
 *
 * `@decimalturn/toml-patch` (the maintained fork of toml-patch) applies a changed object to the existing text and keeps
 * comments and formatting: we use it to change or remove an entry that exists. For a NEW entry it writes a dotted
 * inline table (`mcp_servers.x = {…}`) next to the root keys instead of the `[mcp_servers.x]` section Codex's docs and
 * `codex mcp add` use, so a new entry is appended as its own section at the end of the file instead: appending a table
 * cannot change the meaning of anything above it. The result is parsed again and must hold exactly the intended
 * entry; when it does not (the file defines `mcp_servers` as an inline table, say) the library's patch is used.
 */

type TomlTable = Record<string, unknown>;

/** Parses a TOML config; throws a `CliFailure` naming the file when it is not valid TOML. */
export function parseTomlConfig(text: string, path: string): TomlTable {
  try {
    return parse(text, { integersAsBigInt: false }) as TomlTable;
  } catch (error) {
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new CliFailure(`cannot edit ${path}: it is not valid TOML (${reason}); fix it first`);
  }
}

/** The entry `[<key>.<name>]`, or undefined. */
export function tomlEntry(document: TomlTable, key: string, name: string): unknown {
  const servers = document[key];
  return servers !== null && typeof servers === "object" ? (servers as TomlTable)[name] : undefined;
}

/** `text` with `[<key>.<name>]` set to `entry` (undefined removes it). */
export function setTomlEntry(text: string, path: string, key: string, name: string, entry: TomlTable | undefined): string {
  const document = parseTomlConfig(text, path);
  const servers = (document[key] ?? {}) as TomlTable;
  const exists = tomlEntry(document, key, name) !== undefined;
  if (entry === undefined) {
    if (!exists) return text;
    const { [name]: _removed, ...rest } = servers;
    const updated: TomlTable = { ...document, [key]: rest };
    if (Object.keys(rest).length === 0 && !new RegExp(`^\\s*\\[\\s*${key}\\s*\\]`, "m").test(text)) delete updated[key];
    return patch(text, updated);
  }
  if (exists) return patch(text, { ...document, [key]: { ...servers, [name]: entry } });
  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  const separator = text === "" ? "" : text.endsWith(eol) ? eol : `${eol}${eol}`;
  const appended = `${text}${separator}${tomlSection([key, name], entry, eol)}`;
  try {
    if (sameJson(tomlEntry(parse(appended, { integersAsBigInt: false }) as TomlTable, key, name), entry)) return appended;
  } catch {
    // the section clashes with how the file defines the table: let the library place it
  }
  return patch(text, { ...document, [key]: { ...servers, [name]: entry } });
}

/** A `[a.b]` section with one `key = value` line per field; nested tables as inline tables. */
export function tomlSection(path: readonly string[], entry: TomlTable, eol = "\n"): string {
  const lines = [`[${path.map(tomlKey).join(".")}]`];
  for (const [field, value] of Object.entries(entry)) lines.push(`${tomlKey(field)} = ${tomlValue(value)}`);
  return `${lines.join(eol)}${eol}`;
}

function tomlKey(key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key);
}

/** A TOML value: JSON's string escapes are all valid in TOML basic strings. */
function tomlValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `[${value.map(tomlValue).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    return `{ ${Object.entries(value)
      .map(([key, inner]) => `${tomlKey(key)} = ${tomlValue(inner)}`)
      .join(", ")} }`;
  }
  throw new CliFailure(`cannot write ${String(value)} to TOML`);
}
