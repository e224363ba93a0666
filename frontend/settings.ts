import { FRONTEND_CONFIG_ENV, type FrontendProcessConfig } from "../shared/frontend-contract.js";
import { DEFAULT_HTTP_LIMITS, type HttpLimits, checkHttpLimits } from "../shared/http-limits.js";
import type { SessionLimits } from "./session/session.js";

/**
 * The frontend's configuration: the process contract with the daemon (shared/frontend-contract.ts)
 * plus tunables with defaults, settable in the same JSON.
 */
export interface FrontendSettings extends Omit<FrontendProcessConfig, keyof HttpLimits | "sessionInitTimeoutMs">, HttpLimits {
  /** Largest accepted POST body (default 4 MiB); larger → 413. */
  readonly maxBodyBytes: number;
  /** Interval of SSE `: keepalive` comments (default 15 s; 0 disables). */
  readonly keepAliveMs: number;
  /** Events kept per session for `Last-Event-ID` replay (default 512). */
  readonly replayMaxEvents: number;
  /** Bytes kept per session for replay (default 2 MiB). */
  readonly replayMaxBytes: number;
  /**
   * A session that has not yet been used (no request after its `initialize`; for legacy SSE, none after the stream
   * opened) ends after this long whatever it holds (default 60 s). Why: initializing costs a local script nothing, and
   * a slot held for the full idle timeout by a session nobody uses locks real clients out.
   */
  readonly sessionInitTimeoutMs: number;
}

/** The defaults of every setting. */
export const DEFAULT_SETTINGS: FrontendSettings = {
  host: "127.0.0.1",
  port: 9095,
  controlSocket: "",
  allowedOrigins: [],
  clientAuth: "none",
  sessionIdleTimeoutMs: 30 * 60 * 1000,
  maxSessions: 256,
  sessionInitTimeoutMs: 60_000,
  ...DEFAULT_HTTP_LIMITS,
  maxBodyBytes: 4 * 1024 * 1024,
  keepAliveMs: 15_000,
  replayMaxEvents: 512,
  hopTimingDir: "",
  replayMaxBytes: 2 * 1024 * 1024,
};

const LOOPBACK_BIND = new Set(["127.0.0.1", "::1", "localhost"]);

/**
 * Parses and checks `DEPLOYSTACK_FRONTEND_CONFIG` (JSON). Throws an Error naming the offending field: the daemon
 * shows it when the frontend refuses to start, and a wrong setting must never silently widen exposure (a
 * non-loopback `host` is refused, not ignored).
 */
export function parseFrontendConfig(text: string | undefined): FrontendSettings {
  if (!text) throw new Error(`${FRONTEND_CONFIG_ENV} is not set`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error(`${FRONTEND_CONFIG_ENV} is not valid JSON`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new Error(`${FRONTEND_CONFIG_ENV} must be a JSON object`);
  return resolveSettings(raw as Partial<Record<keyof FrontendSettings, unknown>>);
}

/** Fills defaults and validates; used by `parseFrontendConfig` and by tests. */
export function resolveSettings(raw: Partial<Record<keyof FrontendSettings, unknown>>): FrontendSettings {
  const settings = { ...DEFAULT_SETTINGS } as Record<string, unknown>;
  for (const [key, value] of Object.entries(raw)) {
    if (value !== undefined && key in DEFAULT_SETTINGS) settings[key] = value;
  }
  const s = settings as unknown as FrontendSettings;
  if (typeof s.host !== "string" || !LOOPBACK_BIND.has(s.host)) throw new Error(`config field "host" must be a loopback address, got ${JSON.stringify(s.host)}`);
  integer("port", s.port, 0, 65535);
  if (typeof s.controlSocket !== "string") throw new Error('config field "controlSocket" must be a string');
  if (!Array.isArray(s.allowedOrigins) || s.allowedOrigins.some((o) => typeof o !== "string")) {
    throw new Error('config field "allowedOrigins" must be an array of strings');
  }
  if (s.clientAuth !== "none" && s.clientAuth !== "token") throw new Error('config field "clientAuth" must be "none" or "token"');
  integer("sessionIdleTimeoutMs", s.sessionIdleTimeoutMs, 1, Number.MAX_SAFE_INTEGER);
  integer("maxSessions", s.maxSessions, 1, 1_000_000);
  integer("sessionInitTimeoutMs", s.sessionInitTimeoutMs, 1, Number.MAX_SAFE_INTEGER);
  checkHttpLimits(s);
  integer("maxBodyBytes", s.maxBodyBytes, 1, 1024 * 1024 * 1024);
  integer("keepAliveMs", s.keepAliveMs, 0, 2 ** 31 - 1);
  integer("replayMaxEvents", s.replayMaxEvents, 0, 1_000_000);
  integer("replayMaxBytes", s.replayMaxBytes, 0, 1024 * 1024 * 1024);
  if (typeof s.hopTimingDir !== "string") throw new Error('config field "hopTimingDir" must be a string');
  return s;
}

function integer(field: string, value: unknown, min: number, max: number): void {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new Error(`config field "${field}" must be an integer from ${min} to ${max}`);
  }
}

/**
 * The per-session limits the frontend runs with, derived from its settings in one place so
 * that the process and the test harness cannot drift apart; tests may only shorten the
 * close grace (how long the daemon gets to finish a half-closed stream) to run faster.
 */
export function sessionLimitsOf(settings: FrontendSettings, overrides: { readonly closeGraceMs?: number } = {}): SessionLimits {
  return {
    keepAliveMs: settings.keepAliveMs,
    replayMaxEvents: settings.replayMaxEvents,
    replayMaxBytes: settings.replayMaxBytes,
    maxBufferedBytes: 16 * 1024 * 1024,
    closeGraceMs: overrides.closeGraceMs ?? 1000,
  };
}
