import test from "ava";
import { createManualClock } from "../supervisor/clock.js";
import { createDeadlineSweep } from "./deadline-sweep.js";

test("one timer: a later due time leaves it, an earlier one moves it, the sweep says when to run next", (t) => {
  const clock = createManualClock(0);
  const sweeps: number[] = [];
  let next = Infinity;
  const sweep = createDeadlineSweep(clock, (now) => {
    sweeps.push(now);
    return next;
  });
  sweep.due(1_000);
  sweep.due(5_000);
  t.deepEqual(clock.pendingDelays(), [1_000], "a later time never arms a second timer");
  sweep.due(400);
  t.deepEqual(clock.pendingDelays(), [400], "an earlier time moves the one timer");
  next = 900;
  clock.advance(400);
  t.deepEqual(sweeps, [400]);
  t.deepEqual(clock.pendingDelays(), [500], "rearmed for the time the sweep asked for");
  next = Infinity;
  clock.advance(500);
  t.deepEqual(sweeps, [400, 900]);
  t.deepEqual(clock.pendingDelays(), [], "nothing more to do: no timer");
  sweep.due(2_000);
  sweep.stop();
  t.deepEqual(clock.pendingDelays(), []);
  sweep.due(3_000);
  t.deepEqual(clock.pendingDelays(), [2_100], "due works again after stop");
});

test("a deadline beyond node's timer range is reached in steps, not by a timer that fires at once", (t) => {
  const clock = createManualClock(0);
  const far = 60 * 24 * 3_600_000; // 60 days
  let sweeps = 0;
  const sweep = createDeadlineSweep(clock, (now) => {
    sweeps++;
    return now >= far ? Infinity : far;
  });
  sweep.due(far);
  t.deepEqual(clock.pendingDelays(), [2 ** 31 - 1]);
  clock.advance(far);
  t.is(sweeps, 3, "two steps of 24.8 days, then the deadline");
});
