import test from "ava";
import { PassThrough } from "node:stream";
import type { JsonRpcMessage } from "./message-transport.js";
import { createStdioMessageTransport } from "./stdio-transport.js";

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
  t.is((messages[0].result as { text: string }).text.length, text.length);
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
