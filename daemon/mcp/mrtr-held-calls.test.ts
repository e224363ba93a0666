import test, { type ExecutionContext } from "ava";
import { silentLogger } from "../../shared/logger.js";
import { GatewayError } from "../errors.js";
import { createSupervisor } from "../supervisor/supervisor.js";
import { nodeFixture } from "../supervisor/test-support.js";
import { parsedResult } from "../upstream/raw-json.js";
import type { JsonObject } from "../upstream/types.js";
import { createHeldCalls } from "./mrtr-held-calls.js";
import { createHeldCallStateCodec, GATEWAY_STATE_PREFIX } from "./mrtr-state.js";
import { createManualClock } from "./testing/manual-clock.js";
import { createUpstreamRouter, type Caller } from "./upstream-router.js";

/**
 * Held calls (mrtr-held-calls.ts): a legacy server (modern-mrtr-legacy-server.mjs, a real SDK v1 process) asks its
 * client during a modern caller's call; the caller gets an `InputRequiredResult`, retries with `inputResponses` and
 * the gateway's `requestState`, and the same upstream call goes on. A modern server beside it (modern-mrtr-server.mjs)
 * shows the modern-to-modern pass-through. The router is driven as the modern request path drives it.
 */

type Json = Record<string, any>;

async function setup(t: ExecutionContext, options: { maxHeld?: number; ttlMs?: number } = {}) {
  const supervisor = createSupervisor({
    servers: [nodeFixture("legacy", "modern-mrtr-legacy-server.mjs"), nodeFixture("modern", "modern-mrtr-server.mjs")],
    logger: silentLogger,
  });
  const clock = createManualClock();
  const heldCalls = createHeldCalls({ clock, ...options });
  const router = createUpstreamRouter({
    supervisor,
    logger: silentLogger,
    acquireTimeoutMs: 60_000,
    heldCalls,
    hooks: { onLog() {}, onResourceUpdated() {}, configuredRoots: () => [], onConnection() {} },
  });
  t.teardown(async () => {
    router.close();
    await supervisor.shutdown();
  });
  await supervisor.start();
  const stderr = (name: string): string => supervisor.log(name).tail().map((entry) => entry.text).join("\n");
  const progress: Json[] = [];
  const caller: Caller = {
    capabilities: { elicitation: {}, sampling: {}, roots: {} },
    suspendsForInput: true,
    forwardsResults: true,
    onProgress: (params) => void progress.push(params),
  };
  const call = async (server: string, name: string, extra: JsonObject = {}, signal = new AbortController().signal, who: Caller = caller): Promise<Json> =>
    parsedResult(await router.forward(server, "tools/call", { name, arguments: {}, ...extra }, who, signal)) as Json;
  return { router, heldCalls, clock, call, stderr, progress, caller, supervisor };
}

const text = (result: Json): string => result.content[0].text;
const accept = { action: "accept", content: { name: "Grace" } };
const sampled = { role: "assistant", model: "m", content: { type: "text", text: "a sample" } };

/** A modern retry of `first`: the same request with `responses` for its keys in order and its requestState. */
function retry(first: Json, ...responses: Json[]): JsonObject {
  const keys = Object.keys(first.inputRequests);
  return { inputResponses: Object.fromEntries(keys.map((key, index) => [key, responses[index]!])), requestState: first.requestState };
}

test("a legacy server's elicitation becomes an InputRequiredResult; the retry answers it and the same call finishes", async (t) => {
  const { call, heldCalls } = await setup(t);
  const first = await call("legacy", "ask_name");
  t.is(first.resultType, "input_required");
  const entries = Object.values(first.inputRequests) as Json[];
  t.is(entries.length, 1);
  t.is(entries[0]!.method, "elicitation/create");
  t.is(entries[0]!.params.message, "What is your name?");
  t.true(first.requestState.startsWith(GATEWAY_STATE_PREFIX));
  t.is(heldCalls.size(), 1);
  const done = await call("legacy", "ask_name", retry(first, accept));
  t.is(text(done), "hello Grace");
  t.is(heldCalls.size(), 0);
});

