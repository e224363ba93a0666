import anyTest, { type TestFn } from "ava";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { waitUntil } from "./helpers/daemon-process.js";
import { messagesOf, rawRequest } from "./helpers/mcp-raw-http.js";
import { startGateway, teamFile, type Gateway } from "./helpers/mcp-gateway.js";

/**
 * Multi round-trip requests towards a modern client (docs/protocol.md "MRTR across eras"): the SDK v2 client pinned to
 * 2026-07-28 over Streamable HTTP calls legacy servers (server-everything and modern-mrtr-legacy-server.mjs) that ask
 * their client for elicitation, sampling and roots during the call. The gateway holds each upstream call, answers the
 * client with an InputRequiredResult, and the client's SDK fulfils it with its own handlers and retries: the
 * application sees one ordinary call.
 */

interface Context {
  gateway: Gateway;
}

const test = anyTest as TestFn<Context>;

type Json = Record<string, any>;

test.before(async (t) => {
  t.context = { gateway: await startGateway({ configPath: teamFile("mrtr-eras.yaml"), servers: ["modern", "legacy", "everything"] }) };
});

// Serial: the legacy server's requests carry nothing that names the call they belong to (over stdio the gateway infers
// it, upstream-router.ts `chooseCall`), so two tests asking on the same server at once could trade questions.
test.after.always(async (t) => {
  await t.context.gateway?.close();
});

async function modernClient(t: { context: Context; teardown(fn: () => unknown): void }, seen: string[]): Promise<Client> {
  const client = new Client(
    { name: "mrtr-modern", version: "2.0.0" },
    { capabilities: { elicitation: {}, sampling: {}, roots: {} }, versionNegotiation: { mode: { pin: "2026-07-28" } } },
  );
  client.setRequestHandler("elicitation/create", async (request: Json) => {
    seen.push(`elicit ${request.params.message}`);
    return { action: "accept", content: { name: "Barbara", check: true, email: "b@example.com", number: 3 } };
  });
  client.setRequestHandler("sampling/createMessage", async (request: Json) => {
    const asked = request.params.messages[0].content.text;
    seen.push(`sample ${asked}`);
    return { role: "assistant", model: "e2e", content: { type: "text", text: `re: ${asked}` } };
  });
  client.setRequestHandler("roots/list", async () => {
    seen.push("roots");
    return { roots: [{ uri: "file:///home/barbara/src", name: "src" }] };
  });
  await client.connect(new StreamableHTTPClientTransport(new URL(t.context.gateway.mcpUrl)));
  t.teardown(() => client.close());
  return client;
}

const text = (result: Json): string => result.content.map((c: Json) => c.text).join("\n");

test.serial("a modern client answers a legacy server's elicitation, sampling and roots through InputRequiredResult rounds", async (t) => {
  const seen: string[] = [];
  const client = await modernClient(t, seen);
  t.is(text(await client.callTool({ name: "legacy-ask_name", arguments: {} })), "hello Barbara");
  t.is(text(await client.callTool({ name: "legacy-ask_sample", arguments: { q: "why?" } })), "sampled: re: why?");
  t.is(text(await client.callTool({ name: "legacy-ask_roots", arguments: {} })), "file:///home/barbara/src");
  t.is(text(await client.callTool({ name: "legacy-ask_twice", arguments: {} })), "Barbara / re: greet Barbara");
  t.deepEqual(seen.splice(0), ["elicit What is your name?", "sample why?", "roots", "elicit Name for step one?", "sample greet Barbara"]);
  const elicited = await client.callTool({ name: "everything-trigger-elicitation-request", arguments: {} });
  t.regex(text(elicited), /Barbara/);
  const sampled = await client.callTool({ name: "everything-trigger-sampling-request", arguments: { prompt: "hello", maxTokens: 20 } });
  t.regex(text(sampled), /"text": "re: [^"]*hello"/);
  // server-everything also asks for roots on its own schedule; one such request that lands during one of these calls
  // is answered by this client (the gateway asks the caller), so it may or may not be in `seen`.
  t.deepEqual(seen.filter((entry) => entry !== "roots").map((entry) => entry.split(" ")[0]), ["elicit", "sample"]);
});

