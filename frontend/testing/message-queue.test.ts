import test from "ava";
import { MessageQueue } from "./message-queue.js";

test("delivers in order to a waiting reader and to a later one, then ends after close", async (t) => {
  const queue = new MessageQueue<number>(10);
  const it = queue[Symbol.asyncIterator]();
  const first = it.next();
  t.true(await queue.push(1));
  t.deepEqual(await first, { value: 1, done: false });
  await queue.push(2);
  await queue.push(3);
  queue.close();
  t.false(await queue.push(4), "pushing after close is refused");
  t.deepEqual(await it.next(), { value: 2, done: false });
  t.deepEqual(await it.next(), { value: 3, done: false });
  t.deepEqual(await it.next(), { value: undefined, done: true });
});

test("back-pressure: push waits at the high-water mark until the reader catches up", async (t) => {
  const queue = new MessageQueue<number>(2);
  await queue.push(1);
  let released = false;
  const blocked = queue.push(2).then((ok) => {
    released = true;
    return ok;
  });
  await new Promise((resolve) => setImmediate(resolve));
  t.false(released);
  const it = queue[Symbol.asyncIterator]();
  await it.next();
  t.true(await blocked);
  t.true(released);
});

test("return() and throw() end the queue and release blocked writers", async (t) => {
  for (const stop of ["return", "throw"] as const) {
    const queue = new MessageQueue<number>(1);
    const blocked = queue.push(1);
    const it = queue[Symbol.asyncIterator]();
    await it[stop]?.(new Error("x"));
    t.false(await blocked, stop);
    t.deepEqual(await it.next(), { value: undefined, done: true });
  }
});
