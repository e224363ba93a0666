import { isAlias, isMap, isNode, isScalar, isSeq, type Document, type LineCounter, type Node, type YAMLError } from "yaml";
import type * as z from "zod";
import { closestMatch } from "../did-you-mean.js";

/**
 * Turns validation issues and YAML syntax errors into lines that name the file, the
 * line and column, and the field (`team.yaml:7:9: teams[0].servers[1].command: required`),
 * because a config error that only says "invalid input" costs the user a search through
 * the whole file. Nothing here ever prints a value from the file: env values are secrets,
 * so messages describe types and rules, never contents.
 */

/** A path into the parsed file: map keys and list indexes. */
export type FieldPath = readonly (string | number)[];

/** One thing wrong with a team file, positioned. */
export interface TeamFileProblem {
  /** 1-based line. */
  readonly line: number;
  /** 1-based column. */
  readonly column: number;
  /** `teams[0].servers[1].command`; empty for the file as a whole. */
  readonly field: string;
  /** What is wrong, without any value from the file. */
  readonly message: string;
}

/** Where in the document a problem should point. */
export type ProblemAnchor = "value" | "key" | "parent";

/** A problem before it is positioned: the path it concerns and where to point. */
export interface UnplacedProblem {
  readonly path: FieldPath;
  readonly message: string;
  readonly anchor: ProblemAnchor;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Renders a path the way a JavaScript reader would write it. */
export function formatFieldPath(path: FieldPath): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (IDENTIFIER.test(segment)) out += out === "" ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** Finds the source offset of a path: the value (or key) when present, else the nearest existing parent. */
export function locateOffset(doc: Document, path: FieldPath, anchor: ProblemAnchor): number {
  let node: unknown = doc.contents;
  let fallback = offsetOf(node) ?? 0;
  for (let index = 0; index < path.length; index++) {
    if (isAlias(node)) node = node.resolve(doc);
    const segment = path[index];
    const last = index === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
      if (!pair) return fallback;
      if (last && anchor === "key") return offsetOf(pair.key) ?? fallback;
      if (!isNode(pair.value) || (isScalar(pair.value) && pair.value.value === null && pair.value.source === "")) {
        return offsetOf(pair.key) ?? fallback;
      }
      node = pair.value;
    } else if (isSeq(node) && typeof segment === "number") {
      const item = node.items[segment];
      if (!isNode(item)) return fallback;
      node = item;
    } else {
      return fallback;
    }
    fallback = offsetOf(node) ?? fallback;
  }
  return fallback;
}

function offsetOf(node: unknown): number | undefined {
  return isNode(node) ? (node as Node).range?.[0] : undefined;
}

/** Positions problems and sorts them in reading order. */
export function placeProblems(doc: Document, lineCounter: LineCounter, problems: readonly UnplacedProblem[]): TeamFileProblem[] {
  return problems
    .map((problem) => {
      const { line, col } = lineCounter.linePos(locateOffset(doc, problem.path, problem.anchor));
      return { line, column: col, field: formatFieldPath(problem.path), message: problem.message };
    })
    .sort((a, b) => a.line - b.line || a.column - b.column);
}

/** Renders positioned problems as one message, one line per problem. */
export function formatProblems(displayPath: string, problems: readonly TeamFileProblem[]): string {
  return problems
    .map((p) => `${displayPath}:${p.line}:${p.column}: ${p.field === "" ? "" : `${p.field}: `}${p.message}`)
    .join("\n");
}

const YAML_ERROR_TEXT: Readonly<Record<string, string>> = {
  DUPLICATE_KEY: "duplicate key",
  BAD_INDENT: "bad indentation",
  TAB_AS_INDENT: "tabs are not allowed as indentation",
  MISSING_CHAR: "missing closing quote or bracket",
  MULTILINE_IMPLICIT_KEY: "a key must be on a single line",
  BLOCK_AS_IMPLICIT_KEY: "a nested block cannot be a key",
  BLOCK_IN_FLOW: "a block collection cannot be inside a flow collection",
  MULTIPLE_DOCS: "only one document is allowed",
  BAD_ALIAS: "unknown or invalid alias",
  UNEXPECTED_TOKEN: "unexpected token",
  BAD_SCALAR_START: "a plain value cannot start with this character",
  BAD_DQ_ESCAPE: "invalid escape in a double-quoted string",
  TAG_RESOLVE_FAILED: "unknown or invalid tag",
  KEY_OVER_1024_CHARS: "a key is longer than 1024 characters",
};

