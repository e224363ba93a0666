import test from "ava";
import { formatEventId, formatSseEvent, parseEventId } from "./sse.js";
import { ReplayBuffer } from "./replay-buffer.js";

test("an SSE frame carries event, id and data, and ends with a blank line", (t) => {
  t.is(formatSseEvent(Buffer.from('{"a":1}'), "3-7").toString(), 'id: 3-7\ndata: {"a":1}\n\n');
  t.is(formatSseEvent("/message?sessionId=x", undefined, "endpoint").toString(), "event: endpoint\ndata: /message?sessionId=x\n\n");
  t.is(formatSseEvent(new Uint8Array(Buffer.from("{\n\"a\":\r\n1}")), "1-1").toString(), 'id: 1-1\ndata: {\ndata: "a":\ndata: 1}\n\n');
});

test("event ids name the stream and position; only well-formed ones parse", (t) => {
  t.is(formatEventId(12, 3), "12-3");
  t.deepEqual(parseEventId("12-3"), { streamId: 12, seq: 3 });
  for (const bad of ["", "12", "a-1", "1-b", "-1-2", "1--2", "1-2-3", " 1-2", "9".repeat(20) + "-1"]) t.is(parseEventId(bad), undefined, bad);
});

test("the replay buffer returns a stream's events after a position and stays within its bounds", (t) => {
  const buffer = new ReplayBuffer(4, 1000);
  const frame = (s: string) => Buffer.from(s);
  buffer.add({ streamId: 1, seq: 1, frame: frame("a") });
  buffer.add({ streamId: 0, seq: 1, frame: frame("b") });
  buffer.add({ streamId: 1, seq: 2, frame: frame("c") });
  t.deepEqual(buffer.after(1, 1).map((e) => e.frame.toString()), ["c"]);
  t.deepEqual(buffer.after(1, 0).map((e) => e.frame.toString()), ["a", "c"]);
  t.deepEqual(buffer.after(0, 0).map((e) => e.frame.toString()), ["b"]);
  for (let i = 3; i < 10; i++) buffer.add({ streamId: 1, seq: i, frame: frame(String(i)) });
  t.is(buffer.size, 4);
  t.deepEqual(buffer.after(1, 0).map((e) => e.seq), [6, 7, 8, 9]);
  const bytes = new ReplayBuffer(100, 10);
  for (let i = 1; i <= 5; i++) bytes.add({ streamId: 1, seq: i, frame: Buffer.alloc(4) });
  t.is(bytes.size, 2);
  bytes.add({ streamId: 1, seq: 6, frame: Buffer.alloc(11) });
  t.is(bytes.size, 2, "an event larger than the whole buffer is not kept");
});
