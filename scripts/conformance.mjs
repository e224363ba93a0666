// `npm run conformance [-- --requirements 2025-11-25[,2026-07-28]]`: the official MCP conformance suite
// (@modelcontextprotocol/conformance) against the gateway as an MCP server, by hand.
//
// Starts the built gateway on the conformance team (test/fixtures/teams/conformance.yaml: one fixture upstream with
// the names the suite calls, unprefixed) in a temporary DEPLOYSTACK_HOME on port 0, runs the suite's server leg for
// each requirement set (both by default) against http://127.0.0.1:PORT/mcp, prints one line per scenario and exits
// non-zero if a required scenario failed. The runner is test/e2e/helpers/conformance-suite.ts, which the CI test
// (test/e2e/conformance.test.ts) uses too; this file needs `node --import tsx` because those helpers are TypeScript.
const { REQUIREMENT_SETS, conformanceTeam, formatConformanceReport, runConformance } = await import(
  "../test/e2e/helpers/conformance-suite.ts"
);
const { startGateway } = await import("../test/e2e/helpers/mcp-gateway.ts");

const argv = process.argv.slice(2);
const picked = argv.flatMap((arg, index) => (argv[index - 1] === "--requirements" ? arg.split(",") : []));
for (const set of picked) {
  if (!REQUIREMENT_SETS.includes(set)) throw new Error(`unknown requirement set ${set} (known: ${REQUIREMENT_SETS.join(", ")})`);
}
const gateway = await startGateway({ configPath: conformanceTeam, servers: ["conformance"] });
let ok = true;
try {
  for (const requirements of picked.length > 0 ? picked : REQUIREMENT_SETS) {
    const result = await runConformance({ url: `http://127.0.0.1:${gateway.port}/mcp`, requirements });
    process.stdout.write(`${formatConformanceReport(result)}\n`);
    if (result.scenarios.some((scenario) => !scenario.passed)) ok = false;
  }
} finally {
  await gateway.close();
}
process.exitCode = ok ? 0 : 1;
