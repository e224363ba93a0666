import test from "ava";
import { create, fromJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { CallToolResponseSchema, McpService } from "../../gen/deploystack/gateway/v1/mcp_service_pb.js";
import { runVerb } from "../dial.js";
import { createCapturedIo } from "../io.js";
import { callTool, listTools, parseToolArguments } from "./tools.js";

/** What the fake McpService saw, for assertions. */
interface Seen {
  calls: { name: string; arguments: unknown }[];
  cancelled: boolean;
}

function setup() {
  const seen: Seen = { calls: [], cancelled: false };
  const transport = createRouterTransport((router) => {
    router.service(McpService, {
      listTools(request) {
        const tools = [
          { name: "everything-echo", server: "everything", upstreamName: "echo", description: "Echoes back the input\nmore" },
          { name: "memory-read_graph", server: "memory", upstreamName: "read_graph", description: "Read the entire knowledge graph" },
        ];
        return { tools: tools.filter((tool) => request.server === "" || tool.server === request.server) };
      },
      async *callTool(request, context) {
        seen.calls.push({ name: request.name, arguments: request.arguments });
        if (request.name === "everything-slow") {
          yield create(CallToolResponseSchema, { event: { case: "progress", value: { progress: 1, total: 5, message: "step one" } } });
          await new Promise<void>((resolve) => context.signal.addEventListener("abort", () => resolve(), { once: true }));
          seen.cancelled = true;
          return;
        }
        if (request.name === "nope") throw new ConnectError('tool "nope" not found', Code.NotFound);
        yield create(CallToolResponseSchema, { event: { case: "progress", value: { progress: 1, total: 2, message: "" } } });
        yield create(CallToolResponseSchema, { event: { case: "log", value: { level: "info", logger: "echo", data: fromJson(ValueSchema, "working") } } });
        const failed = request.name === "everything-fail";
        yield create(CallToolResponseSchema, {
          event: {
            case: "result",
            value: { content: [{ type: "text", text: failed ? "bad input" : "Echo: hi" }], ...(failed ? { isError: true } : {}) },
          },
        });
      },
    });
  });
  return { seen, client: createClient(McpService, transport), io: createCapturedIo() };
}

test("tools list prints name, server and the first line of the description", async (t) => {
  const { client, io } = setup();
  t.is(await listTools(client, {}, io), 0);
  t.is(
    io.out(),
    "NAME               SERVER      DESCRIPTION\n" +
      "everything-echo    everything  Echoes back the input\n" +
      "memory-read_graph  memory      Read the entire knowledge graph\n",
  );
  const filtered = createCapturedIo();
  await listTools(client, { server: "memory", json: true }, filtered);
  t.deepEqual(JSON.parse(filtered.out()), {
    tools: [{ name: "memory-read_graph", server: "memory", upstreamName: "read_graph", description: "Read the entire knowledge graph" }],
  });
});

test("tools call sends the arguments, shows progress and logs on stderr and prints the result as JSON", async (t) => {
  const { client, io, seen } = setup();
  t.is(await callTool(client, { name: "everything-echo", args: '{"message":"hi","n":2}' }, io), 0);
  t.deepEqual(seen.calls, [{ name: "everything-echo", arguments: { message: "hi", n: 2 } }]);
  t.deepEqual(JSON.parse(io.out()), { content: [{ type: "text", text: "Echo: hi" }] });
  t.is(io.err(), "progress 1/2\nlog [info] echo: working\n");
});

test("a result with isError is printed and exits 1", async (t) => {
  const { client, io } = setup();
  t.is(await callTool(client, { name: "everything-fail" }, io), 1);
  t.deepEqual(JSON.parse(io.out()), { content: [{ type: "text", text: "bad input" }], isError: true });
});

test("tools call --json prints each stream message as proto JSON", async (t) => {
  const { client, io } = setup();
  await callTool(client, { name: "everything-echo", json: true }, io);
  const lines = io.out().trimEnd().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
  t.deepEqual(lines.map((line) => Object.keys(line)[0]), ["progress", "log", "result"]);
  t.deepEqual(lines[2], { result: { content: [{ type: "text", text: "Echo: hi" }] } });
});

test("Ctrl-C cancels the call on the server and exits 130", async (t) => {
  const { client, io, seen } = setup();
  const controller = new AbortController();
  const run = runVerb(io, "/sock", () => callTool(client, { name: "everything-slow", signal: controller.signal }, io));
  while (!io.err().includes("step one")) await new Promise((resolve) => setTimeout(resolve, 10));
  controller.abort();
  t.is(await run, 130);
  t.regex(io.err(), /progress 1\/5 step one\ncall of "everything-slow" cancelled\n$/);
  while (!seen.cancelled) await new Promise((resolve) => setTimeout(resolve, 10));
  t.true(seen.cancelled);
});

test("bad --args and unknown tools fail with one line", async (t) => {
  t.deepEqual(parseToolArguments(undefined), {});
  t.deepEqual(parseToolArguments(" "), {});
  const { client, io } = setup();
  t.is(await runVerb(io, "/sock", () => callTool(client, { name: "x", args: "{nope" }, io)), 2);
  t.is(await runVerb(io, "/sock", () => callTool(client, { name: "x", args: "[1]" }, io)), 2);
  t.is(await runVerb(io, "/sock", () => callTool(client, { name: "nope" }, io)), 1);
  const lines = io.err().trimEnd().split("\n");
  t.regex(lines[0], /^--args is not valid JSON: /);
  t.deepEqual(lines.slice(1), ["--args must be a JSON object", 'tool "nope" not found']);
});
