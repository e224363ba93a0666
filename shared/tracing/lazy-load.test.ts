import test from "ava";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

/**
 * OpenTelemetry costs nothing when tracing is off because nothing imports it at load time: only `startTracing`'s
 * dynamic `import()` of otel-tracer.ts brings it in. This walks the value imports (static `import`/`export … from`,
 * not `import type`, not `import()`) from each process's entry point and fails if any path reaches an
 * `@opentelemetry/*` package or otel-tracer.ts. test/e2e/tracing.test.ts checks the same on a running daemon; this
 * covers the frontend (whose process takes no `--import` hook) and every entry alike.
 */

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
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

for (const entry of ENTRIES) {
  test(`${entry} loads no @opentelemetry package and not otel-tracer.ts until tracing starts`, (t) => {
    const found = pathTo(entry, (specifier, local) => specifier.startsWith("@opentelemetry/") || (local?.endsWith("shared/tracing/otel-tracer.ts") ?? false));
    t.is(found, undefined, found?.join(" → "));
  });
}

test("the walk is not vacuous: otel-tracer.ts itself imports OpenTelemetry, and the daemon reaches the tracing seam", (t) => {
  t.truthy(pathTo("shared/tracing/otel-tracer.ts", (specifier) => specifier.startsWith("@opentelemetry/")));
  t.truthy(pathTo("daemon/main.ts", (_specifier, local) => local?.endsWith("shared/tracing/request-tracer.ts") ?? false));
});
