// Builds the web dashboard (dashboard/) into dist/dashboard/: the TypeScript bundled and minified by esbuild into
// one ES module, next to the page, its style sheet and icon. Runs as part of `npm run build` (and so of `prepare`
// and `npm test`); the published package ships the result, so users never build it. Fails when the gzipped bundle
// passes its budget, so the page stays small.
import { copyFileSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const out = "dist/dashboard";
const budgetBytes = 200 * 1024;

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: ["dashboard/src/main.ts"],
  outfile: `${out}/app.js`,
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2022"],
  platform: "browser",
  legalComments: "none",
  logLevel: "warning",
});
for (const file of ["index.html", "app.css", "icon.svg"]) copyFileSync(`dashboard/${file}`, `${out}/${file}`);

let total = 0;
for (const file of ["index.html", "app.js", "app.css", "icon.svg"]) total += gzipSync(readFileSync(`${out}/${file}`)).length;
if (total > budgetBytes) {
  console.error(`dashboard: ${total} bytes gzipped, over the ${budgetBytes}-byte budget`);
  process.exit(1);
}
console.log(`dashboard: built ${out}/ (${(total / 1024).toFixed(1)} KiB gzipped)`);
