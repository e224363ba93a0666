import test from "ava";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { GatewayError } from "../errors.js";
import { createManualClock, type ManualClock } from "../supervisor/clock.js";
import { createUpstreamConnection, type UpstreamTimeouts } from "./connection.js";
import type { JsonObject } from "./types.js";

/**
 * Request timeouts and the liveness ping of the upstream connection, driven by a manual
 * clock: the far end is a scripted server on a linked in-memory pair that answers
 * `initialize` and then only what the test tells it to, so a "hung" server is simply one
 * that says nothing.
 */

const TIMEOUTS: UpstreamTimeouts = { toolCallMs: 300_000, requestMs: 60_000, quietMs: 30_000, pingMs: 10_000 };

async function hungServer(t: import("ava").ExecutionContext, timeouts: UpstreamTimeouts = TIMEOUTS, options: { answersPings?: boolean } = {}) {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const received: JsonObject[] = [];
  serverSide.onmessage = (message) => {
    const request = message as JsonObject;
    if (request.method === "initialize") {
      void serverSide.send({
        jsonrpc: "2.0",
        id: request.id as number,
        result: { protocolVersion: "2025-11-25", capabilities: { tools: {} }, serverInfo: { name: "hung", version: "1" } },
      });
      return;
    }
    received.push(request);
    if (request.method === "ping" && options.answersPings) void serverSide.send({ jsonrpc: "2.0", id: request.id as number, result: {} });
  };
  await serverSide.start();
  const clock = createManualClock();
  const unresponsive: string[] = [];
  const connection = await createUpstreamConnection({
    serverName: "hung",
    transport: clientSide,
    clock,
    timeouts,
    onUnresponsive: (reason) => unresponsive.push(reason),
  });
  t.teardown(() => connection.close());
  received.length = 0; // notifications/initialized
  const send = (message: JsonObject): Promise<void> => serverSide.send(message as never);
  return { connection, clock, received, unresponsive, send };
}

/** Lets queued promise reactions and in-memory deliveries run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Tracks a promise's outcome without awaiting it. */
function track<T>(promise: Promise<T>) {
  const state: { done: boolean; value?: T; error?: unknown } = { done: false };
  promise.then(
    (value) => Object.assign(state, { done: true, value }),
    (error: unknown) => Object.assign(state, { done: true, error }),
  );
  return state;
}

const methods = (received: JsonObject[]): string[] => received.map((message) => String(message.method));

test("a tools/call without an answer is failed with deadline_exceeded after its timeout and cancelled upstream", async (t) => {
  const { connection, clock, received, send } = await hungServer(t, { ...TIMEOUTS, quietMs: 3_600_000 });
  const call = track(connection.request("tools/call", { name: "hang", arguments: {} }));
  await settle();
  const callId = received[0]?.id;
  clock.advance(299_999);
  await settle();
  t.false(call.done, "still waiting one millisecond before the timeout");
  clock.advance(1);
  await settle();
  t.true(call.done);
  t.true(call.error instanceof GatewayError);
  const error = call.error as GatewayError;
  t.is(error.kind, "deadline_exceeded");
  t.is(error.message, 'tools/call on server "hung" timed out: no answer within 5m');
  const cancelled = received.find((message) => message.method === "notifications/cancelled");
  t.deepEqual(cancelled?.params, { requestId: callId, reason: "no answer within 5m" });
  // The late answer is dropped; the connection stays usable.
  await send({ jsonrpc: "2.0", id: callId, result: { content: [] } });
  await settle();
  t.false(connection.closed.aborted);
});

test("requests other than tools/call get the shorter timeout", async (t) => {
  const { connection, clock } = await hungServer(t, { ...TIMEOUTS, quietMs: 3_600_000 });
  const list = track(connection.request("tools/list", {}));
  const read = track(connection.forward("resources/read", { uri: "x://y" }));
  await settle();
  clock.advance(59_999);
  await settle();
  t.false(list.done || read.done);
  clock.advance(1);
  await settle();
  t.is((list.error as GatewayError).message, 'tools/list on server "hung" timed out: no answer within 60s');
  t.is((read.error as GatewayError).kind, "deadline_exceeded");
});

test("progress from the call restarts its timeout; progress for another token does not", async (t) => {
  const { connection, clock, received, send } = await hungServer(t, { ...TIMEOUTS, quietMs: 3_600_000 }, { answersPings: true });
  const call = track(connection.request("tools/call", { name: "long", arguments: {}, _meta: { progressToken: "dsgw-7" } }));
  const other = track(connection.request("tools/call", { name: "other", arguments: {}, _meta: { progressToken: "dsgw-8" } }));
  await settle();
  for (let step = 0; step < 4; step++) {
    clock.advance(200_000);
    await send({ jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: "dsgw-7", progress: step } });
    await settle();
    t.false(call.done, `call still waiting after ${(step + 1) * 200} s with progress`);
  }
  t.true(other.done, "the call without progress timed out at 5 min");
  t.regex((other.error as GatewayError).message, /no answer within 5m \(without progress\)$/);
  clock.advance(299_999);
  await settle();
  t.false(call.done);
  clock.advance(1);
  await settle();
  t.is((call.error as GatewayError).kind, "deadline_exceeded");
  t.false(connection.closed.aborted, "it answered the ping each timeout caused");
  const cancelledIds = received.filter((m) => m.method === "notifications/cancelled").map((m) => (m.params as JsonObject).requestId);
  t.deepEqual(cancelledIds, [received[1]?.id, received[0]?.id]);
});

