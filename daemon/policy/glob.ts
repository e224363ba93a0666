/**
 * The glob dialect of team policies, kept deliberately tiny so that a rule means the same
 * to the person writing it and to the gateway: `*` matches any run of characters
 * (including none, and including `-`), `?` exactly one character, everything else itself.
 * A pattern matches the whole exposed tool name, case-sensitively — `brightdata-*` does
 * not match `xbrightdata-search`.
 */

/** A compiled pattern. */
export interface ToolGlob {
  readonly pattern: string;
  matches(name: string): boolean;
}

/** Compiles `pattern` into an anchored matcher. */
export function compileGlob(pattern: string): ToolGlob {
  let source = "^";
  for (const char of pattern) {
    if (char === "*") source += ".*";
    else if (char === "?") source += ".";
    else source += char.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }
  const regex = new RegExp(`${source}$`, "su");
  return { pattern, matches: (name) => regex.test(name) };
}
