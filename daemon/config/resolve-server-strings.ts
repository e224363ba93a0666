import { createRequire } from "node:module";
import { basename, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { ServerRoot } from "./types.js";

/**
 * The few rewrites a team file's server strings get before they reach the supervisor,
 * so that one file works wherever it is installed and whoever runs it:
 * - `${NAME}` is replaced by a variable (the daemon's environment plus `DEPLOYSTACK_HOME`),
 *   which keeps tokens out of the file (`API_TOKEN: ${BRIGHTDATA_TOKEN}`) and lets the demo
 *   keep its data in the state folder; `$${` writes a literal `${`. Substitution also works in
 *   `args`, but a secret belongs in `env` only: argv is visible to every local user.
 * - `package:<specifier>` (a whole `command` or `args` entry) becomes the absolute path of
 *   a file inside an installed npm package, found by Node's resolution from the team
 *   file's folder and then from the gateway's own installation. The demo uses it to run
 *   the MCP servers the gateway depends on without guessing where npm put them (hoisted
 *   or not, global or local).
 * - A relative `command` path (`./bin/server`), `cwd` and `roots` folders resolve against the team file's folder,
 *   not the daemon's working directory, which a detached daemon does not share with the user.
 * - The bare command `node` becomes `process.execPath`: the daemon gives servers a minimal
 *   PATH, and under launchd, systemd or a version manager `node` may be missing from it or be
 *   a different version; the Node that runs the gateway is known to be recent enough for the
 *   bundled servers. Write an absolute path to use another Node.
 */

/** Why a string could not be resolved; the caller positions it. */
export class ResolveProblem extends Error {}

const VARIABLE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * Replaces `${NAME}` from `variables`; throws a `ResolveProblem` for an undefined variable.
 * For a secret (an env value) the message does not name the variable either, since the
 * text between the braces is part of the value.
 */
export function substituteVariables(
  text: string,
  variables: Readonly<Record<string, string | undefined>>,
  options: { readonly secret?: boolean } = {},
): string {
  return text.replace(VARIABLE, (_match, name: string | undefined) => {
    if (name === undefined) return "${";
    const value = variables[name];
    if (value === undefined) {
      throw new ResolveProblem(options.secret ? "refers to an undefined variable (the value is not shown)" : `undefined variable \${${name}}`);
    }
    return value;
  });
}

const PACKAGE_PREFIX = "package:";

/** Resolves `package:<specifier>` to an absolute file path; other strings pass through. */
export function resolvePackageReference(text: string, fileDir: string): string {
  if (!text.startsWith(PACKAGE_PREFIX)) return text;
  const specifier = text.slice(PACKAGE_PREFIX.length);
  const bases = [pathToFileURL(join(fileDir, "team-file.js")).href, import.meta.url];
  for (const base of bases) {
    try {
      return createRequire(base).resolve(specifier);
    } catch {
      // try the next base: the gateway's own dependencies are the fallback
    }
  }
  throw new ResolveProblem(`cannot find ${JSON.stringify(specifier)} in the installed npm packages`);
}

/** Resolves a command: `node`, `package:` references and relative paths (see the module comment). */
export function resolveCommand(command: string, fileDir: string, execPath: string = process.execPath): string {
  if (command === "node") return execPath;
  const resolved = resolvePackageReference(command, fileDir);
  if (resolved !== command) return resolved;
  return command.includes("/") && !isAbsolute(command) ? resolve(fileDir, command) : command;
}

/** Resolves a working directory against the team file's folder. */
export function resolveCwd(cwd: string, fileDir: string): string {
  return resolve(fileDir, cwd);
}

const OTHER_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]+:\/\//;

/**
 * Resolves one `roots` entry (a folder path, relative to the team file's folder, or a
 * `file://` URI) to the `file://` URI and name servers are given (MCP 2025-11-25 "Client
 * Features › Roots": root URIs are `file://` URIs). Other schemes are refused: a root is a
 * folder on this machine.
 */
export function resolveRoot(entry: string, fileDir: string): ServerRoot {
  let path: string;
  if (entry.toLowerCase().startsWith("file:")) {
    try {
      path = fileURLToPath(entry);
    } catch {
      throw new ResolveProblem("must be an absolute file:// URI of a local folder (file:///path)");
    }
  } else if (OTHER_SCHEME.test(entry)) {
    throw new ResolveProblem("must be a folder path or a file:// URI");
  } else {
    path = resolve(fileDir, entry);
  }
  return { uri: pathToFileURL(path).href, name: basename(path) || path };
}
