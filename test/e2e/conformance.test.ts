import anyTest, { type ExecutionContext, type TestFn } from "ava";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { conformanceCli, conformanceTeam, formatConformanceReport, node22, runConformance, type RequirementSet } from "./helpers/conformance-suite.js";
import { fixtureServer } from "./helpers/daemon-process.js";
import { startGateway, type Gateway } from "./helpers/mcp-gateway.js";

/**
 * The official MCP conformance suite (@modelcontextprotocol/conformance, run on the `node@22` devDependency)
 * tests the whole running gateway as an MCP server at its /mcp, with one fixture upstream
 * (test/fixtures/servers/conformance-upstream.mjs, unprefixed) that provides what the suite's scenarios call. Every
 * scenario a requirement set requires must pass; the failures are listed in the assertion message.
 *
 * The 2026-07-28 set runs once the modern (stateless) era towards clients lands: add
 * `test(requirementSetPasses, "2026-07-28");` below (docs/protocol.md "Conformance" has the current status).
 */

interface Context {
  gateway: Gateway;
}

const test = anyTest as TestFn<Context>;

test.before(async (t) => {
  t.context = { gateway: await startGateway({ configPath: conformanceTeam, servers: ["conformance"] }) };
});

test.after.always(async (t) => {
  await t.context.gateway?.close();
});

test("the conformance suite and the Node 22 that runs it are installed", (t) => {
  t.true(existsSync(node22), `${node22} (the node@22 devDependency)`);
  t.true(existsSync(conformanceCli), conformanceCli);
});

/**
 * `notScored`: whether the scenarios the set runs without requiring them (its `not_scored`: extensions, scenarios
 * added after the release, pending ones) must pass too (`"assert"`), or are only logged (`"report"`).
 */
const requirementSetPasses = test.macro({
  async exec(t: ExecutionContext<Context>, requirements: RequirementSet, notScored: "assert" | "report" = "report") {
    t.timeout(240_000);
    const result = await runConformance({ url: `http://127.0.0.1:${t.context.gateway.port}/mcp`, requirements, timeoutMs: 200_000 });
    t.log(formatConformanceReport(result));
    t.false(result.timedOut, `the suite did not finish within 200s\n${result.stdout.slice(-2000)}\n${result.stderr.slice(-2000)}`);
    t.true(result.scenarios.length > 0, "the requirement set names scenarios");
    const judged = notScored === "assert" ? [...result.scenarios, ...result.extra] : result.scenarios;
    const failed = judged.filter((scenario) => !scenario.passed);
    t.deepEqual(
      failed.map((scenario) => scenario.scenario),
      [],
      `failing scenarios:\n${failed.map((scenario) => `${scenario.scenario}\n  ${scenario.failures.join("\n  ")}`).join("\n")}\n${result.stderr.slice(-2000)}`,
    );
    t.is(result.code, 0, "the suite's own verdict (exit code) agrees");
  },
  title: (_provided, requirements, notScored) =>
    `every server scenario of the ${requirements} requirement set passes through the gateway${notScored === "assert" ? ", the not-scored ones too" : ""}`,
});

test("the fixture upstream by itself passes every required 2026-07-28 scenario (so a failure through the gateway is the gateway's)", async (t) => {
  t.timeout(240_000);
  const fixture = spawn(process.execPath, [fixtureServer("conformance-upstream.mjs"), "--era", "http"], { stdio: ["ignore", "pipe", "inherit"] });
  t.teardown(() => void fixture.kill("SIGKILL"));
  const url = await new Promise<string>((resolveUrl, reject) => {
    let printed = "";
    fixture.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      printed += chunk;
      const match = /listening (http:\/\/\S+)/.exec(printed);
      if (match) resolveUrl(match[1]);
    });
    fixture.once("exit", (code) => reject(new Error(`the fixture exited (${code}) before listening`)));
  });
  const result = await runConformance({ url, requirements: "2026-07-28", timeoutMs: 200_000 });
  t.log(formatConformanceReport(result));
  const failed = result.scenarios.filter((scenario) => !scenario.passed);
  t.deepEqual(
    failed.map((scenario) => scenario.scenario),
    [],
    failed.map((scenario) => `${scenario.scenario}\n  ${scenario.failures.join("\n  ")}`).join("\n"),
  );
  t.is(result.scenarios.length, 37);
});

// Not-scored here: server-session-lifecycle, json-schema-2020-12 (input schemas pass through untouched), server-sse-polling.
test(requirementSetPasses, "2025-11-25", "assert");
