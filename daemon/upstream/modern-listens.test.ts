import test from "ava";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { waitFor } from "../supervisor/test-support.js";
import { createUpstreamConnection } from "./connection.js";
import { UpstreamRpcError, type JsonObject } from "./types.js";

/**
 * Resource subscriptions towards a modern server ride on `subscriptions/listen`
 * (2026-07-28 "Patterns › Subscriptions"): the far end is a scripted modern server on a
 * linked in-memory pair, which acknowledges what the test tells it to.
 */

/** `honour` returns the URIs to acknowledge, or undefined for a server that never acknowledges. */
async function scriptedModern(t: import("ava").ExecutionContext, options: { honour: (uris: string[]) => string[] | undefined; requestMs?: number }) {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const received: JsonObject[] = [];
  serverSide.onmessage = (message) => {
    const request = message as JsonObject;
    received.push(request);
    if (request.method === "server/discover") {
      void serverSide.send({
        jsonrpc: "2.0",
        id: request.id as number,
        result: { resultType: "complete", supportedVersions: ["2026-07-28"], capabilities: { resources: { subscribe: true } } },
      } as never);
    }
    if (request.method === "subscriptions/listen") {
      const filter = (request.params as JsonObject).notifications as JsonObject;
      const uris = (filter.resourceSubscriptions as string[] | undefined) ?? [];
      const honoured = options.honour(uris);
      if (honoured === undefined) return;
      void serverSide.send({
        jsonrpc: "2.0",
        method: "notifications/subscriptions/acknowledged",
        params: { notifications: { resourceSubscriptions: honoured }, _meta: { "io.modelcontextprotocol/subscriptionId": request.id } },
      } as never);
    }
  };
  await serverSide.start();
  const connection = await createUpstreamConnection({
    serverName: "m",
    transport: clientSide,
    era: "modern",
    ...(options.requestMs !== undefined ? { timeouts: { toolCallMs: 300_000, requestMs: options.requestMs, quietMs: 30_000, pingMs: 30_000 } } : {}),
  });
  t.teardown(() => connection.close());
  const listens = (uri: string): JsonObject[] =>
    received.filter(
      (message) =>
        message.method === "subscriptions/listen" &&
        (((message.params as JsonObject).notifications as JsonObject).resourceSubscriptions as string[] | undefined)?.includes(uri),
    );
  return { connection, received, listens, send: (message: JsonObject) => serverSide.send(message as never) };
}

test("subscribe opens one listen per URI and settles on the acknowledgement; unsubscribe cancels it", async (t) => {
  const { connection, received, listens } = await scriptedModern(t, { honour: (uris) => uris });
  // The list-changes listen is not opened: the server declares no listChanged.
  t.deepEqual(await connection.request("resources/subscribe", { uri: "file:///a" }), {});
  t.deepEqual(await connection.request("resources/subscribe", { uri: "file:///a" }), {}, "a second subscribe shares the first");
  t.is(listens("file:///a").length, 1);
  const listen = listens("file:///a")[0]!;
  t.is(((listen.params as JsonObject)._meta as JsonObject)["io.modelcontextprotocol/protocolVersion"], "2026-07-28");
  t.deepEqual(await connection.request("resources/unsubscribe", { uri: "file:///a" }), {});
  const cancelled = received.find((message) => message.method === "notifications/cancelled");
  t.is((cancelled?.params as JsonObject | undefined)?.requestId, listen.id);
  t.false(received.some((message) => message.method === "resources/subscribe" || message.method === "resources/unsubscribe"));
});

test("a URI the acknowledgement leaves out is refused with -32602 and its listen cancelled", async (t) => {
  const { connection, received } = await scriptedModern(t, { honour: () => [] });
  const error = await t.throwsAsync(connection.request("resources/subscribe", { uri: "file:///nope" }), { instanceOf: UpstreamRpcError });
  t.is(error?.code, -32602);
  t.regex(error!.message, /does not offer updates of "file:\/\/\/nope"/);
  t.true(await waitFor(() => received.some((message) => message.method === "notifications/cancelled"), 5_000));
});

test("a subscription the server ends gracefully is opened again", async (t) => {
  const { connection, listens, send } = await scriptedModern(t, { honour: (uris) => uris });
  await connection.request("resources/subscribe", { uri: "file:///b" });
  const first = listens("file:///b")[0]!;
  await send({ jsonrpc: "2.0", id: first.id, result: { resultType: "complete", _meta: { "io.modelcontextprotocol/subscriptionId": first.id } } });
  t.true(await waitFor(() => listens("file:///b").length === 2, 10_000), "a new subscriptions/listen for the URI");
});

test("a server that never acknowledges a subscription fails it after the request timeout, and the listen is cancelled", async (t) => {
  const { connection, received } = await scriptedModern(t, { honour: () => undefined, requestMs: 300 });
  const error = await t.throwsAsync(connection.request("resources/subscribe", { uri: "file:///silent" }));
  t.regex(error!.message, /did not acknowledge a subscription to "file:\/\/\/silent"/);
  t.true(await waitFor(() => received.some((message) => message.method === "notifications/cancelled"), 5_000));
});

test("acknowledgements and notifications naming no subscription of ours are ignored", async (t) => {
  const { connection, send } = await scriptedModern(t, { honour: (uris) => uris });
  await send({ jsonrpc: "2.0", method: "notifications/subscriptions/acknowledged", params: { _meta: { "io.modelcontextprotocol/subscriptionId": 999 } } });
  await send({ jsonrpc: "2.0", method: "notifications/subscriptions/acknowledged", params: { notifications: "garbage" } });
  t.deepEqual(await connection.request("resources/subscribe", { uri: "file:///c" }), {});
});
