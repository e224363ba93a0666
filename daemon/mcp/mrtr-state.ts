/**
 * The `requestState` the gateway mints when it suspends a legacy server's call for a modern client
 * (mrtr-held-calls.ts). It travels through the client, which the specification treats as an attacker
 * ("Patterns › Multi Round-Trip Requests › Security Considerations"), so it is integrity-protected with an
 * HMAC-SHA256 under a key drawn at random once per daemon (never stored, never logged), and it carries only
 * identifiers the gateway made up: the held call's id, the nonce of this round, the keys of the input requests it
 * answers, the method of the call and an expiry. Nothing of the server's request and nothing of the client's is in
 * it, so it can never carry a secret out.
 *
 * Wire form: `dsgw1.<payload>.<mac>`, both base64url; the payload is the JSON of `HeldCallState`. The prefix tells
 * a state of the gateway's apart from a modern server's own state, which is passed on verbatim.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { GatewayError } from "../errors.js";
import { isJsonObject } from "./mrtr.js";

/** The prefix of every `requestState` the gateway mints. */
export const GATEWAY_STATE_PREFIX = "dsgw1.";

/** No state the gateway mints comes near this length; anything longer is refused before it is decoded. */
export const MAX_STATE_LENGTH = 2048;

/** What a gateway `requestState` holds. */
export interface HeldCallState {
  /** The held call's id (unique in this daemon; the MAC and the nonce make the state unforgeable and single-use). */
  readonly call: string;
  /** This round's nonce (random, 128 bits): the state is good for one retry only. */
  readonly nonce: string;
  /** The keys of the `inputRequests` the retry answers (minted by the gateway: `input-1`, `input-2`, …). */
  readonly keys: readonly string[];
  /** The method of the suspended call; a retry of another method is refused. */
  readonly method: string;
  /** Milliseconds since the epoch after which the state is refused. */
  readonly expires: number;
}

/** Mints and verifies gateway `requestState` strings. */
export interface HeldCallStateCodec {
  mint(state: HeldCallState): string;
  /**
   * The state, when `text` is a gateway state with a good MAC that has not expired at `now`. Anything else throws
   * `GatewayError("invalid_argument")` (JSON-RPC -32602 on the MCP path) with a message that says which check failed
   * and nothing of the state's content.
   */
  verify(text: string, now: number): HeldCallState;
}

/** Whether `value` looks like a state the gateway minted (the prefix only: `verify` decides whether it is one). */
export function isGatewayState(value: unknown): value is string {
  return typeof value === "string" && value.startsWith(GATEWAY_STATE_PREFIX);
}

/** A fresh random nonce (128 bits, base64url). */
export function randomToken(): string {
  return randomBytes(16).toString("base64url");
}

/** Creates a codec with `key` (tests) or a fresh random 256-bit key (the daemon: one per process). */
export function createHeldCallStateCodec(key: Buffer = randomBytes(32)): HeldCallStateCodec {
  const mac = (payload: string): Buffer => createHmac("sha256", key).update(payload).digest();
  const refuse = (why: string): never => {
    throw new GatewayError("invalid_argument", `requestState refused: ${why}`);
  };
  return {
    mint(state) {
      const payload = Buffer.from(JSON.stringify(state)).toString("base64url");
      return `${GATEWAY_STATE_PREFIX}${payload}.${mac(payload).toString("base64url")}`;
    },
    verify(text, now) {
      if (text.length > MAX_STATE_LENGTH) refuse("too long");
      if (!text.startsWith(GATEWAY_STATE_PREFIX)) refuse("not issued by this gateway");
      const rest = text.slice(GATEWAY_STATE_PREFIX.length);
      const dot = rest.indexOf(".");
      if (dot < 0) refuse("malformed");
      const payload = rest.slice(0, dot);
      const given = Buffer.from(rest.slice(dot + 1), "base64url");
      const expected = mac(payload);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) refuse("integrity check failed");
      let decoded: unknown;
      try {
        decoded = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
      } catch {
        return refuse("malformed");
      }
      if (!isState(decoded)) return refuse("malformed");
      if (now > decoded.expires) refuse("expired");
      return decoded;
    },
  };
}

function isState(value: unknown): value is HeldCallState {
  if (!isJsonObject(value)) return false;
  return (
    typeof value.call === "string" &&
    typeof value.nonce === "string" &&
    typeof value.method === "string" &&
    typeof value.expires === "number" &&
    Array.isArray(value.keys) &&
    value.keys.every((key) => typeof key === "string")
  );
}
