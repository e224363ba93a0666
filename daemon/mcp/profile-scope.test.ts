import test, { type ExecutionContext } from "ava";
import { silentLogger } from "../../shared/logger.js";
import { GatewayError } from "../errors.js";
import type { ProfileConfig } from "../config/types.js";
import { createMcpEngine } from "./engine.js";
import { createMemorySupervisor } from "./testing/memory-supervisor.js";
import { RawSession } from "./testing/session-harness.js";
import { createProbe, createTestServer } from "./testing/test-server.js";

/**
 * Profile confinement in the engine (issue 14.2/14.3), on real SDK servers linked in memory: what the end-to-end
 * tests cannot easily reach — log messages, prompts, completions and subscriptions of other servers, a profile removed
 * under an open session, and cancellation of a call made through `call_tool`.
 */

type Json = Record<string, any>;

const PROFILES: readonly ProfileConfig[] = [
  { name: "b", servers: ["beta"], tools: "all" },
  { name: "find", tools: "search" },
];

async function setup(t: ExecutionContext) {
  const probes = { alpha: createProbe(), beta: createProbe() };
  const supervisor = createMemorySupervisor([
    { name: "alpha", create: () => createTestServer("alpha", probes.alpha) },
    { name: "beta", create: () => createTestServer("beta", probes.beta) },
  ]);
  await supervisor.start();
  const engine = createMcpEngine({ supervisor, logger: silentLogger, version: "1", acquireTimeoutMs: 2_000, listChangedDebounceMs: 0 });
  engine.setProfiles(PROFILES);
  t.teardown(async () => {
    engine.close();
    await supervisor.shutdown();
  });
  return { engine, probes, supervisor };
}

async function open(engine: ReturnType<typeof createMcpEngine>, profile?: string): Promise<RawSession> {
  const session = new RawSession(engine, profile);
  await session.initialize(1, {});
  return session;
}

const isMethod = (method: string) => (frame: { message: unknown }) => (frame.message as Json | undefined)?.method === method;

test("an unknown profile opens no session", async (t) => {
  const { engine } = await setup(t);
  const error = t.throws(() => engine.openSession({ profile: "bb", onFrame: () => undefined }), { instanceOf: GatewayError });
  t.is((error as GatewayError).kind, "not_found");
  t.regex(error!.message, /unknown profile "bb" \(the team's profiles: b, find\); did you mean "b"\?/);
  t.is(engine.sessionCount(), 0);
});

test("log messages, prompts, completions and subscriptions stay within the profile's servers", async (t) => {
  const { engine, supervisor } = await setup(t);
  const bare = await open(engine);
  const onlyBeta = await open(engine, "b");
  await supervisor.server("alpha")!.server.sendLoggingMessage({ level: "warning", data: "from alpha" });
  await supervisor.server("beta")!.server.sendLoggingMessage({ level: "warning", data: "from beta" });
  await bare.until(() => bare.messages(0).filter(isMethod("notifications/message")).length === 2);
  await onlyBeta.until(() => onlyBeta.messages(0).some(isMethod("notifications/message")));
  t.deepEqual(onlyBeta.messages(0).filter(isMethod("notifications/message")).map((f) => (f.message as Json).params.data), ["from beta"]);

  const prompts = ((await onlyBeta.request(3, 1, "prompts/list")).result as Json).prompts as Json[];
  t.deepEqual(prompts.map((p) => p.name), ["beta-greet"]);
  const prompt = (await onlyBeta.request(4, 2, "prompts/get", { name: "alpha-greet", arguments: { name: "x" } })).error as Json;
  t.deepEqual(prompt, { code: -32602, message: 'unknown prompt "alpha-greet"' });
  const completion = (await onlyBeta.request(5, 3, "completion/complete", { ref: { type: "ref/prompt", name: "alpha-greet" }, argument: { name: "name", value: "al" } })).error as Json;
  t.is(completion.message, 'unknown prompt "alpha-greet"');
  const ok = (await onlyBeta.request(6, 4, "completion/complete", { ref: { type: "ref/prompt", name: "beta-greet" }, argument: { name: "name", value: "al" } })).result as Json;
  t.deepEqual(ok.completion.values, ["alice", "albert"]);
  const subscribe = (await onlyBeta.request(7, 5, "resources/subscribe", { uri: "mem://alpha/readme" })).error as Json;
  t.is(subscribe.code, -32002);
  t.deepEqual(((await onlyBeta.request(8, 6, "resources/list")).result as Json).resources.map((r: Json) => r.uri), ["mem://beta/readme"]);
});

test("a profile removed from the team ends its sessions; a changed one tells only its own sessions", async (t) => {
  const { engine } = await setup(t);
  const onlyBeta = await open(engine, "b");
  const searching = await open(engine, "find");
  const bare = await open(engine);
  engine.setProfiles([{ name: "b", servers: ["beta"], exclude: ["beta-slow"], tools: "all" }]);
  await onlyBeta.until(() => onlyBeta.messages(0).some(isMethod("notifications/tools/list_changed")));
  t.false(((await onlyBeta.request(3, 1, "tools/list")).result as Json).tools.some((tool: Json) => tool.name === "beta-slow"));
  await searching.until(() => searching.frames.some((frame) => frame.kind === "ended"));
  t.like(searching.frames.find((frame) => frame.kind === "ended"), { reason: 'profile "find" no longer exists in the team' });
  t.true(searching.session.closed);
  // Give a stray notification time: the bare session's lists did not change.
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.false(bare.messages(0).some(isMethod("notifications/tools/list_changed")));
});

test("call_tool: the inner call's progress reaches the caller and cancelling the outer request cancels it upstream", async (t) => {
  const { engine, probes } = await setup(t);
  const session = await open(engine, "find");
  const tools = ((await session.request(3, 1, "tools/list")).result as Json).tools as Json[];
  t.deepEqual(tools.map((tool) => tool.name), ["find_tools", "call_tool"]);
  session.send(4, {
    jsonrpc: "2.0",
    id: 2,
    method: "tools/call",
    params: { name: "call_tool", arguments: { name: "alpha-gated", arguments: {} }, _meta: { progressToken: "p-1" } },
  });
  await session.until(() => probes.alpha.gates.length === 1);
  await session.until(() => session.messages(4).some(isMethod("notifications/progress")));
  t.is((session.messages(4).find(isMethod("notifications/progress"))!.message as Json).params.progressToken, "p-1");
  probes.alpha.gates[0]!();
  const done = await session.exchange(4);
  t.is((done.at(-1)!.message as Json).result.content[0].text, "alpha:gated");

  session.send(5, { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "call_tool", arguments: { name: "alpha-slow", arguments: { ms: 60_000 } } } });
  await session.until(() => probes.alpha.running === 1);
  session.send(6, { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 3 } });
  await session.until(() => probes.alpha.cancelled.length === 1);
  t.pass();
});
