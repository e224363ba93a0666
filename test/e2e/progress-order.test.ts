import anyTest, { type TestFn } from "ava";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { connectGatewayClient, HTTP_TRANSPORT_KINDS } from "./helpers/mcp-clients.js";
import { startGateway, teamFile, type Gateway } from "./helpers/mcp-gateway.js";

/**
 * The order of a call's messages through the whole running gateway (MCP 2025-11-25 "Progress": progress is only of
 * use before the final response). A real child server (test/fixtures/servers/progress-burst.mjs) sends STEPS
 * progress notifications immediately before its result — in one stdout write, or each in its own write — and a real
 * SDK v1 client calls it CALLS times over Streamable HTTP and over legacy HTTP+SSE. For every call, the messages the
 * client's transport received (recorded before the SDK sees them) are exactly that call's steps in order, then its
 * result, and nothing of it afterwards.
 *
 * Over Streamable HTTP the SDK's `onprogress` must also have seen every step, in order, by the time the call
 * resolves. Over legacy SSE that cannot be asserted of the SDK v1 client whatever the gateway does: it dispatches a
 * notification a microtask after reading it but a response at once, so when a step and the result arrive in one read
 * of the socket the result retires the progress handler first and the step is reported as "unknown" (the SDK's own
 * SSE server loses the same steps; typescript-sdk issue #2580). Its Streamable HTTP transport awaits between events,
 * which is why the same bytes are delivered there. What the gateway owes — the order on the wire — is asserted for both.
 */

const test = anyTest as TestFn<{ gateway: Gateway }>;

const CALLS = 50;
const STEPS = 4;
const ALL_STEPS = Array.from({ length: STEPS }, (_, step) => step + 1).join(",");

test.before(async (t) => {
  t.context = { gateway: await startGateway({ configPath: teamFile("progress-order.yaml"), servers: ["burst"] }) };
});

test.after.always(async (t) => {
  await t.context.gateway?.close();
});

/** A received message as a short word: `p<step>@<token>` for progress, `r@<id>` for a response, else its method. */
function describe(message: JSONRPCMessage): string {
  if ("method" in message) {
    const params = (message.params ?? {}) as { progress?: unknown; progressToken?: unknown };
    return message.method === "notifications/progress" ? `p${String(params.progress)}@${String(params.progressToken)}` : message.method;
  }
  return `r@${String(message.id)}`;
}

for (const kind of HTTP_TRANSPORT_KINDS) {
  for (const together of [true, false]) {
    const writes = together ? "in one write" : "in separate writes";
    const outcome = kind === "streamable" ? "the client's onprogress sees them all, in order, before it" : "they reach the client in order, before it";
    test.serial(`${kind}: ${CALLS} calls whose ${STEPS} progress steps precede the result ${writes}: ${outcome}`, async (t) => {
      const client = await connectGatewayClient(t.context.gateway, kind, { name: `progress-order-${kind}` });
      t.teardown(() => client.close());
      const wrong: string[] = [];
      const sdkWrong: string[] = [];
      let previousEnd = client.received.length;
      for (let call = 0; call < CALLS; call++) {
        const seen: number[] = [];
        const result = await client.client.callTool({ name: "burst-burst", arguments: { steps: STEPS, together } }, undefined, {
          onprogress: (progress) => void seen.push(progress.progress),
        });
        const atResult = [...seen];
        t.deepEqual(result.content, [{ type: "text", text: `burst of ${STEPS}` }]);
        const wire = client.received.slice(previousEnd);
        previousEnd = client.received.length;
        const response = wire.find((message) => !("method" in message));
        const id = response && "id" in response ? String(response.id) : "?";
        const expected = [...Array.from({ length: STEPS }, (_, step) => `p${step + 1}@${id}`), `r@${id}`];
        const got = wire.map(describe);
        if (got.join(" ") !== expected.join(" ")) wrong.push(`call ${call}: ${got.join(" ")}`);
        if (kind === "streamable" && atResult.join(",") !== ALL_STEPS) {
          sdkWrong.push(`call ${call}: onprogress saw [${atResult.join(",")}] by the result`);
        }
      }
      // A step sent after its result would land after the last call's slice: give it a moment, then look.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const late = client.received.slice(previousEnd).map(describe);
      t.deepEqual(late, [], "nothing of any call arrives after its result");
      t.deepEqual(wrong, [], "every call's steps reached the client in order, then its result");
      t.deepEqual(sdkWrong, [], "the SDK's onprogress saw every step before the call resolved");
    });
  }
}
