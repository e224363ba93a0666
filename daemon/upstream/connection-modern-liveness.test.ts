import test from "ava";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { createManualClock } from "../supervisor/clock.js";
import { createUpstreamConnection, type UpstreamTimeouts } from "./connection.js";
import type { JsonObject } from "./types.js";

/**
 * The liveness check of a modern server, driven by a manual clock: modern servers have no
 * `ping`, so a quiet server with requests waiting is probed with `server/discover`; an open
 * `subscriptions/listen` (which may rightly wait for hours) never makes a server look quiet.
 * The far end is a scripted modern server on a linked in-memory pair.
 */

const TIMEOUTS: UpstreamTimeouts = { toolCallMs: 300_000, requestMs: 60_000, quietMs: 30_000, pingMs: 10_000 };

const DISCOVER_RESULT = {
  resultType: "complete",
  supportedVersions: ["2026-07-28"],
  capabilities: { tools: { listChanged: true } },
  _meta: { "io.modelcontextprotocol/serverInfo": { name: "scripted-modern", version: "1" } },
};

async function modernServer(t: import("ava").ExecutionContext, options: { answersProbes: boolean }) {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const received: JsonObject[] = [];
  let opened = false;
  serverSide.onmessage = (message) => {
    const request = message as JsonObject;
    received.push(request);
    if (request.method === "server/discover" && (!opened || options.answersProbes)) {
      opened = true;
      void serverSide.send({ jsonrpc: "2.0", id: request.id as number, result: DISCOVER_RESULT } as never);
    }
    if (request.method === "subscriptions/listen") {
      const params = request.params as JsonObject;
      void serverSide.send({
        jsonrpc: "2.0",
        method: "notifications/subscriptions/acknowledged",
        params: { notifications: params.notifications, _meta: { "io.modelcontextprotocol/subscriptionId": request.id } },
      } as never);
    }
  };
  await serverSide.start();
  const clock = createManualClock();
  const unresponsive: string[] = [];
  const connection = await createUpstreamConnection({ serverName: "m", transport: clientSide, era: "auto", clock, timeouts: TIMEOUTS, onUnresponsive: (reason) => unresponsive.push(reason) });
  t.teardown(() => connection.close());
  return { connection, clock, received, unresponsive };
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const methods = (received: JsonObject[]): string[] => received.map((message) => String(message.method));

test("an open subscription alone never triggers the liveness probe", async (t) => {
  const { connection, clock, received, unresponsive } = await modernServer(t, { answersProbes: false });
  t.is(connection.identity.era, "modern");
  await settle();
  t.deepEqual(methods(received), ["server/discover", "subscriptions/listen"], "the list-changes subscription is open");
  clock.advance(10 * TIMEOUTS.quietMs);
  await settle();
  t.deepEqual(methods(received), ["server/discover", "subscriptions/listen"]);
  t.deepEqual(unresponsive, []);
});

test("a quiet modern server with a call waiting is probed with server/discover (stamped with _meta), not ping", async (t) => {
  const { connection, clock, received, unresponsive } = await modernServer(t, { answersProbes: true });
  await settle();
  void connection.request("tools/call", { name: "long", arguments: {} }).catch(() => undefined);
  await settle();
  clock.advance(TIMEOUTS.quietMs);
  await settle();
  const probe = received.at(-1)!;
  t.is(probe.method, "server/discover");
  t.false(methods(received).includes("ping"));
  t.is(((probe.params as JsonObject)._meta as JsonObject)["io.modelcontextprotocol/protocolVersion"], "2026-07-28");
  clock.advance(TIMEOUTS.pingMs);
  await settle();
  t.deepEqual(unresponsive, [], "it answered the probe: alive");
});

test("a modern server that does not answer the probe is declared unresponsive", async (t) => {
  const { connection, clock, unresponsive } = await modernServer(t, { answersProbes: false });
  await settle();
  const call = connection.request("tools/call", { name: "long", arguments: {} });
  const outcome = call.then(
    () => "resolved",
    (error: Error) => error.message,
  );
  await settle();
  clock.advance(TIMEOUTS.quietMs);
  await settle();
  clock.advance(TIMEOUTS.pingMs);
  await settle();
  t.deepEqual(unresponsive, ["no answer to a server/discover probe within 10s"]);
  t.regex(await outcome, /stopped responding/);
});

test("a slow modern server whose DiscoverResult comes after the probe bound is still modern, not initialized", async (t) => {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const received: JsonObject[] = [];
  let discoverId: number | undefined;
  serverSide.onmessage = (message) => {
    const request = message as JsonObject;
    received.push(request);
    if (request.method === "server/discover" && discoverId === undefined) discoverId = request.id as number;
  };
  await serverSide.start();
  const clock = createManualClock();
  const opening = createUpstreamConnection({ serverName: "slow", transport: clientSide, era: "auto", clock, probeTimeoutMs: 5_000 });
  await settle();
  clock.advance(5_000);
  await settle();
  t.deepEqual(methods(received), ["server/discover", "initialize"], "past the bound, initialize follows on the same process");
  // The slow starter now reads its input in order: the probe first, then initialize (which a modern-only server refuses).
  await serverSide.send({ jsonrpc: "2.0", id: discoverId!, result: DISCOVER_RESULT } as never);
  const initializeId = received[1]!.id as number;
  await serverSide.send({
    jsonrpc: "2.0",
    id: initializeId,
    error: { code: -32022, message: "Unsupported protocol version", data: { supported: ["2026-07-28"], requested: "2025-11-25" } },
  } as never);
  const connection = await opening;
  t.teardown(() => connection.close());
  t.is(connection.identity.era, "modern");
  t.is(connection.identity.serverInfo.name, "scripted-modern");
  t.false(methods(received).includes("notifications/initialized"));
});
