/**
 * Recent call figures per server and per tool (calls, errors, calls per second, p50 and p99) for `dsctl top` and
 * dashboards: Prometheus counters and histograms answer "since the daemon started", a live view needs "the last
 * minute". Each key keeps one ring of per-second buckets and one ring of recent latency samples, in typed arrays
 * allocated once per key, so recording a call allocates nothing and memory stays bounded by the catalog's size.
 */

/** The longest window the figures can cover, in seconds (the ring's length). */
export const MAX_STATS_WINDOW_SECONDS = 300;
/** Latency samples kept per key: the percentiles are of the most recent of these within the window. */
const SAMPLES_PER_KEY = 256;

/** Figures of one key over a window. */
export interface CallFigures {
  readonly calls: number;
  readonly errors: number;
  readonly callsPerSecond: number;
  /** Milliseconds; 0 without calls. */
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** The figures of one tool. */
export interface ToolFigures extends CallFigures {
  readonly tool: string;
  readonly server: string;
}

/** Windowed call statistics. */
export interface CallStats {
  /** Records one call that ended at `nowMs` (wall clock) after `durationMs`; `tool` undefined for prompts and resources. */
  record(server: string, tool: string | undefined, failed: boolean, durationMs: number, nowMs: number): void;
  /** A server's figures over the last `windowSeconds` before `nowMs`. */
  server(server: string, windowSeconds: number, nowMs: number): CallFigures;
  /** Every call's figures over the window. */
  total(windowSeconds: number, nowMs: number): CallFigures;
  /** The tools with calls in the window, most calls first, at most `limit`. */
  busiestTools(windowSeconds: number, nowMs: number, limit: number): ToolFigures[];
}

class Series {
  private readonly calls = new Uint32Array(MAX_STATS_WINDOW_SECONDS);
  private readonly errors = new Uint32Array(MAX_STATS_WINDOW_SECONDS);
  private readonly seconds = new Float64Array(MAX_STATS_WINDOW_SECONDS).fill(-1);
  private readonly sampleMs = new Float64Array(SAMPLES_PER_KEY);
  private readonly sampleAt = new Float64Array(SAMPLES_PER_KEY);
  private samples = 0;

  record(failed: boolean, durationMs: number, nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    const slot = second % MAX_STATS_WINDOW_SECONDS;
    if (this.seconds[slot] !== second) {
      this.seconds[slot] = second;
      this.calls[slot] = 0;
      this.errors[slot] = 0;
    }
    this.calls[slot]!++;
    if (failed) this.errors[slot]!++;
    const at = this.samples++ % SAMPLES_PER_KEY;
    this.sampleMs[at] = durationMs;
    this.sampleAt[at] = nowMs;
  }

  /** Adds this series' counts in the window to `into` and its samples to `latencies`. */
  collect(windowSeconds: number, nowMs: number, into: { calls: number; errors: number }, latencies: number[]): void {
    const newest = Math.floor(nowMs / 1000);
    const oldest = newest - windowSeconds + 1;
    for (let slot = 0; slot < MAX_STATS_WINDOW_SECONDS; slot++) {
      const second = this.seconds[slot]!;
      if (second >= oldest && second <= newest) {
        into.calls += this.calls[slot]!;
        into.errors += this.errors[slot]!;
      }
    }
    const since = nowMs - windowSeconds * 1000;
    const kept = Math.min(this.samples, SAMPLES_PER_KEY);
    for (let index = 0; index < kept; index++) {
      if (this.sampleAt[index]! > since && this.sampleAt[index]! <= nowMs) latencies.push(this.sampleMs[index]!);
    }
  }
}

function figures(series: Iterable<Series>, windowSeconds: number, nowMs: number): CallFigures {
  const counts = { calls: 0, errors: 0 };
  const latencies: number[] = [];
  for (const one of series) one.collect(windowSeconds, nowMs, counts, latencies);
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => (latencies.length === 0 ? 0 : latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!);
  return { calls: counts.calls, errors: counts.errors, callsPerSecond: counts.calls / windowSeconds, p50Ms: at(0.5), p99Ms: at(0.99) };
}

/** Clamps a requested window to what the rings hold. */
export function clampWindowSeconds(seconds: number): number {
  if (!Number.isFinite(seconds) || seconds < 1) return 1;
  return Math.min(MAX_STATS_WINDOW_SECONDS, Math.floor(seconds));
}

/** Creates empty statistics. */
export function createCallStats(): CallStats {
  const servers = new Map<string, Series>();
  const tools = new Map<string, Map<string, Series>>();

  return {
    record(server, tool, failed, durationMs, nowMs) {
      let serverSeries = servers.get(server);
      if (!serverSeries) servers.set(server, (serverSeries = new Series()));
      serverSeries.record(failed, durationMs, nowMs);
      if (tool === undefined) return;
      let ofServer = tools.get(server);
      if (!ofServer) tools.set(server, (ofServer = new Map()));
      let toolSeries = ofServer.get(tool);
      if (!toolSeries) ofServer.set(tool, (toolSeries = new Series()));
      toolSeries.record(failed, durationMs, nowMs);
    },
    server(server, windowSeconds, nowMs) {
      const series = servers.get(server);
      return figures(series ? [series] : [], clampWindowSeconds(windowSeconds), nowMs);
    },
    total: (windowSeconds, nowMs) => figures(servers.values(), clampWindowSeconds(windowSeconds), nowMs),
    busiestTools(windowSeconds, nowMs, limit) {
      const window = clampWindowSeconds(windowSeconds);
      const all: ToolFigures[] = [];
      for (const [server, ofServer] of tools) {
        for (const [tool, series] of ofServer) {
          const one = figures([series], window, nowMs);
          if (one.calls > 0) all.push({ tool, server, ...one });
        }
      }
      all.sort((a, b) => b.calls - a.calls || a.tool.localeCompare(b.tool));
      return all.slice(0, Math.max(0, limit));
    },
  };
}
