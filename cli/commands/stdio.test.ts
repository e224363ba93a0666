import test from "ava";
import { PassThrough } from "node:stream";
import { create } from "@bufbuild/protobuf";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { SessionTransport } from "../../gen/deploystack/gateway/v1/mcp_pb.js";
import { McpService, OpenSessionResponseSchema, type OpenSessionRequest } from "../../gen/deploystack/gateway/v1/mcp_service_pb.js";
import { createCapturedIo } from "../io.js";
import { runStdioBridge } from "./stdio.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A fake session engine: answers each request with its id, and records the frames. */
function setup(options: { endAfter?: number } = {}) {
  const frames: OpenSessionRequest["frame"][] = [];
  const transport = createRouterTransport((router) => {
    router.service(McpService, {
      async *openSession(requests) {
        let count = 0;
        for await (const request of requests) {
          frames.push(request.frame);
          if (request.frame.case !== "message") continue;
          const message = JSON.parse(decoder.decode(request.frame.value.json)) as { id?: number; method: string };
          count++;
          if (message.id !== undefined) {
            yield create(OpenSessionResponseSchema, {
              frame: { case: "message", value: { json: encoder.encode(JSON.stringify({ jsonrpc: "2.0", id: message.id, result: { method: message.method } })) } },
            });
          }
          // An exchange-complete frame with no JSON must not reach stdout.
          yield create(OpenSessionResponseSchema, { frame: { case: "message", value: { exchangeComplete: true } } });
          if (message.method === "pretty") {
            yield create(OpenSessionResponseSchema, {
              frame: { case: "message", value: { json: encoder.encode('{\n  "jsonrpc": "2.0",\n  "method": "notifications/x"\n}') } },
            });
          }
          if (options.endAfter !== undefined && count >= options.endAfter) {
            yield create(OpenSessionResponseSchema, { frame: { case: "ended", value: { reason: "daemon stopping" } } });
            return;
          }
        }
      },
    });
  });
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  let out = "";
  stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  const stderr = createCapturedIo();
  return { frames, client: createClient(McpService, transport), stdin, stdout, stderr, out: () => out };
}

test("each stdin line is one ClientMessage and each answer one stdout line; stdin's end ends the bridge", async (t) => {
  const { frames, client, stdin, stdout, stderr, out } = setup();
  const run = runStdioBridge(client, { stdin, stdout, stderr: stderr.stderr });
  stdin.write('{"jsonrpc":"2.0","id":1,"method":"initialize"}\n\n');
  stdin.write('{"jsonrpc":"2.0","method":"notifications/initialized"}\r\n{"jsonrpc":"2.0","id":"a","method":"tools/list"}\n');
  stdin.end();
  t.is(await run, 0);
  t.deepEqual(out().split("\n"), [
    '{"jsonrpc":"2.0","id":1,"result":{"method":"initialize"}}',
    '{"jsonrpc":"2.0","id":"a","result":{"method":"tools/list"}}',
    "",
  ]);
  t.is(frames[0].case, "start");
  t.is((frames[0].value as { transport: SessionTransport }).transport, SessionTransport.STDIO);
  const messages = frames.slice(1).map((frame) => {
    t.is(frame.case, "message");
    const value = frame.value as { exchangeId: bigint; json: Uint8Array };
    t.is(value.exchangeId, 0n);
    return decoder.decode(value.json);
  });
  t.deepEqual(messages, [
    '{"jsonrpc":"2.0","id":1,"method":"initialize"}',
    '{"jsonrpc":"2.0","method":"notifications/initialized"}',
    '{"jsonrpc":"2.0","id":"a","method":"tools/list"}',
  ]);
  t.is(stderr.err(), "");
});

test("a message with line breaks is re-encoded onto one line", async (t) => {
  const { client, stdin, stdout, stderr, out } = setup();
  const run = runStdioBridge(client, { stdin, stdout, stderr: stderr.stderr });
  stdin.end('{"jsonrpc":"2.0","method":"pretty"}\n');
  await run;
  t.is(out(), '{"jsonrpc":"2.0","method":"notifications/x"}\n');
});

test("the bridge exits when the daemon ends the session, with the reason on stderr", async (t) => {
  const { client, stdin, stdout, stderr, out } = setup({ endAfter: 1 });
  const run = runStdioBridge(client, { stdin, stdout, stderr: stderr.stderr });
  stdin.write('{"jsonrpc":"2.0","id":7,"method":"ping"}\n');
  t.is(await run, 0);
  t.is(out(), '{"jsonrpc":"2.0","id":7,"result":{"method":"ping"}}\n');
  t.is(stderr.err(), "session ended: daemon stopping\n");
  stdin.destroy();
});

test("an interrupt ends the bridge cleanly", async (t) => {
  const { client, stdin, stdout, stderr } = setup();
  const controller = new AbortController();
  const run = runStdioBridge(client, { stdin, stdout, stderr: stderr.stderr }, { signal: controller.signal });
  stdin.write('{"jsonrpc":"2.0","id":1,"method":"ping"}\n');
  controller.abort();
  t.is(await run, 0);
  stdin.destroy();
});

