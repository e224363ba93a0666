// `npm run conformance [-- --requirements 2025-11-25[,2026-07-28]] [--upstream legacy|modern]`: the official MCP
// conformance suite (@modelcontextprotocol/conformance) against the gateway as an MCP server, by hand.
//
// For each upstream era it starts the built gateway on that conformance team
// (test/fixtures/teams/conformance.yaml: the fixture upstream as a 2025-11-25 server; conformance-modern.yaml: the
// same fixture as a 2026-07-28 server) in a temporary DEPLOYSTACK_HOME on port 0, runs the suite's server leg for each
// requirement set against http://127.0.0.1:PORT/mcp, prints one line per scenario and exits
// non-zero if a required scenario failed. The runner is test/e2e/helpers/conformance-suite.ts, which the CI test
// (test/e2e/conformance.test.ts) uses too; this file needs `node --import tsx` because those helpers are TypeScript.
// Without options it runs the three target pairs: 2025-11-25 with either upstream and 2026-07-28 with the modern one.
// The 2026-07-28 set with the legacy upstream runs only when that upstream is named (`--upstream legacy`):
// its input-required scenarios check keys and states only the server itself chooses, which no bridging of a legacy
// server's requests can reproduce.
const { REQUIREMENT_SETS, UPSTREAM_ERAS, conformanceTeam, formatConformanceReport, runConformance } = await import(
  "../test/e2e/helpers/conformance-suite.ts"
);
const { startGateway } = await import("../test/e2e/helpers/mcp-gateway.ts");

const argv = process.argv.slice(2);
const option = (name, known) => {
  const picked = argv.flatMap((arg, index) => (argv[index - 1] === `--${name}` ? arg.split(",") : []));
  for (const value of picked) if (!known.includes(value)) throw new Error(`unknown --${name} ${value} (known: ${known.join(", ")})`);
  return picked;
};
const pickedSets = option("requirements", REQUIREMENT_SETS);
const pickedUpstreams = option("upstream", UPSTREAM_ERAS);
const sets = pickedSets.length > 0 ? pickedSets : REQUIREMENT_SETS;
const upstreams = pickedUpstreams.length > 0 ? pickedUpstreams : UPSTREAM_ERAS;

let ok = true;
for (const upstream of upstreams) {
  const gateway = await startGateway({ configPath: conformanceTeam(upstream), servers: ["conformance"] });
  try {
    for (const requirements of sets) {
      if (upstream === "legacy" && requirements === "2026-07-28" && !pickedUpstreams.includes("legacy")) continue;
      const label = `${upstream} upstream`;
      const result = await runConformance({ url: `http://127.0.0.1:${gateway.port}/mcp`, requirements, label });
      process.stdout.write(`${formatConformanceReport(result)}\n`);
      if (result.scenarios.some((scenario) => !scenario.passed)) ok = false;
    }
  } finally {
    await gateway.close();
  }
}
process.exitCode = ok ? 0 : 1;
