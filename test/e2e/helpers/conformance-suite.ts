import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { repoRoot } from "./daemon-process.js";

/**
 * Runs the official MCP conformance suite (@modelcontextprotocol/conformance) against the gateway as an MCP server
 * and turns its results into one verdict per scenario. Shared by test/e2e/conformance.test.ts (CI) and
 * scripts/conformance.mjs (`npm run conformance`), so the CI run and the hand run are one mechanism.
 */

/** The requirement sets the gateway is measured against, oldest first. */
export const REQUIREMENT_SETS = ["2025-11-25", "2026-07-28"] as const;

/** One requirement set (`--requirements`): the scenarios a spec revision requires, run at that revision's wire. */
export type RequirementSet = (typeof REQUIREMENT_SETS)[number];

/** The suite needs Node 22; the project runs on Node 20, so it runs on the `node@22` devDependency's binary. */
export const node22 = join(repoRoot, "node_modules/node/bin/node");

/** The conformance CLI entry point. */
export const conformanceCli = join(repoRoot, "node_modules/@modelcontextprotocol/conformance/dist/index.js");

/** The era the fixture upstream speaks to the gateway: `legacy` (2025-11-25 session) or `modern` (2026-07-28). */
export type UpstreamEra = "legacy" | "modern";

/** The upstream eras, in the order runs report them. */
export const UPSTREAM_ERAS: readonly UpstreamEra[] = ["legacy", "modern"];

/** The team file whose only server is the conformance fixture upstream (unprefixed names) in the given era. */
export function conformanceTeam(upstream: UpstreamEra): string {
  return join(repoRoot, "test/fixtures/teams", upstream === "legacy" ? "conformance.yaml" : "conformance-modern.yaml");
}

/** The verdict on one scenario. */
export interface ScenarioVerdict {
  readonly scenario: string;
  readonly passed: boolean;
  /** `check-id: message` of every failing check, or why the scenario has no result. */
  readonly failures: readonly string[];
}

/** What one run of one requirement set found. */
export interface ConformanceResult {
  readonly requirements: RequirementSet;
  /** What the run is labelled with in reports (e.g. which upstream was behind the gateway). */
  readonly label?: string;
  /** The CLI's exit code (non-zero when a required scenario failed). */
  readonly code: number;
  readonly timedOut: boolean;
  /** One verdict per scenario the set requires, in the set's order. */
  readonly scenarios: readonly ScenarioVerdict[];
  /** Scenarios that ran without being required (the set's `not_scored`): reported, never asserted. */
  readonly extra: readonly ScenarioVerdict[];
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of `runConformance`. */
export interface RunConformanceOptions {
  /** The gateway's Streamable HTTP endpoint (`http://127.0.0.1:PORT/mcp`). */
  readonly url: string;
  readonly requirements: RequirementSet;
  /** Bound of the whole run; the CLI is killed after it. */
  readonly timeoutMs?: number;
  /** The CLI's per-scenario timeout. */
  readonly scenarioTimeoutMs?: number;
  /** Copied to the result's `label`. */
  readonly label?: string;
}

/** The scenarios a requirement set requires of a server: the frozen `server:` list of the package's YAML. */
export function requiredServerScenarios(requirements: RequirementSet): string[] {
  const file = join(dirname(dirname(conformanceCli)), "requirements", `${requirements}.yaml`);
  const block = /^server:\n((?:[ \t]+-[^\n]*\n|[ \t]*\n)+)/m.exec(readFileSync(file, "utf8"));
  if (!block) throw new Error(`no server list in the ${requirements} requirement set`);
  return [...block[1].matchAll(/-\s*([^\s#]+)/g)].map((match) => match[1]);
}

/** Every `checks.json` under `folder`, keyed by scenario (the CLI writes `server-<scenario>-<timestamp>/checks.json`). */
function readChecks(folder: string): Map<string, Array<{ id: string; status: string; errorMessage?: string }>> {
  const found = new Map<string, Array<{ id: string; status: string; errorMessage?: string }>>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name === "checks.json") {
        const folderName = basename(dirname(path));
        const named = /^server-(.+)-\d{4}-\d{2}-\d{2}T.*$/.exec(folderName);
        found.set(named ? named[1] : folderName, JSON.parse(readFileSync(path, "utf8")));
      }
    }
  };
  if (existsSync(folder)) walk(folder);
  return found;
}

/**
 * Runs the suite's server leg for one requirement set against `url`: a required scenario passes when it produced
 * results and none of its checks is a FAILURE (warnings and infos are the suite's advice, not its verdict).
 */
export async function runConformance(options: RunConformanceOptions): Promise<ConformanceResult> {
  const { url, requirements, timeoutMs = 300_000, scenarioTimeoutMs = 30_000 } = options;
  const output = mkdtempSync(join(tmpdir(), `conformance-${requirements}-`));
  try {
    const args = [conformanceCli, "server", "--url", url, "--requirements", requirements, "--output-dir", output];
    args.push("--timeout", String(scenarioTimeoutMs));
    const child = spawn(node22, args, { cwd: output, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    const code = await new Promise<number>((resolveExit) => child.once("close", (exitCode) => resolveExit(exitCode ?? 1)));
    clearTimeout(timer);
    const checks = readChecks(output);
    const required = requiredServerScenarios(requirements);
    const verdict = (scenario: string): ScenarioVerdict => {
      const list = checks.get(scenario);
      if (!list) return { scenario, passed: false, failures: [timedOut ? "no result (the run timed out)" : "no result"] };
      const failures = list.filter((check) => check.status === "FAILURE").map((check) => `${check.id}: ${check.errorMessage ?? "failed"}`);
      return { scenario, passed: failures.length === 0, failures };
    };
    const extra = [...checks.keys()].filter((scenario) => !required.includes(scenario)).map(verdict);
    return { requirements, label: options.label, code, timedOut, scenarios: required.map(verdict), extra, stdout, stderr };
  } finally {
    rmSync(output, { recursive: true, force: true });
  }
}

/** One line per scenario, the failing checks indented below it. */
export function formatConformanceReport(result: ConformanceResult): string {
  const failed = result.scenarios.filter((scenario) => !scenario.passed);
  const label = result.label ? ` (${result.label})` : "";
  const lines = [`${result.requirements}${label}: ${result.scenarios.length - failed.length}/${result.scenarios.length} required server scenarios pass`];
  for (const scenario of result.scenarios) {
    lines.push(`  ${scenario.passed ? "ok  " : "FAIL"} ${scenario.scenario}`);
    for (const failure of scenario.failures) lines.push(`         ${failure}`);
  }
  for (const scenario of result.extra) lines.push(`  ${scenario.passed ? "ok  " : "fail"} ${scenario.scenario} (not scored)`);
  return lines.join("\n");
}