test.serial("a modern client and a modern server: the server's own InputRequiredResult rounds pass through", async (t) => {
  const seen: string[] = [];
  const client = await modernClient(t, seen);
  t.is(text(await client.callTool({ name: "modern-two_step", arguments: {} })), "Barbara / re: greet Barbara");
  t.deepEqual(seen, ["elicit Name for step one?", "sample greet Barbara"]);
});

/** One modern request over raw HTTP. */
async function modernPost(gateway: Gateway, id: number, method: string, params: Json): Promise<Json> {
  const meta = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": { elicitation: {} },
    "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" },
  };
  const response = await rawRequest({
    method: "POST",
    url: gateway.mcpUrl,
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": method,
      ...(typeof params.name === "string" ? { "mcp-name": params.name } : {}),
    },
    body: JSON.stringify({ jsonrpc: "2.0", id, method, params: { ...params, _meta: meta } }),
    readTimeoutMs: 30_000,
  });
  const messages = messagesOf(response) as Json[];
  return messages.find((message) => message.id === id)!;
}

test.serial("a tampered, replayed or foreign requestState is refused with -32602", async (t) => {
  const { gateway } = t.context;
  const first = await modernPost(gateway, 1, "tools/call", { name: "legacy-ask_name", arguments: {} });
  t.is(first.result.resultType, "input_required");
  const [key] = Object.keys(first.result.inputRequests);
  const state: string = first.result.requestState;
  const answer = { [key!]: { action: "accept", content: { name: "Raw" } } };
  const tampered = await modernPost(gateway, 2, "tools/call", { name: "legacy-ask_name", arguments: {}, inputResponses: answer, requestState: `${state.slice(0, -2)}AA` });
  t.is(tampered.error.code, -32602);
  t.regex(tampered.error.message, /requestState refused: integrity check failed/);
  const foreign = await modernPost(gateway, 3, "tools/call", { name: "legacy-ask_name", arguments: {}, inputResponses: answer, requestState: "made-up" });
  t.is(foreign.error.code, -32602);
  const done = await modernPost(gateway, 4, "tools/call", { name: "legacy-ask_name", arguments: {}, inputResponses: answer, requestState: state });
  t.is(done.result.content[0].text, "hello Raw");
  const replayed = await modernPost(gateway, 5, "tools/call", { name: "legacy-ask_name", arguments: {}, inputResponses: answer, requestState: state });
  t.is(replayed.error.code, -32602);
  t.regex(replayed.error.message, /requestState refused/);
});

test.serial("a modern client's progress and cancellation reach the held upstream call across rounds", async (t) => {
  const { gateway } = t.context;
  const seen: string[] = [];
  const client = await modernClient(t, seen);
  const progress: Json[] = [];
  const done = await client.callTool({ name: "legacy-progress_ask", arguments: {} }, { onprogress: (p: Json) => void progress.push(p) });
  t.is(text(done), "progressed Barbara");
  // The SDK reports its own rounds as progress with a message; the server's steps carry a total.
  t.deepEqual(progress.filter((p) => p.total === 2).map((p) => p.progress), [1, 2]);
  const cancellations = async (): Promise<number> => (await gateway.serverLog("legacy")).split("ask_then_wait: cancelled").length - 1;
  const before = await cancellations();
  const controller = new AbortController();
  const outcome = client.callTool({ name: "legacy-ask_then_wait", arguments: { ms: 120_000 } }, { signal: controller.signal }).then(
    () => "resolved",
    (error: unknown) => `rejected: ${String(error)}`,
  );
  t.true(await waitUntil(async () => seen.includes("elicit Name before the wait?"), 30_000), "the client was asked");
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  controller.abort("test cancels");
  t.regex(await outcome, /^rejected/);
  t.true(await waitUntil(async () => (await cancellations()) > before, 30_000), "the legacy server's call was cancelled");
});
