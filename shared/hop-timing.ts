import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * In-process timers for the hot path, so the gateway's own overhead can be broken down by hop (frontend, control
 * API, daemon, stdio) from the inside — a benchmark outside the processes sees only the sum. Off unless the
 * daemon is started with `DEPLOYSTACK_HOP_TIMING_DIR` set (it hands the folder on to its frontend): then each
 * process keeps its most recent span durations and, while new ones arrive, writes their percentiles once a
 * second to `<dir>/hop-<role>-<pid>.json`.
 *
 * Off means free: call sites test `hopTiming.enabled` (a constant property of a module singleton) before taking
 * a timestamp, so the hot path does one predictable branch and allocates nothing.
 */

/** The environment variable that turns hop timing on: the folder the figures are written to. */
export const HOP_TIMING_ENV = "DEPLOYSTACK_HOP_TIMING_DIR";

/** The spans each process measures; every one is a duration in microseconds. */
export type HopSpan =
  /** Frontend: a POST from its first handler line until its answer is handed to node (body read, checks, the daemon, the reply). */
  | "frontend.post"
  /** Frontend: from handing a POST's message to the OpenSession stream until the daemon's answer for it is back. */
  | "frontend.daemon"
  /** Daemon: from reading a client message off the OpenSession stream until its final answer is queued for it. */
  | "daemon.session"
  /** Daemon: from writing a request to a server's stdin until its response line is parsed. */
  | "daemon.upstream";

/** What a process writes: per span, how many were seen and percentiles of the most recent ones. */
export interface HopTimingReport {
  readonly role: string;
  readonly pid: number;
  readonly spans: Partial<Record<HopSpan, { count: number; p50: number; p90: number; p99: number; mean: number }>>;
}

/** The timer every hot-path module uses; see the module comment. */
export interface HopTiming {
  readonly enabled: boolean;
  /** The folder figures go to (the daemon hands it on to its frontend); undefined when off. */
  readonly dir: string | undefined;
  /** A timestamp in milliseconds (monotonic); only meaningful to `record`. */
  now(): number;
  /** Records the time since `startedAt` under `span`. */
  record(span: HopSpan, startedAt: number): void;
  /** Also hands every recorded duration (µs) to `listener` (the Prometheus hop histograms); nothing when off. */
  onRecord(listener: (span: HopSpan, micros: number) => void): void;
}

/** Samples kept per span: enough for stable percentiles, bounded however long the process runs. */
const KEPT_SAMPLES = 4096;

class RecordingHopTiming implements HopTiming {
  readonly enabled = true;
  private readonly samples = new Map<HopSpan, { kept: Float64Array; count: number }>();
  private readonly listeners: ((span: HopSpan, micros: number) => void)[] = [];
  private dirty = false;

  constructor(
    readonly dir: string,
    private readonly role: string,
  ) {
    mkdirSync(dir, { recursive: true });
    setInterval(() => this.flush(), 1000).unref();
    process.once("exit", () => this.flush());
  }

  now(): number {
    return performance.now();
  }

  record(span: HopSpan, startedAt: number): void {
    let entry = this.samples.get(span);
    if (!entry) {
      entry = { kept: new Float64Array(KEPT_SAMPLES), count: 0 };
      this.samples.set(span, entry);
    }
    const micros = (performance.now() - startedAt) * 1000;
    entry.kept[entry.count % KEPT_SAMPLES] = micros;
    entry.count++;
    this.dirty = true;
    for (const listener of this.listeners) listener(span, micros);
  }

  onRecord(listener: (span: HopSpan, micros: number) => void): void {
    this.listeners.push(listener);
  }

  private flush(): void {
    if (!this.dirty) return;
    this.dirty = false;
    const spans: HopTimingReport["spans"] = {};
    for (const [span, { kept, count }] of this.samples) {
      const values = Array.from(kept.subarray(0, Math.min(count, KEPT_SAMPLES))).sort((a, b) => a - b);
      const at = (q: number): number => Math.round(values[Math.min(values.length - 1, Math.floor(q * values.length))]!);
      const mean = Math.round(values.reduce((sum, v) => sum + v, 0) / values.length);
      spans[span] = { count, p50: at(0.5), p90: at(0.9), p99: at(0.99), mean };
    }
    const report: HopTimingReport = { role: this.role, pid: process.pid, spans };
    try {
      writeFileSync(join(this.dir, `hop-${this.role}-${process.pid}.json`), `${JSON.stringify(report)}\n`);
    } catch {
      // A measurement aid must never take the gateway down.
    }
  }
}

const off: HopTiming = { enabled: false, dir: undefined, now: () => 0, record: () => undefined, onRecord: () => undefined };

/** The process's timer: off until `startHopTiming` (an ES live binding, so importers see it switch on). */
export let hopTiming: HopTiming = off;

/** Turns timing on for this process when `dir` is given; called once at start-up by each process's main. */
export function startHopTiming(dir: string | undefined, role: string): void {
  if (dir && !hopTiming.enabled) hopTiming = new RecordingHopTiming(dir, role);
}
