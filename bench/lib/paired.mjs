/**
 * Two gateways measured in the same windows: the CPU per call of side B against side A, window by window. Used by
 * bench/pair.mjs (any two settings or builds) and by the full run's observability scenario (bench/run.mjs), which
 * judges issue 13's budgets on it.
 *
 * Why: on a shared virtual machine the same gateway's CPU per call moves by ±10–15 % from one window of a few seconds
 * to the next (other tenants, caches), so settings measured one after the other cannot resolve a difference of a few
 * percent without a very long run. Here both gateways — each with its own processes and its own copy of the upstream
 * — serve their sessions in the same window, on the same cores, under the same load, so whatever the host does in
 * that window it does to both; the ratio of their CPU per call is taken per window and per phase, and the run
 * reports the windows' median and the phases' mean with a 95 % confidence interval (below). Both sides run closed
 * loops (each session calls back to back), as the other scenarios do; every result is checked. The run has an even
 * number of phases, each with two fresh gateways, whose places (which gateway starts first and gets its sessions
 * opened first) swap from one phase to the next, and which side's sessions start first alternates from window to
 * window, so that neither place's advantage counts.
 *
 * Why fresh gateways per phase, and an interval over phases: the windows of one pair of processes are not
 * independent. Two runs of the same comparison, each with tight intervals over their windows, read +5.0 % [3.8, 6.2]
 * and −0.3 % [−1.9, 1.3]: a pair of processes keeps whatever it drew at start (where the JIT's choices, memory and
 * cores fell) for all its windows. So the interval is taken over pairs of consecutive phases (one of each place),
 * with Student's t for their number, and only more phases narrow it.
 */
import { countAuditLines } from "./contenders.mjs";
import { cpuMicros } from "./proc.mjs";
import { median } from "./stats.mjs";
import { echoLoad, echoToolOf, openClient, startGatewayIn } from "./steady-load.mjs";

/** The processes whose CPU a side reports: the gateway's two, and the upstream server's (not part of the ratio). */
const ROLES = ["daemon", "frontend", "upstream"];

/**
 * One side's recipe: a gateway in `setting` (steady-load.mjs) from the build at `paths`, with the one server
 * `upstream`, driven by `sessions` sessions of `client`. `sink` is the OTLP receiver a traces setting exports to.
 */
export function pairSide({ paths, upstream, setting, client = "raw-legacy", sessions = 16, sink }) {
  return { start: () => startSide(paths, upstream, setting, client, sessions, sink) };
}

async function startSide(paths, upstream, setting, client, count, sink) {
  const gateway = await startGatewayIn(paths, upstream, setting, sink);
  const url = `${gateway.baseUrl}/mcp`;
  const sessions = await Promise.all(Array.from({ length: count }, () => openClient(client, url)));
  const echo = await echoToolOf(sessions[0]);
  const roles = gateway.roles();
  // Each process's CPU so far: the ratio is the gateway's own (daemon and frontend); the upstream's is reported beside.
  const used = () => ({ daemon: cpuMicros(roles.daemon[0]), frontend: cpuMicros(roles.frontend[0]), upstream: cpuMicros(roles.upstream[0]) });
  return { gateway, sessions, echo, used };
}

/**
 * Measures side B against side A (`pairSide` recipes) in `windows` windows of `windowMs`, after a warm-up of
 * `warmupMs` in each of `phases` phases (even; fresh gateways each). `onWindow` sees each window's line as it is
 * measured. Resolves with the summary: the ratio (median over windows; mean over phases, each phase's ratio that of
 * its CPU per call over all its windows, with a 95 % interval over phase pairs; each phase's),
 * CPU per call of each side (and by process), p50 under the load, calls per second, and the audit lines each side's
 * gateways wrote (proof the settings took effect).
 */
