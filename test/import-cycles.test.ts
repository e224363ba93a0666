import test from "ava";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

/**
 * No import circles between the project's own modules (daemon/, frontend/, cli/, shared/). A circle makes load order
 * matter (a module can see another half-initialised), hides which module owns what, and tends to grow. Every kind of
 * import counts — static, `import type`, `export … from` and `import()` — since each ties the two files together.
 * Found with the TypeScript compiler's own import scanner (`preProcessFile`), then Tarjan's strongly connected
 * components over the graph.
 */

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const FOLDERS = ["daemon", "frontend", "cli", "shared"];

function sourceFiles(folder: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) found.push(...sourceFiles(path));
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) found.push(path);
  }
  return found;
}

/** The project files `file` imports (relative specifiers only; `.js` in a specifier names the `.ts` source). */
function importsOf(file: string, known: ReadonlySet<string>): string[] {
  const { importedFiles } = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
  const targets: string[] = [];
  for (const { fileName } of importedFiles) {
    if (!fileName.startsWith(".")) continue;
    const base = resolve(dirname(file), fileName);
    const candidates = [base.replace(/\.js$/, ".ts"), base, `${base}.ts`, join(base, "index.ts")];
    const target = candidates.find((candidate) => known.has(candidate));
    if (target !== undefined) targets.push(target);
  }
  return targets;
}

/** Every file's project imports. */
function importGraph(files: readonly string[]): Map<string, string[]> {
  const known = new Set(files);
  return new Map(files.map((file) => [file, importsOf(file, known)]));
}

/** The graph's strongly connected components of more than one file, and files that import themselves (Tarjan). */
function cyclesOf(edges: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let counter = 0;
  const visit = (file: string): void => {
    index.set(file, counter);
    low.set(file, counter);
    counter++;
    stack.push(file);
    onStack.add(file);
    for (const next of edges.get(file) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(file, Math.min(low.get(file)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(file, Math.min(low.get(file)!, index.get(next)!));
    }
    if (low.get(file) !== index.get(file)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== file);
    if (component.length > 1 || (edges.get(file) ?? []).includes(file)) cycles.push(component.sort());
  };
  for (const file of edges.keys()) if (!index.has(file)) visit(file);
  return cycles;
}

test("no import cycles in daemon/, frontend/, cli/ or shared/", (t) => {
  const files = FOLDERS.flatMap((folder) => sourceFiles(join(root, folder)));
  t.true(files.length > 100, "the scan found the sources");
  const cycles = cyclesOf(importGraph(files)).map((cycle) => cycle.map((file) => relative(root, file)));
  t.deepEqual(cycles, [], cycles.map((cycle) => cycle.join(" ↔ ")).join("\n"));
});

test("the check finds cycles made by any kind of import, and only cycles", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "dsgw-cycles-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const files: Record<string, string> = {
    "a.ts": 'import type { B } from "./b.js";\nexport type A = B;\n',
    "b.ts": 'export const load = () => import("./c.js");\nexport type B = string;\n',
    "c.ts": 'export { type A } from "./a.js";\n',
    "d.ts": 'import { load } from "./b.js";\nimport "node:fs";\nvoid load;\n',
    "e.ts": 'import "./e.js";\n',
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const cycles = cyclesOf(importGraph(Object.keys(files).map((name) => join(dir, name))));
  t.deepEqual(
    cycles.map((cycle) => cycle.map((file) => relative(dir, file))).sort(),
    [["a.ts", "b.ts", "c.ts"], ["e.ts"]],
  );
});