test("sampling and roots, a second question in a later round, and two questions in one round", async (t) => {
  const { call } = await setup(t);
  const s1 = await call("legacy", "ask_sample", { arguments: { q: "why?" } });
  t.is((Object.values(s1.inputRequests)[0] as Json).method, "sampling/createMessage");
  t.is(text(await call("legacy", "ask_sample", { arguments: { q: "why?" }, ...retry(s1, sampled) })), "sampled: a sample");
  const r1 = await call("legacy", "ask_roots");
  t.deepEqual(Object.values(r1.inputRequests).map((entry) => (entry as Json).method), ["roots/list"]);
  t.is(text(await call("legacy", "ask_roots", retry(r1, { roots: [{ uri: "file:///work" }] }))), "file:///work");
  const a1 = await call("legacy", "ask_twice");
  const a2 = await call("legacy", "ask_twice", retry(a1, accept));
  t.is(a2.resultType, "input_required", "the server's next question is another InputRequiredResult");
  t.is((Object.values(a2.inputRequests)[0] as Json).method, "sampling/createMessage");
  t.not(a2.requestState, a1.requestState);
  t.is(text(await call("legacy", "ask_twice", retry(a2, sampled))), "Grace / a sample");
  // Two requests the server sends together come in one round when they arrive together, else in two.
  let round = await call("legacy", "ask_together");
  const asked: string[] = [];
  for (let rounds = 0; round.resultType === "input_required" && rounds < 2; rounds++) {
    const entries = Object.values(round.inputRequests) as Json[];
    asked.push(...entries.map((entry) => entry.method));
    round = await call("legacy", "ask_together", retry(round, ...entries.map((entry) => (entry.method === "elicitation/create" ? accept : sampled))));
  }
  t.deepEqual(asked.sort(), ["elicitation/create", "sampling/createMessage"]);
  t.is(text(round), "Grace + a sample");
});

test("a retry that leaves a question unanswered is asked it again", async (t) => {
  const { call } = await setup(t);
  const first = await call("legacy", "ask_name");
  const again = await call("legacy", "ask_name", { inputResponses: {}, requestState: first.requestState });
  t.is(again.resultType, "input_required");
  t.deepEqual(Object.keys(again.inputRequests), Object.keys(first.inputRequests));
  t.is(text(await call("legacy", "ask_name", retry(again, accept))), "hello Grace");
});

test("requestState: tampered, replayed, foreign, for another method or server, and stale states are refused with -32602", async (t) => {
  const { call, router, caller } = await setup(t);
  const first = await call("legacy", "ask_name");
  const state: string = first.requestState;
  const refused = async (params: JsonObject, server = "legacy", method = "tools/call"): Promise<string> => {
    const error = await t.throwsAsync(router.forward(server, method, { name: "ask_name", arguments: {}, ...params }, caller, new AbortController().signal));
    t.true(error instanceof GatewayError && error.kind === "invalid_argument", String(error));
    return error!.message;
  };
  const [prefix, payload, mac] = [GATEWAY_STATE_PREFIX, ...state.slice(GATEWAY_STATE_PREFIX.length).split(".")];
  const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, "base64url").toString()), expires: Date.now() * 2 })).toString("base64url");
  t.regex(await refused({ requestState: `${prefix}${forged}.${mac}`, inputResponses: {} }), /integrity check failed/);
  t.regex(await refused({ requestState: `${state}x`, inputResponses: {} }), /integrity check failed/);
  t.regex(await refused({ requestState: "opaque-from-somewhere", inputResponses: {} }), /not issued by this gateway/);
  const other = createHeldCallStateCodec().mint({ call: "x", nonce: "y", keys: [], method: "tools/call", expires: Date.now() * 2 });
  t.regex(await refused({ requestState: other, inputResponses: {} }), /integrity check failed/, "a state of another daemon's key");
  t.regex(await refused(retry(first, accept), "legacy", "prompts/get"), /belongs to another request/);
  t.regex(await refused(retry(first, accept), "modern"), /belongs to another request/);
  t.is(text(await call("legacy", "ask_name", retry(first, accept))), "hello Grace");
  t.regex(await refused(retry(first, accept)), /no such call is held|already used/, "single use");
  t.regex(await refused({ requestState: "x".repeat(5000) }), /not issued by this gateway/);
});

test("a held call that is not retried in time is cancelled upstream and its state refused", async (t) => {
  const { call, clock, heldCalls, router, caller, stderr } = await setup(t, { ttlMs: 60_000 });
  const first = await call("legacy", "ask_name");
  t.is(heldCalls.size(), 1);
  clock.advance(60_001);
  t.is(heldCalls.size(), 0);
  const error = await t.throwsAsync(router.forward("legacy", "tools/call", { name: "ask_name", ...retry(first, accept) }, caller, new AbortController().signal));
  t.regex(error!.message, /requestState refused: (expired|no such call is held)/);
  await waitFor(() => stderr("legacy").includes("ask_name: ask cancelled"), "the server's request cancelled");
  t.pass();
});

