/**
 * The scenarios. Every contender runs in the same process state, and contenders alternate round by round, the order
 * reversed every other round (A B C, C B A, A B C …) so that a noisy, shared machine hurts them alike: in a fixed
 * order each contender's window always follows the same neighbour's, whose leftover work (closing sessions, garbage
 * collection) then always lands on it. Every result is checked against its own request
 * (a unique echo text, an exact blob length): a proxy that mixes up sessions shows as WRONG results, not as speed.
 */
import { cpuMicros, rssKiB } from "./proc.mjs";
import { latencySummaryMicros, median, quantile } from "./stats.mjs";

let textCounter = 0;
const runTag = Math.random().toString(36).slice(2, 8);

/** A text no other request in this run uses. */
function uniqueText(prefix) {
  textCounter++;
  return `${prefix}:${runTag}:${textCounter}`;
}

/** The contenders in the order of round `round`: as listed in even rounds, reversed in odd ones. */
function roundOrder(running, round) {
  return round % 2 === 0 ? running : [...running].reverse();
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects after `ms` (a hung call counts as an error instead of stalling the run). */
function withTimeout(promise, ms) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`call timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** True when the CallToolResult is the echo of exactly this text. */
export function isEchoOf(result, text) {
  return result?.isError !== true && result?.content?.[0]?.type === "text" && result.content[0].text === text;
}

/** True when the CallToolResult is a blob of exactly n bytes. */
export function isBlobOf(result, n) {
  const text = result?.content?.[0]?.text;
  return result?.isError !== true && typeof text === "string" && text.length === n;
}

/** One echo call, timed and checked. */
async function timedEcho(session, tool, prefix, timeoutMs) {
  const text = uniqueText(prefix);
  const started = performance.now();
  const result = await withTimeout(session.call(tool, { text }), timeoutMs);
  return { ms: performance.now() - started, ok: isEchoOf(result, text) };
}

/** CPU per pid of a contender's processes (own and upstream) right now. */
function cpuSnapshot(instance) {
  const { own, upstream } = instance.processes();
  const take = (pids) => new Map(pids.map((pid) => [pid, cpuMicros(pid)]));
  return { own: take(own), upstream: take(upstream) };
}

/** CPU used between two snapshots; a process that appeared in between counts from zero. */
function cpuDelta(before, after) {
  const delta = (a, b) => {
    let total = 0;
    for (const [pid, value] of b) total += value - (a.get(pid) ?? 0);
    return total;
  };
  return { own: delta(before.own, after.own), upstream: delta(before.upstream, after.upstream) };
}

/** Sum of VmRSS (KiB) over a contender's own processes (not the upstreams, which are the same for everyone). */
export function ownRssKiB(instance) {
  const { own } = instance.processes();
  return own.length === 0 ? null : own.reduce((total, pid) => total + rssKiB(pid), 0);
}

/**
 * Latency at concurrency 1: one session per contender, warm-up, then `callsPerRound` echo calls per contender per
 * round, contenders alternating each round.
 */
export async function runLatency(running, { warmup, rounds, callsPerRound, timeoutMs = 30000, log }) {
  const state = new Map();
  for (const entry of running) {
    const session = await entry.instance.open();
    const record = { session, ms: [], errors: 0, wrong: 0, lastError: undefined };
    state.set(entry.contender.id, record);
    for (let i = 0; i < warmup; i++) {
      try {
        await timedEcho(session, entry.instance.toolNames.echo, "warm", timeoutMs);
      } catch {
        // warm-up errors show up again in the measured calls
      }
    }
  }
  for (let round = 0; round < rounds; round++) {
    for (const entry of roundOrder(running, round)) {
      const record = state.get(entry.contender.id);
      for (let i = 0; i < callsPerRound; i++) {
        try {
          const { ms, ok } = await timedEcho(record.session, entry.instance.toolNames.echo, "lat", timeoutMs);
          record.ms.push(ms);
          if (!ok) record.wrong++;
        } catch (error) {
          record.errors++;
          record.lastError = String(error?.message ?? error);
          if (record.errors > 20) break;
        }
      }
    }
    log?.(`latency round ${round + 1}/${rounds} done`);
  }
  const results = {};
  for (const entry of running) {
    const record = state.get(entry.contender.id);
    await record.session.close().catch(() => {});
    results[entry.contender.id] = {
      ...latencySummaryMicros(record.ms),
      errors: record.errors,
      wrong: record.wrong,
      ...(record.lastError ? { lastError: record.lastError } : {}),
    };
  }
  return results;
}

async function openSessions(entry, count) {
  if (entry.contender.sharesConnection) {
    const session = await entry.instance.open();
    return { loops: Array.from({ length: count }, () => session), sessions: [session] };
  }
  const sessions = [];
  const batch = 16;
  for (let i = 0; i < count; i += batch) {
    const opened = await Promise.all(Array.from({ length: Math.min(batch, count - i) }, () => entry.instance.open()));
    sessions.push(...opened);
  }
  return { loops: sessions, sessions };
}

/**
 * Throughput: `sessions` client sessions per contender, each a closed loop of echo calls for `durationMs`, contenders
 * alternating round by round. Reports calls/s, latency percentiles, errors, wrong results, and CPU per call of the
 * contender's own processes, of its upstreams, and of this client process. Direct stdio has no notion of sessions:
 * it runs the same number of loops over its one connection.
 */
export async function runThroughput(running, { sessions, rounds, durationMs, timeoutMs = 15000, log }) {
  const totals = new Map(
    running.map((entry) => [
      entry.contender.id,
      { calls: 0, elapsedMs: 0, ms: [], errors: 0, wrong: 0, cpuOwn: 0, cpuUpstream: 0, cpuClient: 0, hasOwn: false, ownByRound: [], lastError: undefined },
    ]),
  );
  for (let round = 0; round < rounds; round++) {
    for (const entry of roundOrder(running, round)) {
      const total = totals.get(entry.contender.id);
      let opened;
      try {
        opened = await openSessions(entry, sessions);
      } catch (error) {
        total.errors += sessions;
        total.lastError = `opening sessions: ${error?.message ?? error}`;
        continue;
      }
      const tool = entry.instance.toolNames.echo;
      await Promise.all(opened.loops.map((session) => timedEcho(session, tool, "warm", timeoutMs).catch(() => {})));
      const cpuBefore = cpuSnapshot(entry.instance);
      const clientBefore = process.cpuUsage();
      const started = performance.now();
      const deadline = started + durationMs;
      let calls = 0;
      await Promise.all(
        opened.loops.map(async (session) => {
          let errors = 0;
          while (performance.now() < deadline) {
            try {
              const { ms, ok } = await timedEcho(session, tool, "tp", timeoutMs);
              total.ms.push(ms);
              calls++;
              if (!ok) total.wrong++;
            } catch (error) {
              total.errors++;
              errors++;
              total.lastError = String(error?.message ?? error);
              if (errors > 50) return;
              await sleep(10);
            }
          }
        }),
      );
      const elapsedMs = performance.now() - started;
      const client = process.cpuUsage(clientBefore);
      const cpu = cpuDelta(cpuBefore, cpuSnapshot(entry.instance));
      total.calls += calls;
      total.elapsedMs += elapsedMs;
      total.cpuOwn += cpu.own;
      if (cpuBefore.own.size > 0) {
        total.hasOwn = true;
        if (calls > 0) total.ownByRound.push(cpu.own / calls);
      }
      total.cpuUpstream += cpu.upstream;
      total.cpuClient += client.user + client.system;
      await Promise.all(opened.sessions.map((session) => session.close().catch(() => {})));
    }
    log?.(`throughput ${sessions} sessions: round ${round + 1}/${rounds} done`);
  }
  const results = {};
  for (const entry of running) {
    const total = totals.get(entry.contender.id);
    const perCall = (micros) => (total.calls > 0 ? micros / total.calls : Number.NaN);
    results[entry.contender.id] = {
      sessions,
      calls: total.calls,
      callsPerSec: total.elapsedMs > 0 ? (total.calls * 1000) / total.elapsedMs : 0,
      p50: quantile(total.ms, 0.5) * 1000,
      p99: quantile(total.ms, 0.99) * 1000,
      errors: total.errors,
      wrong: total.wrong,
      cpuPerCallMicros: {
        own: total.hasOwn ? perCall(total.cpuOwn) : null,
        upstream: perCall(total.cpuUpstream),
        ownAndUpstream: perCall(total.cpuOwn + total.cpuUpstream),
        client: perCall(total.cpuClient),
        // Each round's own CPU per call: their spread says how far the machine's noise moves the figure.
        ownByRound: total.hasOwn ? total.ownByRound : [],
      },
      ...(total.lastError ? { lastError: total.lastError } : {}),
    };
  }
  return results;
}

/**
 * Large results: median time of `blob` calls of each size. While the largest result travels, a second session of
 * the same contender runs echo calls, to show whether one big result stalls other sessions.
 */
export async function runBlobs(running, { sizes, rounds, callsPerRound, timeoutMs = 120000, log }) {
  const state = new Map();
  for (const entry of running) {
    const [session, side] = await Promise.all([entry.instance.open(), entry.instance.open()]);
    const record = { session, side, bySize: new Map(sizes.map((n) => [n, []])), errors: 0, wrong: 0, sideMs: [] };
    state.set(entry.contender.id, record);
    try {
      await withTimeout(session.call(entry.instance.toolNames.blob, { n: sizes[0] }), timeoutMs);
    } catch {
      // counted in the measured calls
    }
  }
  const largest = Math.max(...sizes);
  for (let round = 0; round < rounds; round++) {
    for (const entry of roundOrder(running, round)) {
      const record = state.get(entry.contender.id);
      for (const n of sizes) {
        const calls = n === largest ? Math.max(1, Math.ceil(callsPerRound / 4)) : callsPerRound;
        for (let i = 0; i < calls; i++) {
          let sideRunning = n === largest;
          const sideLoop = sideRunning
            ? (async () => {
                while (sideRunning) {
                  try {
                    const { ms } = await timedEcho(record.side, entry.instance.toolNames.echo, "side", timeoutMs);
                    record.sideMs.push(ms);
                  } catch {
                    await sleep(5);
                  }
                }
              })()
            : Promise.resolve();
          const started = performance.now();
          try {
            const result = await withTimeout(record.session.call(entry.instance.toolNames.blob, { n }), timeoutMs);
            record.bySize.get(n).push(performance.now() - started);
            if (!isBlobOf(result, n)) record.wrong++;
          } catch (error) {
            record.errors++;
            record.lastError = String(error?.message ?? error);
          }
          sideRunning = false;
          await sideLoop;
        }
      }
    }
    log?.(`large results round ${round + 1}/${rounds} done`);
  }
  const results = {};
  for (const entry of running) {
    const record = state.get(entry.contender.id);
    await Promise.all([record.session.close(), record.side.close()].map((p) => p.catch(() => {})));
    const bySize = {};
    for (const [n, ms] of record.bySize) bySize[n] = { n: ms.length, medianMs: median(ms) };
    results[entry.contender.id] = {
      bySize,
      errors: record.errors,
      wrong: record.wrong,
      sideEchoDuringLargest: { n: record.sideMs.length, p50Ms: median(record.sideMs), maxMs: record.sideMs.length ? Math.max(...record.sideMs) : Number.NaN },
      ...(record.lastError ? { lastError: record.lastError } : {}),
    };
  }
  return results;
}

/** Smoke check: a few sequential calls of each tool on one session; only correctness counts. */
export async function runSmoke(entry, { calls = 5, timeoutMs = 20000 } = {}) {
  const session = await entry.instance.open();
  const problems = [];
  try {
    for (let i = 0; i < calls; i++) {
      const { ok } = await timedEcho(session, entry.instance.toolNames.echo, "smoke", timeoutMs);
      if (!ok) problems.push("echo returned a wrong result");
    }
    for (const n of [0, 1024, 65536]) {
      const result = await withTimeout(session.call(entry.instance.toolNames.blob, { n }), timeoutMs);
      if (!isBlobOf(result, n)) problems.push(`blob ${n} returned a wrong result`);
    }
    const texts = Array.from({ length: 4 }, () => uniqueText("smoke-par"));
    const results = await Promise.all(texts.map((text) => withTimeout(session.call(entry.instance.toolNames.echo, { text }), timeoutMs)));
    results.forEach((result, i) => {
      if (!isEchoOf(result, texts[i])) problems.push("concurrent echo on one session returned a wrong result");
    });
  } finally {
    await session.close().catch(() => {});
  }
  return problems;
}
