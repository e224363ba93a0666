import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, basename } from "node:path";
import { createTwoFilesPatch } from "diff";
import { VSCODE_TOKEN_INPUT_ID } from "../../shared/client-snippets.js";
import { CliFailure } from "../run-verb.js";
import type { ClientConfigLocation } from "./clients.js";
import { parseJsonConfig, sameJson, setJsonValue, valueAt } from "./json-config.js";
import { parseTomlConfig, setTomlEntry, tomlEntry } from "./toml-config.js";

/**
 * Plans and applies the change of one entry in one client's config file: the new text is computed first (so
 * `--dry-run` can show it as a diff and an unchanged file is never touched), then the current file is copied to
 * `<file>.dsctl-backup` and the new text replaces it atomically (a temp file renamed over it, its mode kept; through
 * a symlink the real file is edited, so dotfile managers keep working).
 */

/** What to put in (or take out of) a config. */
export interface EntryChange {
  readonly name: string;
  /** The entry; undefined removes it. */
  readonly entry: Record<string, unknown> | undefined;
  /** For VS Code with a token prompt: the `inputs` item to keep beside the entry (by its id). */
  readonly vscodeInput?: Record<string, unknown>;
  /** The new file holds a secret: create it 0600. */
  readonly secret?: boolean;
}

/** The outcome of planning: the text before and after. */
export interface PlannedEdit {
  readonly location: ClientConfigLocation;
  /** The file as it is ("" when missing). */
  readonly before: string;
  readonly after: string;
  readonly exists: boolean;
  readonly changed: boolean;
}

/** Reads a config file ("" when missing). */
export function readConfig(path: string): { text: string; exists: boolean } {
  try {
    return { text: readFileSync(path, "utf8"), exists: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { text: "", exists: false };
    throw new CliFailure(`cannot read ${path}: ${(error as Error).message}`);
  }
}

/** The current entry `name` of a config's text, or undefined. */
export function currentEntry(location: ClientConfigLocation, text: string, name: string): unknown {
  if (location.format === "toml") return tomlEntry(parseTomlConfig(text, location.path), location.serversKey, name);
  return valueAt(parseJsonConfig(text, location.path), [location.serversKey, name]);
}

/** Computes the file's new text. */
export function planEdit(location: ClientConfigLocation, change: EntryChange): PlannedEdit {
  const { text: before, exists } = readConfig(location.path);
  if (!exists && change.entry === undefined) return { location, before, after: before, exists, changed: false };
  const after = location.format === "toml" ? setTomlEntry(before, location.path, location.serversKey, change.name, change.entry) : editJson(location, before, change);
  return { location, before, after, exists, changed: after !== before };
}

function editJson(location: ClientConfigLocation, text: string, change: EntryChange): string {
  const root = parseJsonConfig(text, location.path);
  let next = text;
  const current = valueAt(root, [location.serversKey, change.name]);
  if (change.entry === undefined ? current !== undefined : !sameJson(current, change.entry)) {
    next = setJsonValue(next, [location.serversKey, change.name], change.entry);
  }
  if (location.client !== "vscode") return next;
  // VS Code's `inputs`: the token prompt the entry refers to; kept while the entry needs it, removed with it.
  const inputs = valueAt(parseJsonConfig(next, location.path), ["inputs"]);
  const list = Array.isArray(inputs) ? (inputs as unknown[]) : undefined;
  const index = list ? list.findIndex((input) => (input as { id?: unknown } | null)?.id === VSCODE_TOKEN_INPUT_ID) : -1;
  if (change.vscodeInput) {
    if (!list) return setJsonValue(next, ["inputs"], [change.vscodeInput]);
    if (index < 0) return setJsonValue(next, ["inputs", list.length], change.vscodeInput, { insertAt: list.length });
    return sameJson(list[index], change.vscodeInput) ? next : setJsonValue(next, ["inputs", index], change.vscodeInput);
  }
  if (change.entry === undefined && index >= 0 && !stillReferenced(next, location)) return setJsonValue(next, ["inputs", index], undefined);
  return next;
}

/** Whether another entry (another profile) still uses the token prompt. */
function stillReferenced(text: string, location: ClientConfigLocation): boolean {
  return JSON.stringify(valueAt(parseJsonConfig(text, location.path), [location.serversKey]) ?? {}).includes(`input:${VSCODE_TOKEN_INPUT_ID}`);
}

/** The unified diff of a planned edit (empty when nothing changes). */
export function editDiff(edit: PlannedEdit): string {
  if (!edit.changed) return "";
  const path = edit.location.path;
  return createTwoFilesPatch(edit.exists ? path : "/dev/null", path, edit.before, edit.after, undefined, undefined, { context: 3 });
}

/** The backup written before a file is changed. */
export function backupPath(path: string): string {
  return `${path}.dsctl-backup`;
}

/** Writes a planned edit: backup first, then an atomic replace. Returns the backup's path, if one was written. */
export function applyEdit(edit: PlannedEdit, options: { readonly secret?: boolean } = {}): string | undefined {
  if (!edit.changed) return undefined;
  const target = edit.exists ? realpathSync(edit.location.path) : edit.location.path;
  let backup: string | undefined;
  let mode = options.secret ? 0o600 : 0o644;
  if (edit.exists) {
    // Re-read right before writing: the client may have rewritten its file since the plan (Claude Code does, often).
    if (readFileSync(target, "utf8") !== edit.before) throw new CliFailure(`${edit.location.path} changed while dsctl was editing it; run the command again`);
    mode = statSync(target).mode & 0o777;
    backup = backupPath(target);
    copyFileSync(target, backup);
    chmodSync(backup, 0o600); // the file may hold a token: its copy is private whatever the original's mode
  } else {
    mkdirSync(dirname(target), { recursive: true });
  }
  if (options.secret) mode &= 0o700;
  const temp = join(dirname(target), `.${basename(target)}.dsctl-${process.pid}.tmp`);
  writeFileSync(temp, edit.after, { mode });
  chmodSync(temp, mode);
  renameSync(temp, target);
  return backup;
}

/**
 * Whether the client seems to be installed here: its config file exists, or the folder it keeps it in (not the home
 * folder itself, which always exists: `~/.claude.json` counts only when present).
 */
export function looksInstalled(location: ClientConfigLocation, home: string): boolean {
  const folder = dirname(location.path);
  return existsSync(location.path) || (folder !== home && existsSync(folder));
}
