import test from "ava";
import { CallCancellation, type CallSignal } from "./call-signal.js";

test("listeners run once, in the order they were added, when the cancellation aborts", (t) => {
  const cancellation = new CallCancellation();
  const seen: string[] = [];
  cancellation.addEventListener("abort", () => seen.push(`first ${String(cancellation.reason)}`));
  cancellation.addEventListener("abort", () => seen.push(`second ${String(cancellation.aborted)}`));
  t.false(cancellation.aborted);
  t.is(cancellation.reason, undefined);
  cancellation.abort("stop");
  cancellation.abort("again");
  t.deepEqual(seen, ["first stop", "second true"]);
  t.is(cancellation.reason, "stop");
});

test("a removed listener, a listener added twice and one added after the abort", (t) => {
  const cancellation = new CallCancellation();
  let removed = 0;
  let twice = 0;
  let late = 0;
  const onRemoved = (): void => void removed++;
  const onTwice = (): void => void twice++;
  cancellation.addEventListener("abort", onRemoved);
  cancellation.addEventListener("abort", onTwice);
  cancellation.addEventListener("abort", onTwice);
  cancellation.removeEventListener("abort", onRemoved);
  cancellation.removeEventListener("abort", () => undefined);
  cancellation.abort();
  cancellation.addEventListener("abort", () => void late++);
  t.deepEqual({ removed, twice, late }, { removed: 0, twice: 1, late: 0 });
});

test("during the abort, a listener removed by an earlier one does not run, as with an AbortSignal", (t) => {
  const run = (signal: CallSignal, abort: () => void): string[] => {
    const seen: string[] = [];
    const second = (): void => void seen.push("second");
    signal.addEventListener("abort", () => {
      seen.push("first");
      signal.removeEventListener("abort", second);
      signal.addEventListener("abort", () => void seen.push("added during the abort"));
    });
    signal.addEventListener("abort", second);
    abort();
    return seen;
  };
  const cancellation = new CallCancellation();
  const controller = new AbortController();
  const ours = run(cancellation, () => cancellation.abort());
  t.deepEqual(ours, ["first"]);
  t.deepEqual(ours, run(controller.signal, () => controller.abort()));
});

test("without a reason it aborts with the AbortError an AbortController gives", (t) => {
  const cancellation = new CallCancellation();
  cancellation.abort();
  const controller = new AbortController();
  controller.abort();
  t.true(cancellation.reason instanceof DOMException);
  t.is((cancellation.reason as DOMException).name, (controller.signal.reason as DOMException).name);
  t.is((cancellation.reason as DOMException).message, (controller.signal.reason as DOMException).message);
});

test("a listener that throws does not keep the others from running; its error surfaces on the next tick", async (t) => {
  const cancellation = new CallCancellation();
  let ran = false;
  cancellation.addEventListener("abort", () => {
    throw new Error("listener failed");
  });
  cancellation.addEventListener("abort", () => void (ran = true));
  // The rethrow goes through process.nextTick: caught here so that it is seen rather than failing the worker.
  const originalNextTick = process.nextTick;
  const deferred: (() => void)[] = [];
  process.nextTick = ((callback: () => void) => void deferred.push(callback)) as typeof process.nextTick;
  try {
    cancellation.abort("stop");
  } finally {
    process.nextTick = originalNextTick;
  }
  t.true(ran);
  t.is(deferred.length, 1);
  t.throws(() => deferred[0]!(), { message: "listener failed" });
});

test("Node's own AbortSignal is a CallSignal: both go down the same request path", (t) => {
  const controller = new AbortController();
  const signals: CallSignal[] = [controller.signal, new CallCancellation()];
  let fired = 0;
  for (const signal of signals) signal.addEventListener("abort", () => void fired++, { once: true });
  controller.abort("stop");
  (signals[1] as CallCancellation).abort("stop");
  t.is(fired, 2);
  t.true(signals.every((signal) => signal.aborted && signal.reason === "stop"));
});
