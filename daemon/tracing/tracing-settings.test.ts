import test from "ava";
import { resolveTracingSettings, tracesUrlOf } from "./tracing-settings.js";

test("off without any endpoint, and with empty variables", (t) => {
  t.is(resolveTracingSettings({}, undefined), undefined);
  t.is(resolveTracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: "", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "" }, {}), undefined);
});

test("OTEL_EXPORTER_OTLP_ENDPOINT is a base URL: /v1/traces is appended with one slash", (t) => {
  t.deepEqual(resolveTracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" }, undefined), {
    tracesUrl: "http://127.0.0.1:4318/v1/traces",
    scheduleDelayMs: 5000,
  });
  t.is(tracesUrlOf("http://collector:4318/otlp/"), "http://collector:4318/otlp/v1/traces");
});

test("precedence: the traces variable, then the general one, then the team file", (t) => {
  const file = { endpoint: "http://file:4318" };
  t.is(resolveTracingSettings({}, file)?.tracesUrl, "http://file:4318/v1/traces");
  t.is(resolveTracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://env:4318" }, file)?.tracesUrl, "http://env:4318/v1/traces");
  t.is(
    resolveTracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://env:4318", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://traces.example/custom" }, file)?.tracesUrl,
    "https://traces.example/custom",
    "the signal-specific URL is used as is",
  );
});

test("OTEL_SDK_DISABLED and OTEL_TRACES_EXPORTER=none turn tracing off whatever else is set", (t) => {
  const env = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://env:4318" };
  t.is(resolveTracingSettings({ ...env, OTEL_SDK_DISABLED: "TRUE" }, { endpoint: "http://file:4318" }), undefined);
  t.is(resolveTracingSettings({ ...env, OTEL_TRACES_EXPORTER: "none" }, undefined), undefined);
  t.truthy(resolveTracingSettings({ ...env, OTEL_SDK_DISABLED: "false", OTEL_TRACES_EXPORTER: "otlp" }, undefined));
});

test("OTEL_BSP_SCHEDULE_DELAY sets the batch delay; a bad value keeps the default", (t) => {
  const env = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://env:4318" };
  t.is(resolveTracingSettings({ ...env, OTEL_BSP_SCHEDULE_DELAY: "250" }, undefined)?.scheduleDelayMs, 250);
  t.is(resolveTracingSettings({ ...env, OTEL_BSP_SCHEDULE_DELAY: "soon" }, undefined)?.scheduleDelayMs, 5000);
  t.is(resolveTracingSettings({ ...env, OTEL_BSP_SCHEDULE_DELAY: "-1" }, undefined)?.scheduleDelayMs, 5000);
});

test("a malformed endpoint is refused with the variable named and the value (which may hold a credential) not echoed", (t) => {
  const secretish = "ftp://user:hunter2@collector";
  for (const [env, file, named] of [
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: secretish }, undefined, "OTEL_EXPORTER_OTLP_ENDPOINT"],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "not a url hunter2" }, undefined, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"],
    [{}, { endpoint: secretish }, "gateway.tracing.endpoint"],
  ] as const) {
    const error = t.throws(() => resolveTracingSettings(env, file));
    t.true(error!.message.startsWith(named), error!.message);
    t.false(error!.message.includes("hunter2"));
  }
});

test("OTEL_TRACES_SAMPLER and its argument choose the sampler; the default needs none; a bad name is refused", (t) => {
  const env = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://env:4318" };
  const sampler = (extra: Record<string, string>) => resolveTracingSettings({ ...env, ...extra }, undefined)?.sampler;
  t.is(sampler({}), undefined);
  t.is(sampler({ OTEL_TRACES_SAMPLER: "parentbased_always_on" }), undefined);
  t.deepEqual(sampler({ OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.25" }), { ratio: 0.25, parentBased: true });
  t.deepEqual(sampler({ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "7" }), { ratio: 1, parentBased: false }, "out of range: 1");
  t.deepEqual(sampler({ OTEL_TRACES_SAMPLER: "always_off" }), { ratio: 0, parentBased: false });
  t.deepEqual(sampler({ OTEL_TRACES_SAMPLER: "parentbased_always_off" }), { ratio: 0, parentBased: true });
  t.throws(() => sampler({ OTEL_TRACES_SAMPLER: "jaeger_remote" }), { message: /^OTEL_TRACES_SAMPLER must be one of/ });
});
