import test from "ava";
import { PassThrough, Writable } from "node:stream";
import type { JsonRpcMessage } from "./message-transport.js";
import { RawJson } from "./raw-json.js";
import { createStdioMessageTransport, RAW_RESULT_MIN_BYTES } from "./stdio-transport.js";

function setup() {
  const input = new PassThrough();
  const output = new PassThrough();
  const transport = createStdioMessageTransport({ input, output });
  const messages: JsonRpcMessage[] = [];
  const errors: string[] = [];
  let closed = 0;
  transport.onmessage = (message) => messages.push(message);
  transport.onerror = (error) => errors.push(error.message);
  transport.onclose = () => closed++;
  return { input, output, transport, messages, errors, closed: () => closed };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test("joins partial lines, skips blank and non-JSON lines, tolerates CRLF", async (t) => {
  const { output, transport, messages, errors } = setup();
  await transport.start();
  output.write('{"jsonrpc":"2.0","id":1,');
  output.write('"result":{}}\n\n   \n');
  output.write("this is a log line, not JSON\n");
  output.write('{"jsonrpc":"2.0","method":"a"}\r\n{"jsonrpc":"2.0","me');
  output.write('thod":"b"}\n42\n[{"jsonrpc":"2.0","method":"c"}]\n');
  await tick();
  t.deepEqual(messages, [
    { jsonrpc: "2.0", id: 1, result: {} },
    { jsonrpc: "2.0", method: "a" },
    { jsonrpc: "2.0", method: "b" },
    { jsonrpc: "2.0", method: "c" },
  ]);
  t.is(errors.length, 2);
  t.regex(errors[0], /non-JSON line of 28 bytes/);
  t.notRegex(errors.join(" "), /log line/, "line contents are never echoed into errors");
});

test("delivers a 12 MiB line written in many chunks", async (t) => {
  const { output, transport, messages } = setup();
  await transport.start();
  const text = "x".repeat(12 * 1024 * 1024);
  const line = Buffer.from(JSON.stringify({ jsonrpc: "2.0", id: 7, result: { text } }) + "\n");
  for (let offset = 0; offset < line.length; offset += 65_536) output.write(line.subarray(offset, offset + 65_536));
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.is(messages.length, 1);
  t.is(messages[0].id, 7);
  t.is((messages[0].result as RawJson).parse().text, text);
});

/** Writes `line` and a newline to `output` in chunks of `size` bytes. */
function writeInChunks(output: PassThrough, line: string, size: number): void {
  const bytes = Buffer.from(line + "\n");
  for (let offset = 0; offset < bytes.length; offset += size) output.write(bytes.subarray(offset, offset + size));
}

test("a large response keeps its result as the server's bytes, which parse to what the server sent", async (t) => {
  const { output, transport, messages, errors } = setup();
  await transport.start();
  const result = {
    content: [{ type: "text", text: 'é😀 "quoted" \\ \n\t\u0001 '.repeat(8_000) }, { type: "text", text: "second" }],
    structuredContent: { n: -1.5e3, ok: true, nothing: null, list: [1, [2, {}]] },
    _meta: { "io.example/size": RAW_RESULT_MIN_BYTES },
  };
  const json = JSON.stringify(result);
  // Members in another order than the SDK writes them, whitespace between them, CRLF at the end.
  writeInChunks(output, `{ "result" : ${json} , "id":"call-1","jsonrpc":"2.0"}\r`, 4_093);
  await tick();
  t.deepEqual(errors, []);
  t.is(messages.length, 1);
  const raw = messages[0].result;
  t.true(raw instanceof RawJson);
  t.is(messages[0].id, "call-1");
  t.is(messages[0].jsonrpc, "2.0");
  t.is(Buffer.concat((raw as RawJson).pieces).toString("utf8"), json, "the bytes are exactly the server's");
  t.is((raw as RawJson).byteLength, Buffer.byteLength(json));
  t.deepEqual((raw as RawJson).parse(), result);
  t.deepEqual(JSON.parse(JSON.stringify(messages[0])), { result, id: "call-1", jsonrpc: "2.0" }, "serialising it by accident stays right");
});

test("large lines that are not a response with an object result are parsed as usual, and malformed ones skipped", async (t) => {
  const { output, transport, messages, errors } = setup();
  await transport.start();
  const big = "z".repeat(RAW_RESULT_MIN_BYTES);
  writeInChunks(output, JSON.stringify({ jsonrpc: "2.0", id: 1, method: "sampling/createMessage", params: { big } }), 10_000);
  writeInChunks(output, JSON.stringify({ jsonrpc: "2.0", id: 2, error: { code: -32000, message: "no", data: big } }), 10_000);
  writeInChunks(output, JSON.stringify({ jsonrpc: "2.0", id: 3, result: big }), 10_000);
  writeInChunks(output, `{"jsonrpc":"2.0","id":4,"result":{"text":"${big}"}`, 10_000);
  writeInChunks(output, `{"jsonrpc":"2.0","id":5,"result":{"text":"${big}"}} trailing`, 10_000);
  await tick();
  t.deepEqual(
    messages.map((m) => [m.id, m.result instanceof RawJson]),
    [
      [1, false],
      [2, false],
      [3, false],
    ],
  );
  t.is((messages[0].params as { big: string }).big, big);
  t.is(messages[2].result, big);
  t.is(errors.length, 2);
  t.regex(errors[0]!, /non-JSON line of \d+ bytes/);
  t.notRegex(errors.join(" "), /zzzz/, "line contents are never echoed into errors");
});

test("drops a line over the cap and resynchronises on the next newline", async (t) => {
  const input = new PassThrough();
  const output = new PassThrough();
  const transport = createStdioMessageTransport({ input, output, maxLineBytes: 100 });
  const messages: JsonRpcMessage[] = [];
  const errors: string[] = [];
  transport.onmessage = (message) => messages.push(message);
  transport.onerror = (error) => errors.push(error.message);
  await transport.start();
  output.write("y".repeat(80));
  output.write("y".repeat(80));
  output.write('zzz\n{"jsonrpc":"2.0","id":2,"result":{}}\n');
  await tick();
  t.deepEqual(messages, [{ jsonrpc: "2.0", id: 2, result: {} }]);
  t.is(errors.length, 1);
});

test("gathers the messages sent by separate callbacks of one event-loop phase into one write", async (t) => {
  // The daemon hears each frontend session on a stream of its own: one read from the frontend runs one callback per
  // session, with the tick queue drained between them. Their requests must still reach the server in one write.
  const writes: string[][] = [];
  const input = new Writable({
    writev(chunks, callback) {
      writes.push(chunks.map(({ chunk }) => String(chunk)));
      callback();
    },
    write(chunk, _encoding, callback) {
      writes.push([String(chunk)]);
      callback();
    },
  });
  const transport = createStdioMessageTransport({ input, output: new PassThrough() });
  await transport.start();
  await new Promise<void>((resolve) => {
    setImmediate(() => void transport.send({ jsonrpc: "2.0", id: 1, method: "ping" }));
    setImmediate(() => void transport.send({ jsonrpc: "2.0", id: 2, method: "ping" }));
    setImmediate(resolve);
  });
  await tick();
  t.deepEqual(writes, [['{"jsonrpc":"2.0","id":1,"method":"ping"}\n', '{"jsonrpc":"2.0","id":2,"method":"ping"}\n']]);
});

test("sends one line per message and closes once", async (t) => {
  const { input, output, transport, closed } = setup();
  await transport.start();
  const written: string[] = [];
  input.on("data", (chunk: Buffer) => written.push(chunk.toString("utf8")));
  await transport.send({ jsonrpc: "2.0", id: 1, method: "ping" });
  await tick();
  t.deepEqual(written, ['{"jsonrpc":"2.0","id":1,"method":"ping"}\n']);
  output.end();
  await tick();
  t.is(closed(), 1);
  await transport.close();
  t.is(closed(), 1);
  await t.throwsAsync(transport.send({ jsonrpc: "2.0", method: "x" }), { message: "transport closed" });
});
