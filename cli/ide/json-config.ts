import { applyEdits, format, modify, parse, printParseErrorCode, type FormattingOptions, type JSONPath, type ParseError } from "jsonc-parser";
import { CliFailure } from "../run-verb.js";

/**
 * Edits one entry of a client's JSON or JSONC config through `jsonc-parser`'s `modify` + `applyEdits`: the edits
 * touch only the entry's own text, so comments, trailing commas, key order and the user's indentation everywhere
 * else survive byte for byte. A file that does not parse is never rewritten (it is the user's, maybe mid-edit).
 */

/** Parses a config; throws a `CliFailure` naming the file, line and column when it is not valid JSONC. */
export function parseJsonConfig(text: string, path: string): unknown {
  if (text.trim() === "") return {};
  const errors: ParseError[] = [];
  const value: unknown = parse(text, errors, { allowTrailingComma: true, disallowComments: false, allowEmptyContent: true });
  if (errors.length > 0) {
    const first = errors[0]!;
    const before = text.slice(0, first.offset).split("\n");
    throw new CliFailure(`cannot edit ${path}: it is not valid JSON (${printParseErrorCode(first.error)} at ${before.length}:${before.at(-1)!.length + 1}); fix it first`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new CliFailure(`cannot edit ${path}: it does not hold a JSON object`);
  return value;
}

/** The value at `path` (keys and array indexes), or undefined. */
export function valueAt(root: unknown, path: readonly (string | number)[]): unknown {
  let current = root;
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}

/** The indentation and line ending the file already uses (two spaces and `\n` for a new file). */
export function detectFormatting(text: string): FormattingOptions {
  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  const indented = /^([ \t]+)\S/m.exec(text)?.[1];
  if (indented?.startsWith("\t")) return { insertSpaces: false, tabSize: 4, eol };
  return { insertSpaces: true, tabSize: indented ? Math.min(indented.length, 8) : 2, eol };
}

/**
 * `text` with `value` set at `path` (undefined removes it); only that part of the text changes.
 *
 * `modify` can format its edit itself, but it then re-formats the whole line the edit starts on, which expands a
 * neighbour written on one line (`"memory": { "command": "npx" },`) into many. So the edit is made unformatted and
 * then only the inserted text is formatted, at the indentation of where it landed.
 */
export function setJsonValue(text: string, path: JSONPath, value: unknown, options: { readonly insertAt?: number } = {}): string {
  const formattingOptions = detectFormatting(text);
  if (text.trim() === "") {
    const created = applyEdits("{}", modify("{}", path, value, {}));
    return `${JSON.stringify(JSON.parse(created), null, 2)}\n`;
  }
  // A file written on one line (minified) gets the edit on that line too.
  const oneLine = !text.trim().includes("\n");
  let result = text;
  const edits = modify(text, path, value, { isArrayInsertion: options.insertAt !== undefined });
  for (const edit of [...edits].sort((a, b) => b.offset - a.offset)) {
    result = applyEdits(result, [edit]);
    if (edit.content.length === 0 || oneLine) continue;
    let start = edit.offset;
    let end = edit.offset + edit.content.length;
    // Inserted into an empty `{}` or `[]`: format the brackets' inside too, so the entry gets its own lines.
    const before = /[{[]\s*$/.exec(result.slice(0, start));
    const after = /^\s*[}\]]/.exec(result.slice(end));
    if (before && after) {
      start = before.index;
      end += after[0].length;
    }
    result = applyEdits(result, format(result, { offset: start, length: end - start }, formattingOptions));
  }
  return result;
}

/** Whether two JSON values are equal regardless of key order. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const aKeys = Object.keys(a);
  const bKeys = Object.keys(b);
  if (aKeys.length !== bKeys.length) return false;
  return aKeys.every((key) => Object.hasOwn(b, key) && sameJson((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}
