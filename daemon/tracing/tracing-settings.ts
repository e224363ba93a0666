/**
 * Whether the gateway exports traces, and where to. Tracing is off unless an OTLP endpoint is configured, by the
 * standard OpenTelemetry variables (so that a gateway started in an instrumented environment joins it with no
 * gateway-specific setting) or by the team file's `gateway.tracing.endpoint`. The daemon resolves this once, from
 * its own environment and file: it is the only process of the gateway that makes spans.
 */

/** What a process needs to export its spans; absent means tracing is off. */
export interface TracingSettings {
  /** The OTLP/HTTP traces URL spans are POSTed to as protobuf (`…/v1/traces`). */
  readonly tracesUrl: string;
  /** How long finished spans wait to be sent together (OpenTelemetry's `OTEL_BSP_SCHEDULE_DELAY`, default 5 s). */
  readonly scheduleDelayMs: number;
  /**
   * Which traces are recorded (OpenTelemetry's `OTEL_TRACES_SAMPLER`/`_ARG`): a share of new traces, `ratio` from 0
   * to 1, and whether a caller's sampled flag decides instead (`parentBased`, the default: a client that records its
   * trace gets the gateway's spans in it). Absent: every trace (`parentbased_always_on`).
   */
  readonly sampler?: TracingSampler;
}

/** A sampler as the `OTEL_TRACES_SAMPLER` values describe one. */
export interface TracingSampler {
  readonly ratio: number;
  readonly parentBased: boolean;
}

/**
 * `OTEL_TRACES_SAMPLER` (and `_ARG` for the ratio ones) as a `TracingSampler`; undefined for unset or the default
 * (`parentbased_always_on`). Throws for a value the specification does not define, naming the variable.
 */
function samplerFromEnv(env: NodeJS.ProcessEnv): TracingSampler | undefined {
  const name = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase();
  if (!name || name === "parentbased_always_on") return undefined;
  const arg = Number(env.OTEL_TRACES_SAMPLER_ARG);
  const ratio = env.OTEL_TRACES_SAMPLER_ARG && Number.isFinite(arg) && arg >= 0 && arg <= 1 ? arg : 1;
  switch (name) {
    case "always_on":
      return { ratio: 1, parentBased: false };
    case "always_off":
      return { ratio: 0, parentBased: false };
    case "parentbased_always_off":
      return { ratio: 0, parentBased: true };
    case "traceidratio":
      return { ratio, parentBased: false };
    case "parentbased_traceidratio":
      return { ratio, parentBased: true };
    default:
      throw new Error(
        "OTEL_TRACES_SAMPLER must be one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio",
      );
  }
}

/** The team file's `gateway.tracing` section. */
export interface TracingFileConfig {
  /** An OTLP/HTTP base URL (`http://127.0.0.1:4318`); `/v1/traces` is appended, as for `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  readonly endpoint?: string;
}

/** OpenTelemetry's default `OTEL_BSP_SCHEDULE_DELAY`. */
const DEFAULT_SCHEDULE_DELAY_MS = 5000;

/** Appends the signal path to a base endpoint the way the OTLP exporter specification says (one slash between). */
export function tracesUrlOf(baseEndpoint: string): string {
  return `${baseEndpoint.replace(/\/+$/, "")}/v1/traces`;
}

/** Throws unless `url` is an absolute http(s) URL; the message names `source` and never echoes the URL (it may hold a credential). */
function checkUrl(url: string, source: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`${source} must be an absolute http:// or https:// URL`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error(`${source} must be an http:// or https:// URL`);
  return url;
}

/**
 * Resolves the settings: `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` turn tracing off whatever else
 * says; otherwise `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (a full URL, used as is), then `OTEL_EXPORTER_OTLP_ENDPOINT`
 * (a base URL), then the team file's `gateway.tracing.endpoint` (a base URL). Empty variables count as unset.
 * Throws with the variable or field named when a URL is not an http(s) URL.
 */
export function resolveTracingSettings(env: NodeJS.ProcessEnv, file: TracingFileConfig | undefined): TracingSettings | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return undefined;
  if (env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === "none") return undefined;
  const tracesUrl = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
    ? checkUrl(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    : env.OTEL_EXPORTER_OTLP_ENDPOINT
      ? tracesUrlOf(checkUrl(env.OTEL_EXPORTER_OTLP_ENDPOINT, "OTEL_EXPORTER_OTLP_ENDPOINT"))
      : file?.endpoint
        ? tracesUrlOf(checkUrl(file.endpoint, "gateway.tracing.endpoint"))
        : undefined;
  if (tracesUrl === undefined) return undefined;
  const delay = Number(env.OTEL_BSP_SCHEDULE_DELAY);
  const scheduleDelayMs = env.OTEL_BSP_SCHEDULE_DELAY && Number.isInteger(delay) && delay >= 0 ? delay : DEFAULT_SCHEDULE_DELAY_MS;
  const sampler = samplerFromEnv(env);
  return sampler ? { tracesUrl, scheduleDelayMs, sampler } : { tracesUrl, scheduleDelayMs };
}
