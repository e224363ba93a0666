import test from "ava";
import { GatewayError } from "../errors.js";
import { RawJson } from "../upstream/raw-json.js";
import { asInputRequired } from "./mrtr.js";
import { completeForLegacyCaller, readInputRequired } from "./mrtr-legacy-caller.js";
import { createHeldCallStateCodec, GATEWAY_STATE_PREFIX } from "./mrtr-state.js";

/** The pieces of the MRTR bridges that judge what an untrusted server or client sends. */

test("a malformed InputRequiredResult from a server is refused with a clear error", (t) => {
  const refused = (result: Record<string, unknown>): string => {
    const error = t.throws(() => readInputRequired("s", { resultType: "input_required", ...result }));
    t.true(error instanceof GatewayError && error.kind === "unavailable");
    return error!.message;
  };
  t.regex(refused({}), /server "s" answered with an invalid InputRequiredResult: neither inputRequests nor requestState/);
  t.regex(refused({ inputRequests: [] }), /inputRequests is not an object/);
  t.regex(refused({ inputRequests: { a: { method: "tools/call", params: {} } } }), /"tools\/call" is not elicitation\/create, sampling\/createMessage or roots\/list/);
  t.regex(refused({ inputRequests: { a: { params: {} } } }), /has no method/);
  t.regex(refused({ inputRequests: { a: { method: "roots/list", params: 3 } } }), /params is not an object/);
  t.regex(refused({ requestState: 7 }), /requestState is not a string/);
  const many = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, { method: "roots/list" }]));
  t.regex(refused({ inputRequests: many }), /more than 16 input requests/);
  t.deepEqual(readInputRequired("s", { resultType: "input_required", requestState: "opaque" }), { inputRequests: new Map(), requestState: "opaque" });
});

test("the round bound ends a server that never stops asking, and the caller's refusal ends the call", async (t) => {
  const asking = { resultType: "input_required", inputRequests: { a: { method: "roots/list" } } };
  let sent = 0;
  const error = await t.throwsAsync(
    completeForLegacyCaller(asking, {
      server: "s",
      method: "tools/call",
      params: { name: "x" },
      signal: new AbortController().signal,
      ask: async () => ({ roots: [] }),
      send: async (params) => {
        sent++;
        t.deepEqual(params.inputResponses, { a: { roots: [] } });
        return asking;
      },
      maxRounds: 3,
    }),
  );
  t.regex(error!.message, /still asked for input after 3 rounds/);
  t.is(sent, 3);
  const refusal = await t.throwsAsync(
    completeForLegacyCaller(asking, {
      server: "s",
      method: "tools/call",
      params: {},
      signal: new AbortController().signal,
      ask: async () => Promise.reject(new Error("the user closed the dialog")),
      send: async () => t.fail("no retry") as never,
    }),
  );
  t.is(refusal!.message, "the user closed the dialog");
});

test("large forwarded results are recognised as input_required only when they are", (t) => {
  const raw = (text: string, cut: number): RawJson => {
    const bytes = Buffer.from(text);
    return new RawJson([bytes.subarray(0, cut), bytes.subarray(cut)], bytes.length);
  };
  const asking = JSON.stringify({ resultType: "input_required", requestState: "s" });
  for (let cut = 1; cut < asking.length; cut++) t.truthy(asInputRequired(raw(asking, cut)), `cut at ${cut}`);
  t.is(asInputRequired(raw(JSON.stringify({ content: [{ type: "text", text: "x".repeat(1000) }] }), 500)), undefined);
  t.is(asInputRequired(raw(JSON.stringify({ content: [{ type: "text", text: '"input_required"' }] }), 10)), undefined);
});

test("the state codec: round trip, expiry, tampering and foreign keys", (t) => {
  const codec = createHeldCallStateCodec();
  const state = { call: "c", nonce: "n", keys: ["input-1"], method: "tools/call", expires: 1_000 };
  const minted = codec.mint(state);
  t.true(minted.startsWith(GATEWAY_STATE_PREFIX));
  t.deepEqual(codec.verify(minted, 1_000), state);
  t.throws(() => codec.verify(minted, 1_001), { message: "requestState refused: expired" });
  t.throws(() => createHeldCallStateCodec().verify(minted, 0), { message: "requestState refused: integrity check failed" });
  t.throws(() => codec.verify(`${GATEWAY_STATE_PREFIX}nodot`, 0), { message: "requestState refused: malformed" });
  const payload = Buffer.from(JSON.stringify({ ...state, expires: 9e15 })).toString("base64url");
  t.throws(() => codec.verify(`${GATEWAY_STATE_PREFIX}${payload}.${minted.split(".")[2]}`, 0), { message: "requestState refused: integrity check failed" });
  t.notRegex(Buffer.from(minted.split(".")[1]!, "base64url").toString(), /params|message|arguments/, "ids only");
});
