/** An async iterable fed by `push` and finished by `end`: the sending side of a bidirectional stream. */
export function createPushable() {
  const queue = [];
  let wake;
  let done = false;
  return {
    push(value) {
      queue.push(value);
      wake?.();
    },
    end() {
      done = true;
      wake?.();
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        while (queue.length > 0) yield queue.shift();
        if (done) return;
        await new Promise((resolve) => (wake = resolve));
        wake = undefined;
      }
    },
  };
}
