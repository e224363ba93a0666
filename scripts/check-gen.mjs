// Regenerates gen/ with `buf generate` and fails when the result differs from what
// is committed: generated code is never edited by hand and never stale.
import { execFileSync } from "node:child_process";

execFileSync("buf", ["generate"], { stdio: "inherit" });
const status = execFileSync("git", ["status", "--porcelain", "--", "gen"], { encoding: "utf8" });
if (status.trim() !== "") {
  process.stderr.write(`gen/ is stale: \`buf generate\` changed it:\n${status}Commit the regenerated code.\n`);
  process.exit(1);
}
process.stdout.write("gen/ is up to date\n");