export async function measurePaired(a, b, { windows = 40, phases = 8, windowMs = 2000, warmupMs = 3000, onWindow } = {}) {
  phases = Math.max(2, phases + (phases % 2));
  const perPhase = Math.max(1, Math.round(windows / phases));
  const totals = { a: sideTotals(), b: sideTotals() };
  const ratios = [];
  const perWindow = [];
  const phaseRatios = [];
  // The sides' places swap from phase to phase: the gateway started first (and whose sessions the client opened
  // first) serves A in one phase and B in the next, so an advantage of either place cancels out (a run of the same
  // setting on both sides read about 3 % in favour of the second place).
  for (let phase = 0; phase < phases; phase++) {
    const recipes = phase % 2 === 0 ? [["a", a], ["b", b]] : [["b", b], ["a", a]];
    const started = [];
    try {
      for (const [key, recipe] of recipes) started.push({ key, ...(await recipe.start()), totals: totals[key] });
      const [first, second] = started;
      const sideA = started.find((side) => side.key === "a");
      const sideB = started.find((side) => side.key === "b");
      // Warm-up: both sides, longer than a window (JIT, the upstreams' first calls, the audit file's creation).
      await measureWindow(warmupMs, first, second, false);
      const phaseTotals = { a: { cpu: 0, calls: 0 }, b: { cpu: 0, calls: 0 } };
      for (let index = 0; index < perPhase; index++) {
        // Which side's sessions start first within a window alternates too.
        const measured = index % 2 === 0 ? await measureWindow(windowMs, first, second, true) : await measureWindow(windowMs, second, first, true);
        const windowA = measured.get(sideA);
        const windowB = measured.get(sideB);
        const ratio = windowB.cpuUsPerCall / windowA.cpuUsPerCall;
        ratios.push(ratio);
        for (const [key, measuredSide] of [["a", windowA], ["b", windowB]]) {
          phaseTotals[key].cpu += measuredSide.cpuUsPerCall * measuredSide.calls;
          phaseTotals[key].calls += measuredSide.calls;
        }
        const line = { window: perWindow.length, phase, a: rounded(windowA), b: rounded(windowB), ratio: Number(ratio.toFixed(4)) };
        perWindow.push(line);
        onWindow?.(line);
      }
      // The phase's ratio is of its CPU per call over all its windows: a window that something outside disturbed
      // (one read 1.65 in a run with other processes up) counts for its share of the calls, not as a ratio of its own.
      phaseRatios.push(phaseTotals.b.cpu / phaseTotals.b.calls / (phaseTotals.a.cpu / phaseTotals.a.calls));
      for (const side of started) side.totals.auditLines += countAuditLines(side.gateway.home);
    } finally {
      await Promise.all(started.flatMap((side) => side.sessions.map((session) => session.close().catch(() => {}))));
      await Promise.all(started.map((side) => side.gateway.stop()));
    }
  }
  // The unit of the interval: a pair of consecutive phases, one with each side in the first place.
  const units = [];
  for (let index = 0; index + 1 < phaseRatios.length; index += 2) units.push((phaseRatios[index] + phaseRatios[index + 1]) / 2);
  const mean = meanOf(units);
  const sd = Math.sqrt(units.reduce((sum, value) => sum + (value - mean) ** 2, 0) / Math.max(1, units.length - 1));
  const halfWidth = units.length > 1 ? (studentT975(units.length - 1) * sd) / Math.sqrt(units.length) : Number.NaN;
  return {
    windows: ratios.length,
    phases,
    windowSeconds: windowMs / 1000,
    ratio: {
      median: Number(median(ratios).toFixed(4)),
      mean: Number(mean.toFixed(4)),
      ci95: [Number((mean - halfWidth).toFixed(4)), Number((mean + halfWidth).toFixed(4))],
      // Even phases have A in the first place, odd ones B: far apart, the places differ, and only pairs mean anything.
      byPhase: phaseRatios.map((value) => Number(value.toFixed(4))),
    },
    cpuUsPerCall: { a: Math.round(totals.a.cpu / totals.a.calls), b: Math.round(totals.b.cpu / totals.b.calls) },
    // Where each side's CPU went (whole run, µs per call): which process a difference lives in.
    cpuUsPerCallByProcess: { a: byProcess(totals.a), b: byProcess(totals.b) },
    p50Us: { a: p50(totals.a), b: p50(totals.b) },
    callsPerSecond: { a: perSecond(totals.a), b: perSecond(totals.b) },
    auditLines: { a: totals.a.auditLines, b: totals.b.auditLines },
    perWindow,
  };
}

/** Runs both sides' loads at once for `ms`; the side named first starts its sessions first. */
async function measureWindow(ms, first, second, record) {
  const before = [first.used(), second.used()];
  const started = performance.now();
  const [firstCalls, secondCalls] = await Promise.all([
    echoLoad(first.sessions, first.echo, ms, { latencies: record ? first.totals.latencies : undefined }),
    echoLoad(second.sessions, second.echo, ms, { latencies: record ? second.totals.latencies : undefined }),
  ]);
  const elapsedMs = performance.now() - started;
  const spent = [since(first.used(), before[0]), since(second.used(), before[1])];
  const cpu = spent.map(({ daemon, frontend }) => daemon + frontend);
  if (record) {
    for (const [side, calls, used] of [[first, firstCalls, spent[0]], [second, secondCalls, spent[1]]]) {
      side.totals.calls += calls;
      side.totals.cpu += used.daemon + used.frontend;
      for (const role of ROLES) side.totals.byProcess[role] += used[role];
      side.totals.elapsedMs += elapsedMs;
    }
  }
  return new Map([
    [first, { cpuUsPerCall: cpu[0] / firstCalls, calls: firstCalls }],
    [second, { cpuUsPerCall: cpu[1] / secondCalls, calls: secondCalls }],
  ]);
}

/** Student's t, two-sided 95 %, for `df` degrees of freedom (the normal's 1.96 past the table). */
function studentT975(df) {
  const table = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086];
  return df <= table.length ? table[df - 1] : df <= 30 ? 2.05 : 1.96;
}

const meanOf = (values) => values.reduce((sum, value) => sum + value, 0) / values.length;
const since = (now, before) => Object.fromEntries(ROLES.map((role) => [role, now[role] - before[role]]));
const sideTotals = () => ({ latencies: [], calls: 0, cpu: 0, elapsedMs: 0, auditLines: 0, byProcess: { daemon: 0, frontend: 0, upstream: 0 } });
const p50 = (side) => Math.round(median(side.latencies) * 1000);
const perSecond = (side) => Math.round((side.calls * 1000) / side.elapsedMs);
const byProcess = (side) => Object.fromEntries(ROLES.map((role) => [role, Number((side.byProcess[role] / side.calls).toFixed(1))]));
const rounded = ({ cpuUsPerCall, calls }) => ({ cpuUsPerCall: Math.round(cpuUsPerCall), calls });