test("held calls are bounded: the longest idle one is cancelled upstream to make room", async (t) => {
  const { call, heldCalls, stderr } = await setup(t, { maxHeld: 2 });
  const a = await call("legacy", "ask_then_wait", { arguments: { ms: 1 } });
  const b = await call("legacy", "ask_sample", { arguments: { q: "b" } });
  t.is(heldCalls.size(), 2);
  const c = await call("legacy", "ask_roots");
  t.is(heldCalls.size(), 2);
  await waitFor(() => stderr("legacy").includes("ask_then_wait: ask cancelled"), "the evicted call's request cancelled");
  const evicted = await t.throwsAsync(call("legacy", "ask_then_wait", { arguments: { ms: 1 }, ...retry(a, accept) }));
  t.regex(evicted!.message, /no such call is held/);
  t.is(text(await call("legacy", "ask_sample", { arguments: { q: "b" }, ...retry(b, sampled) })), "sampled: a sample");
  t.is(text(await call("legacy", "ask_roots", retry(c, { roots: [] }))), "");
});

test("progress reaches whichever request waits, under its own token; cancelling the retry cancels the upstream call", async (t) => {
  const { call, progress, stderr, heldCalls } = await setup(t);
  const first = await call("legacy", "progress_ask", { _meta: { progressToken: "first" } });
  t.deepEqual(progress.splice(0).map((p) => [p.progressToken, p.progress]), [["first", 1]]);
  t.is(text(await call("legacy", "progress_ask", { _meta: { progressToken: "second" }, ...retry(first, accept) })), "progressed Grace");
  t.deepEqual(progress.map((p) => [p.progressToken, p.progress]), [["second", 2]]);
  const waiting = await call("legacy", "ask_then_wait", { arguments: { ms: 600_000 } });
  const abort = new AbortController();
  const pending = call("legacy", "ask_then_wait", { arguments: { ms: 600_000 }, ...retry(waiting, accept) }, abort.signal);
  await waitFor(() => heldCalls.size() === 1, "the retry attached");
  await new Promise((resolve) => setTimeout(resolve, 100));
  abort.abort();
  const error = await t.throwsAsync(pending);
  t.true(error instanceof GatewayError && error.kind === "cancelled");
  await waitFor(() => stderr("legacy").includes("ask_then_wait: cancelled"), "the upstream call cancelled");
  t.is(heldCalls.size(), 0);
});

test("a modern caller without the capability is refused as today; a modern server's InputRequiredResult passes through verbatim", async (t) => {
  const { call } = await setup(t);
  const bare: Caller = { capabilities: {}, suspendsForInput: true };
  // The server gets the router's refusal (-32601) and reports it in its tool result.
  const refused = await call("legacy", "ask_sample", { arguments: { q: "x" } }, new AbortController().signal, bare);
  t.true(refused.isError);
  t.regex(text(refused), /no client can answer sampling\/createMessage for server "legacy"/);
  const first = await call("modern", "two_step");
  t.is(first.resultType, "input_required");
  t.is(first.requestState, "step1", "the server's own requestState, untouched");
  t.deepEqual(Object.keys(first.inputRequests), ["who"], "the server's own keys");
  const second = await call("modern", "two_step", { inputResponses: { who: accept }, requestState: first.requestState });
  t.is(second.requestState, "step2:Grace");
  t.is(text(await call("modern", "two_step", { inputResponses: { llm: sampled }, requestState: second.requestState })), "Grace / a sample");
});

async function waitFor(predicate: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test("a legacy server flooding its client gets at most 16 questions waiting at once; the rest are refused to it", async (t) => {
  const { call } = await setup(t);
  let round = await call("legacy", "ask_flood", { arguments: { n: 40 } });
  let asked = 0;
  for (let rounds = 0; round.resultType === "input_required" && rounds < 40; rounds++) {
    const keys = Object.keys(round.inputRequests);
    t.true(keys.length <= 16, `${keys.length} in one round`);
    asked += keys.length;
    round = await call("legacy", "ask_flood", { arguments: { n: 40 }, ...retry(round, ...keys.map(() => accept)) });
  }
  t.is(text(round), `accepted ${asked} refused ${40 - asked}`);
  t.true(asked < 40, "some were refused: never more than 16 wait at once");
});
