import test, { type ExecutionContext } from "ava";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema, type ClientCapabilities } from "@modelcontextprotocol/sdk/types.js";
import { silentLogger } from "../../shared/logger.js";
import { createSupervisor } from "../supervisor/supervisor.js";
import { nodeFixture } from "../supervisor/test-support.js";
import { createMcpEngine } from "./engine.js";
import { SessionClientTransport } from "./testing/session-harness.js";

/**
 * A modern server's multi round-trip requests for callers that cannot retry (mrtr-legacy-caller.ts): a real modern
 * server process (modern-mrtr-server.mjs, SDK v2) behind the engine over the real supervisor, a legacy SDK v1 client
 * on an engine session answering elicitation, sampling and roots. The client sees one ordinary call.
 */

type Json = Record<string, any>;

const ROOTS = [{ uri: "file:///srv/configured", name: "configured" }];

async function setup(t: ExecutionContext) {
  const supervisor = createSupervisor({
    servers: [nodeFixture("m", "modern-mrtr-server.mjs", { roots: ROOTS })],
    logger: silentLogger,
  });
  const engine = createMcpEngine({ supervisor, logger: silentLogger, version: "0.0.0-test", acquireTimeoutMs: 60_000 });
  t.teardown(async () => {
    engine.close();
    await supervisor.shutdown();
  });
  await supervisor.start();
  t.is((await supervisor.acquire("m", { timeoutMs: 60_000 })).identity.era, "modern");
  const seen: string[] = [];
  const connect = async (capabilities: ClientCapabilities) => {
    const client = new Client({ name: "legacy-ide", version: "1" }, { capabilities });
    if (capabilities.elicitation) {
      client.setRequestHandler(ElicitRequestSchema, async (request) => {
        seen.push(`elicit ${request.params.message}`);
        return { action: "accept", content: { name: "Ada" } };
      });
    }
    if (capabilities.sampling) {
      client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
        const asked = (request.params.messages[0]!.content as { text: string }).text;
        seen.push(`sample ${asked}`);
        return { role: "assistant", model: "test-model", content: { type: "text", text: `an answer to ${asked}` } };
      });
    }
    if (capabilities.roots) {
      client.setRequestHandler(ListRootsRequestSchema, async () => {
        seen.push("roots");
        return { roots: [{ uri: "file:///home/ada/project", name: "project" }] };
      });
    }
    await client.connect(new SessionClientTransport(engine));
    t.teardown(() => client.close());
    return client;
  };
  return { engine, connect, seen };
}

const text = (result: Json): string => result.content[0].text;
const ALL: ClientCapabilities = { elicitation: {}, sampling: {}, roots: {} };

test("elicitation, sampling and roots asked by a modern server reach a legacy client as requests; it gets one result", async (t) => {
  const { connect, seen } = await setup(t);
  const client = await connect(ALL);
  t.is(text(await client.callTool({ name: "m-confirm", arguments: {} })), "hello Ada");
  t.is(text(await client.callTool({ name: "m-sample", arguments: { q: "capital of France?" } })), "sampled: an answer to capital of France?");
  t.is(text(await client.callTool({ name: "m-roots", arguments: {} })), "file:///home/ada/project");
  t.deepEqual(seen, ["elicit What is your name?", "sample capital of France?", "roots"]);
});

test("rounds loop with the server's requestState echoed, several requests in one round, and prompts", async (t) => {
  const { connect, seen } = await setup(t);
  const client = await connect(ALL);
  t.is(text(await client.callTool({ name: "m-two_step", arguments: {} })), "Ada / an answer to greet Ada");
  t.deepEqual(seen.splice(0), ["elicit Name for step one?", "sample greet Ada"]);
  t.is(text(await client.callTool({ name: "m-both", arguments: {} })), "Ada + an answer to a word");
  t.deepEqual(seen.splice(0).sort(), ["elicit Name?", "sample a word"]);
  t.is(text(await client.callTool({ name: "m-state_only", arguments: {} })), "served after a retry");
  t.deepEqual(seen, [], "a requestState-only round asks the client nothing");
  const prompt = await client.getPrompt({ name: "m-ask_prompt", arguments: {} });
  t.is((prompt.messages[0]!.content as { text: string }).text, "Prompt for Ada");
});

test("progress keeps reaching the legacy client across rounds", async (t) => {
  const { connect } = await setup(t);
  const client = await connect(ALL);
  const steps: number[] = [];
  const result = await client.callTool({ name: "m-progress_ask", arguments: {} }, undefined, { onprogress: (p) => void steps.push(p.progress) });
  t.is(text(result), "progressed Ada");
  t.deepEqual(steps, [1, 2]);
});

test("a client without the capability gets a clear error; roots fall back to the server's configured roots", async (t) => {
  const { connect, seen } = await setup(t);
  const client = await connect({});
  const error = await t.throwsAsync(client.callTool({ name: "m-confirm", arguments: {} }));
  t.regex(error!.message, /server "m" needs elicitation\/create from the client to finish this request, but the client did not declare the elicitation capability/);
  const sampling = await t.throwsAsync(client.callTool({ name: "m-sample", arguments: { q: "x" } }));
  t.regex(sampling!.message, /did not declare the sampling capability/);
  t.is(text(await client.callTool({ name: "m-roots", arguments: {} })), "file:///srv/configured");
  t.deepEqual(seen, []);
});

test("a server that keeps asking is given up after the round bound, with a clear error", async (t) => {
  const { connect, seen } = await setup(t);
  const client = await connect(ALL);
  const error = await t.throwsAsync(client.callTool({ name: "m-insist", arguments: {} }));
  t.regex(error!.message, /server "m" still asked for input after 10 rounds of tools\/call/);
  t.is(seen.length, 10);
});

test("a typed RPC caller (no client to ask) gets the clear error", async (t) => {
  const { engine } = await setup(t);
  const error = await t.throwsAsync(engine.callTool("m-confirm", {}));
  t.regex(error!.message, /did not declare the elicitation capability/);
  t.is(text(await engine.callTool("m-roots", {})), "file:///srv/configured");
});
