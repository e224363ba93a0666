import test from "ava";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

/**
 * What only some gateways need is loaded only when needed, so that the others pay nothing for it (memory, start-up):
 * - OpenTelemetry, only when tracing is on: `startTracing`'s dynamic `import()` of otel-tracer.ts brings it in;
 * - undici (the remote servers' connection pools), only when a remote server first sends (remote-server.ts);
 * - the MCP SDK's OAuth client (and the schemas it brings), only when a server with `oauth:` first needs it
 *   (oauth-sdk.ts).
 * This walks the value imports (static `import`/`export … from`, not `import type`, not `import()`) from each
 * process's entry point and fails if any path reaches one of them. test/e2e/tracing.test.ts checks OpenTelemetry on a
 * running daemon; this covers the frontend (whose process takes no `--import` hook) and every entry alike.
 */

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ENTRIES = ["daemon/main.ts", "frontend/main.ts", "cli/main.ts"];

/** The value-import specifiers of a file: what Node loads when it loads the file. */
function valueImports(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, false);
  const specifiers: string[] = [];
  for (const statement of source.statements) {
    if (ts.isImportDeclaration(statement)) {
      const clause = statement.importClause;
      // Only `import type` is erased: with verbatimModuleSyntax, `import { type A } from "x"` still loads "x".
      if (clause?.isTypeOnly) continue;
      specifiers.push((statement.moduleSpecifier as ts.StringLiteral).text);
    } else if (ts.isExportDeclaration(statement) && statement.moduleSpecifier && !statement.isTypeOnly) {
      specifiers.push((statement.moduleSpecifier as ts.StringLiteral).text);
    }
  }
  return specifiers;
}

function resolveLocal(from: string, specifier: string): string | undefined {
  const base = resolve(dirname(from), specifier);
  return [base.replace(/\.js$/, ".ts"), base, `${base}.ts`, join(base, "index.ts")].find((candidate) => existsSync(candidate) && candidate.endsWith(".ts"));
}

/** A path of value imports from `entry` to something `bad` accepts, or undefined. */
function pathTo(entry: string, bad: (specifier: string, file: string | undefined) => boolean): string[] | undefined {
  const seen = new Set<string>();
  const walk = (file: string, trail: string[]): string[] | undefined => {
    if (seen.has(file)) return undefined;
    seen.add(file);
    for (const specifier of valueImports(file)) {
      const local = specifier.startsWith(".") ? resolveLocal(file, specifier) : undefined;
      if (bad(specifier, local)) return [...trail, specifier];
      if (local) {
        const found = walk(local, [...trail, local.slice(root.length + 1)]);
        if (found) return found;
      }
    }
    return undefined;
  };
  return walk(join(root, entry), [entry]);
}

/** The loaded-on-demand parts, by what names them in an import. */
const ON_DEMAND: ReadonlyArray<{ readonly what: string; readonly is: (specifier: string, local: string | undefined) => boolean }> = [
  { what: "OpenTelemetry", is: (specifier, local) => specifier.startsWith("@opentelemetry/") || (local?.endsWith("daemon/tracing/otel-tracer.ts") ?? false) },
  { what: "undici", is: (specifier) => specifier === "undici" || specifier.startsWith("undici/") },
  { what: "the MCP SDK's OAuth client", is: (specifier) => specifier.startsWith("@modelcontextprotocol/sdk/client/") || specifier.startsWith("@modelcontextprotocol/sdk/server/auth/") },
];

for (const entry of ENTRIES) {
  for (const { what, is } of ON_DEMAND) {
    test(`${entry} does not load ${what} at start`, (t) => {
      const found = pathTo(entry, is);
      t.is(found, undefined, found?.join(" → "));
    });
  }
}

test("the walk is not vacuous: the loaders import what they load, and the daemon reaches each loader", (t) => {
  t.truthy(pathTo("daemon/tracing/otel-tracer.ts", ON_DEMAND[0]!.is));
  t.truthy(pathTo("daemon/oauth/server-oauth.ts", (_specifier, local) => local?.endsWith("daemon/oauth/oauth-sdk.ts") ?? false));
  for (const loader of ["daemon/tracing/request-tracer.ts", "daemon/supervisor/remote-server.ts", "daemon/oauth/server-oauth.ts"]) {
    t.truthy(pathTo("daemon/main.ts", (_specifier, local) => local?.endsWith(loader) ?? false), loader);
  }
});
