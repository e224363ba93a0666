import test from "ava";
import { createCallStats, MAX_STATS_WINDOW_SECONDS } from "./call-stats.js";

const T0 = 1_700_000_000_000;

test("a server's figures count the calls and errors of the window only, with percentiles of its latencies", (t) => {
  const stats = createCallStats();
  // 100 calls in the last minute (1..100 ms), 10 of them failed; 5 older calls outside a 60 s window.
  for (let i = 1; i <= 100; i++) stats.record("alpha", "alpha-echo", i % 10 === 0, i, T0 + i * 100);
  for (let i = 0; i < 5; i++) stats.record("alpha", "alpha-echo", true, 5_000, T0 - 120_000);
  const now = T0 + 10_000;
  const figures = stats.server("alpha", 60, now);
  t.is(figures.calls, 100);
  t.is(figures.errors, 10);
  t.is(figures.callsPerSecond, 100 / 60);
  t.is(figures.p50Ms, 51);
  t.is(figures.p99Ms, 100);
  // The wider window sees the old calls too.
  t.is(stats.server("alpha", 300, now).calls, 105);
  t.deepEqual(stats.server("nobody", 60, now), { calls: 0, errors: 0, callsPerSecond: 0, p50Ms: 0, p99Ms: 0 });
});

test("busiest tools come most calls first, limited; prompts and resources count for their server only", (t) => {
  const stats = createCallStats();
  for (let i = 0; i < 3; i++) stats.record("alpha", "alpha-a", false, 1, T0);
  for (let i = 0; i < 7; i++) stats.record("beta", "beta-b", false, 2, T0);
  stats.record("alpha", "alpha-c", false, 1, T0);
  stats.record("alpha", undefined, false, 1, T0);
  const busiest = stats.busiestTools(60, T0, 2);
  t.deepEqual(
    busiest.map((tool) => [tool.tool, tool.server, tool.calls]),
    [
      ["beta-b", "beta", 7],
      ["alpha-a", "alpha", 3],
    ],
  );
  t.is(stats.server("alpha", 60, T0).calls, 5);
  t.is(stats.total(60, T0).calls, 12);
});

test("the ring reuses a second's bucket after a full turn instead of adding to stale counts", (t) => {
  const stats = createCallStats();
  stats.record("alpha", "alpha-a", false, 1, T0);
  const later = T0 + MAX_STATS_WINDOW_SECONDS * 1000;
  stats.record("alpha", "alpha-a", false, 1, later);
  t.is(stats.server("alpha", MAX_STATS_WINDOW_SECONDS, later).calls, 1);
  // A window is clamped to what the ring holds.
  t.is(stats.server("alpha", 10_000, later).calls, 1);
});
