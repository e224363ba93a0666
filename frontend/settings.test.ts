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
  // Lock-out and slow-client defaults: unused sessions go within 2 minutes, bodies may not trickle past 30 s.
  t.true(settings.sessionInitTimeoutMs <= 120_000);
  t.is(settings.requestTimeoutMs, 30_000);
  t.is(settings.headersTimeoutMs, 10_000);
  t.is(settings.maxConnections, 1024);
  const tuned = parseFrontendConfig(JSON.stringify({ sessionInitTimeoutMs: 5000, headersTimeoutMs: 100, requestTimeoutMs: 200, maxConnections: 7 }));
  t.deepEqual([tuned.sessionInitTimeoutMs, tuned.headersTimeoutMs, tuned.requestTimeoutMs, tuned.maxConnections], [5000, 100, 200, 7]);
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
  t.throws(() => parseFrontendConfig('{"sessionInitTimeoutMs":0}'), { message: /"sessionInitTimeoutMs"/ });
  t.throws(() => parseFrontendConfig('{"maxConnections":-1}'), { message: /"maxConnections"/ });
  t.throws(() => parseFrontendConfig('{"headersTimeoutMs":5000,"requestTimeoutMs":1000}'), { message: /"requestTimeoutMs" must not be shorter/ });
});