/**
 * YAML syntax errors as problems. The parser's own messages can quote source text,
 * which may be a secret, so only the error code is mapped to a fixed text.
 */
export function yamlErrorToProblem(error: YAMLError, lineCounter: LineCounter): TeamFileProblem {
  const { line, col } = lineCounter.linePos(error.pos[0]);
  const text = YAML_ERROR_TEXT[error.code] ?? `invalid YAML (${error.code.toLowerCase().replaceAll("_", " ")})`;
  return { line, column: col, field: "", message: `syntax error: ${text}` };
}

const EXPECTED_TEXT: Readonly<Record<string, string>> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
  array: "a list",
  object: "a map",
  record: "a map",
};

/** Names the type of a value without showing it. */
export function describeKind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  switch (typeof value) {
    case "string":
      return "a string";
    case "number":
      return Number.isInteger(value) ? "an integer" : "a number";
    case "boolean":
      return "a boolean";
    case "object":
      return "a map";
    default:
      return typeof value;
  }
}

function valueAt(root: unknown, path: FieldPath): { found: boolean; value: unknown } {
  let current: unknown = root;
  for (const segment of path) {
    if (current === null || typeof current !== "object" || !Object.hasOwn(current, segment)) return { found: false, value: undefined };
    current = (current as Record<string | number, unknown>)[segment];
  }
  return { found: true, value: current };
}

/**
 * Translates zod issues into problems. `knownKeys` lists the valid fields at a path, for
 * a "did you mean" hint on misspelt fields. zod's own texts are not used: ours name the
 * rule broken, and none can carry the input.
 */
export function zodIssuesToProblems(
  issues: readonly z.core.$ZodIssue[],
  raw: unknown,
  knownKeys: (path: FieldPath) => readonly string[],
): UnplacedProblem[] {
  const problems: UnplacedProblem[] = [];
  for (const issue of issues) {
    const path = issue.path.filter((s): s is string | number => typeof s !== "symbol");
    switch (issue.code) {
      case "unrecognized_keys":
        for (const key of issue.keys) {
          const hint = closestMatch(key, knownKeys(path));
          problems.push({ path: [...path, key], anchor: "key", message: `unknown field${hint ? ` (did you mean "${hint}"?)` : ""}` });
        }
        break;
      case "invalid_type": {
        const at = valueAt(raw, path);
        const expected = EXPECTED_TEXT[issue.expected] ?? issue.expected;
        problems.push(
          at.found
            ? { path, anchor: "value", message: `expected ${expected}, got ${describeKind(at.value)}` }
            : { path, anchor: "parent", message: "required" },
        );
        break;
      }
      case "invalid_value":
        problems.push({ path, anchor: "value", message: `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}` });
        break;
      case "too_small":
        problems.push({ path, anchor: "value", message: tooSmallText(issue) });
        break;
      case "too_big":
        problems.push({ path, anchor: "value", message: `must be at most ${String(issue.maximum)}` });
        break;
      case "invalid_key":
        problems.push({ path, anchor: "key", message: issue.issues[0]?.message ?? "invalid key" });
        break;
      case "invalid_format":
      case "custom":
        problems.push({ path, anchor: "value", message: issue.message });
        break;
      default:
        problems.push({ path, anchor: "value", message: "invalid value" });
    }
  }
  return problems;
}

function tooSmallText(issue: z.core.$ZodIssueTooSmall): string {
  const minimum = Number(issue.minimum);
  if (issue.origin === "string" && minimum <= 1) return "must not be empty";
  if (issue.origin === "array") return `must have at least ${minimum} ${minimum === 1 ? "entry" : "entries"}`;
  return `must be at least ${minimum}${issue.inclusive === false ? " (exclusive)" : ""}`;
}