test("an idle connection sends nothing, however long it stays idle", async (t) => {
  const { clock, received } = await hungServer(t);
  clock.advance(10 * 3_600_000);
  await settle();
  t.deepEqual(received, []);
  t.deepEqual(clock.pendingDelays(), []);
});

test("quiet while a call waits: ping; an answered ping keeps the connection, the next quiet period pings again", async (t) => {
  const { connection, clock, received, send, unresponsive } = await hungServer(t);
  const call = track(connection.request("tools/call", { name: "long", arguments: {} }));
  await settle();
  clock.advance(29_999);
  await settle();
  t.deepEqual(methods(received), ["tools/call"]);
  clock.advance(1);
  await settle();
  t.deepEqual(methods(received), ["tools/call", "ping"]);
  await send({ jsonrpc: "2.0", id: received[1]!.id as number, result: {} });
  await settle();
  clock.advance(9_999 + 30_000);
  await settle();
  t.deepEqual(methods(received), ["tools/call", "ping", "ping"], "a new quiet period began with the answer");
  await send({ jsonrpc: "2.0", id: received[2]!.id as number, error: { code: -32601, message: "no ping here" } });
  await settle();
  clock.advance(20_000);
  await settle();
  t.deepEqual(unresponsive, [], "an error answer is an answer");
  t.false(call.done);
  t.false(connection.closed.aborted);
});

test("traffic from the server counts as a sign of life: no ping while it keeps talking", async (t) => {
  const { connection, clock, received, send } = await hungServer(t);
  track(connection.request("tools/call", { name: "chatty", arguments: {} }));
  await settle();
  for (let step = 0; step < 6; step++) {
    clock.advance(20_000);
    await send({ jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: step } });
    await settle();
  }
  t.deepEqual(methods(received), ["tools/call"]);
});

test("an unanswered ping fails every waiting request, closes the connection and reports the server unresponsive", async (t) => {
  const { connection, clock, received, unresponsive } = await hungServer(t);
  const call = track(connection.request("tools/call", { name: "hang", arguments: {} }));
  const list = track(connection.request("prompts/list", {}));
  await settle();
  clock.advance(30_000);
  await settle();
  t.deepEqual(methods(received), ["tools/call", "prompts/list", "ping"]);
  clock.advance(9_999);
  await settle();
  t.deepEqual(unresponsive, []);
  clock.advance(1);
  await settle();
  t.deepEqual(unresponsive, ["no answer to a ping within 10s"]);
  for (const state of [call, list]) {
    t.is((state.error as GatewayError).kind, "unavailable");
    t.is((state.error as GatewayError).message, 'server "hung" stopped responding (no answer to a ping within 10s); it is being restarted');
  }
  t.true(connection.closed.aborted);
  t.deepEqual(clock.pendingDelays(), [], "no timer left behind");
});

test("a request that times out makes the connection check on the server at once", async (t) => {
  const { connection, clock, received, unresponsive } = await hungServer(t, { toolCallMs: 1_000, requestMs: 1_000, quietMs: 3_600_000, pingMs: 500 });
  const call = track(connection.request("tools/call", { name: "hang", arguments: {} }));
  await settle();
  clock.advance(1_000);
  await settle();
  t.is((call.error as GatewayError).kind, "deadline_exceeded");
  t.deepEqual(methods(received), ["tools/call", "notifications/cancelled", "ping"]);
  clock.advance(500);
  await settle();
  t.deepEqual(unresponsive, ["no answer to a ping within 500ms"]);
});

test("hot path: any number of waiting requests share one timer", async (t) => {
  const { connection, clock, received, send } = await hungServer(t);
  const calls = Array.from({ length: 200 }, (_, index) =>
    track(connection.request(index % 2 === 0 ? "tools/call" : "resources/read", { index })),
  );
  await settle();
  t.is(clock.pendingDelays().length, 1);
  for (const message of received) await send({ jsonrpc: "2.0", id: message.id as number, result: {} });
  await settle();
  t.true(calls.every((call) => call.done && call.error === undefined));
  t.true(clock.pendingDelays().length <= 1);
});

test("setTimeouts applies to requests sent afterwards", async (t) => {
  const { connection, clock } = await hungServer(t, { ...TIMEOUTS, quietMs: 3_600_000 });
  connection.setTimeouts({ ...TIMEOUTS, quietMs: 3_600_000, toolCallMs: 2_000 });
  const call = track(connection.request("tools/call", { name: "hang", arguments: {} }));
  await settle();
  clock.advance(2_000);
  await settle();
  t.is((call.error as GatewayError).message, 'tools/call on server "hung" timed out: no answer within 2s');
});
