import test from "ava";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GatewayError } from "../errors.js";
import { loadTeamFile } from "./load-team-file.js";

function teamFile(t: { teardown(fn: () => void): void }, audit: string): string {
  const dir = mkdtempSync(join(tmpdir(), "dsgw-audit-config-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "team.yaml");
  writeFileSync(path, `teams:\n  - id: demo\n    servers: []\n${audit}`);
  return path;
}

test("a team's audit: section is read with defaults; without one the team has none (on, no arguments)", async (t) => {
  const keyed = await loadTeamFile(teamFile(t, "    audit:\n      arguments: hash\n"), { variables: {} });
  t.deepEqual(keyed.teams[0]!.audit, { enabled: true, arguments: "hash" });
  const off = await loadTeamFile(teamFile(t, "    audit: { enabled: false }\n"), { variables: {} });
  t.deepEqual(off.teams[0]!.audit, { enabled: false, arguments: "none" });
  const none = await loadTeamFile(teamFile(t, ""), { variables: {} });
  t.is(none.teams[0]!.audit, undefined);
});

test("an unknown arguments mode or field is refused with its position", async (t) => {
  const path = teamFile(t, "    audit:\n      arguments: values\n");
  const error = await t.throwsAsync(loadTeamFile(path, { variables: {} }), { instanceOf: GatewayError });
  t.regex(error!.message, /team\.yaml:5:\d+: teams\[0\]\.audit\.arguments: .*none.*keys.*hash.*full/);
  const misspelt = await t.throwsAsync(loadTeamFile(teamFile(t, "    audit:\n      enable: true\n"), { variables: {} }), { instanceOf: GatewayError });
  t.regex(misspelt!.message, /teams\[0\]\.audit.*enable.*did you mean "enabled"/i);
});
