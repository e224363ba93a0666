import test from "ava";
import { KeepAliveWatch, type WatchClock } from "./keep-alive-watch.js";

/** A clock whose time and interval the test moves by hand. */
function manualClock(): WatchClock & { advance(ms: number): void; running(): boolean } {
  let now = 0;
  let tick: (() => void) | undefined;
  let every = 0;
  let last = 0;
  return {
    now: () => now,
    setInterval(callback, ms) {
      tick = callback;
      every = ms;
      last = now;
      return { unref: () => undefined };
    },
    clearInterval() {
      tick = undefined;
    },
    advance(ms) {
      const end = now + ms;
      while (tick && last + every <= end) {
        now = last += every;
        tick();
      }
      now = end;
    },
    running: () => tick !== undefined,
  };
}

test("a request still waiting after one interval is told once; answered ones never are; the timer runs only while some wait", (t) => {
  const clock = manualClock();
  const watch = new KeepAliveWatch(100, clock);
  const told: string[] = [];
  const slow = watch.watch(() => told.push("slow"));
  clock.advance(40);
  const quick = watch.watch(() => told.push("quick"));
  clock.advance(10);
  quick.stop();
  t.true(clock.running());
  clock.advance(49);
  t.deepEqual(told, [], "not before one interval");
  clock.advance(101);
  t.deepEqual(told, ["slow"], "between one and one and a half intervals");
  t.is(watch.size, 0);
  t.false(clock.running(), "no timer with nothing waiting");
  clock.advance(1000);
  t.deepEqual(told, ["slow"], "told once");
  slow.stop();

  const late = watch.watch(() => told.push("late"));
  t.true(clock.running(), "a new request starts the timer again");
  clock.advance(150);
  t.deepEqual(told, ["slow", "late"]);
  late.stop();
});

test("one request's failing callback does not keep the others from being told", (t) => {
  const clock = manualClock();
  const watch = new KeepAliveWatch(10, clock);
  const told: string[] = [];
  watch.watch(() => {
    throw new Error("the response went away");
  });
  watch.watch(() => told.push("second"));
  clock.advance(20);
  t.deepEqual(told, ["second"]);
});

test("a request stopped twice, or from its own callback, leaves the others watched and counted once", (t) => {
  const clock = manualClock();
  const watch = new KeepAliveWatch(100, clock);
  const told: string[] = [];
  const first = watch.watch(() => told.push("first"));
  let self: ReturnType<KeepAliveWatch["watch"]> | undefined;
  self = watch.watch(() => {
    told.push("self");
    self?.stop(); // the callback ends its own watch, as a request opening its stream does
  });
  clock.advance(20);
  const middle = watch.watch(() => told.push("middle"));
  const last = watch.watch(() => told.push("last"));
  t.is(watch.size, 4);
  first.stop();
  first.stop();
  t.is(watch.size, 3, "a second stop changes nothing");
  middle.stop();
  clock.advance(150);
  t.deepEqual(told, ["self", "last"]);
  t.is(watch.size, 0);
  last.stop();
  t.is(watch.size, 0);
  t.false(clock.running());
});
