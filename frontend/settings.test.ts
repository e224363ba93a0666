import test from "ava";
import { DEFAULT_SETTINGS, parseFrontendConfig } from "./settings.js";

test("the daemon's config JSON is parsed with defaults for what it leaves out", (t) => {
  const settings = parseFrontendConfig(
    JSON.stringify({ host: "127.0.0.1", port: 0, controlSocket: "/tmp/x.sock", allowedOrigins: ["https://a.example"], clientAuth: "token", sessionIdleTimeoutMs: 1000, maxSessions: 3 }),
  );
  t.is(settings.port, 0);
  t.is(settings.clientAuth, "token");
  t.deepEqual(settings.allowedOrigins, ["https://a.example"]);
  t.is(settings.maxBodyBytes, DEFAULT_SETTINGS.maxBodyBytes);
  t.is(settings.keepAliveMs, 15_000);
});

test("bad configs are refused with the field named; a non-loopback host is never accepted", (t) => {
  t.throws(() => parseFrontendConfig(undefined), { message: /not set/ });
  t.throws(() => parseFrontendConfig("{"), { message: /not valid JSON/ });
  t.throws(() => parseFrontendConfig("[]"), { message: /JSON object/ });
  t.throws(() => parseFrontendConfig('{"host":"0.0.0.0"}'), { message: /"host" must be a loopback address/ });
  t.throws(() => parseFrontendConfig('{"port":70000}'), { message: /"port"/ });
  t.throws(() => parseFrontendConfig('{"clientAuth":"maybe"}'), { message: /"clientAuth"/ });
  t.throws(() => parseFrontendConfig('{"allowedOrigins":"x"}'), { message: /"allowedOrigins"/ });
  t.throws(() => parseFrontendConfig('{"maxSessions":0}'), { message: /"maxSessions"/ });
});
