import test from "ava";
import { createLoopbackHostCheck, isAllowedOrigin, isLoopbackHost, isLoopbackHostname, isLoopbackOrigin, isOwnLoopbackOrigin, normaliseOrigins } from "./loopback.js";

const PORT = 9096;

test("loopback names: localhost, any 127.0.0.0/8 address in plain decimal, ::1 — nothing else", (t) => {
  for (const name of ["localhost", "LocalHost", "127.0.0.1", "127.0.0.2", "127.1.2.3", "127.255.255.255", "127.0.0.0", "::1"]) {
    t.true(isLoopbackHostname(name), name);
  }
  for (const name of ["", "localhost.", "localhost.evil.com", "127.1", "127.0.0.256", "127.00.0.1", "0x7f.0.0.1", "128.0.0.1", "0.0.0.0", "::", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "[::1]", "127.0.0.1.nip.io"]) {
    t.false(isLoopbackHostname(name), name);
  }
});

test("Host: a loopback name with exactly our port (none means 80); other spellings, ports and names refused", (t) => {
  for (const host of ["localhost:9096", "LOCALHOST:9096", "127.0.0.1:9096", "127.0.0.2:9096", "127.9.8.7:9096", "[::1]:9096"]) {
    t.true(isLoopbackHost(host, PORT), host);
  }
  for (const host of [
    undefined,
    "",
    "evil.com:9096",
    "localhost.evil.com:9096",
    "localhost.:9096",
    "localhost:9097",
    "localhost:09096",
    "localhost",
    "127.0.0.1",
    "[::1]",
    "[::1]9096",
    "::1:9096",
    "[127.0.0.1]:9096",
    "[0:0:0:0:0:0:0:1]:9096",
    "[::ffff:127.0.0.1]:9096",
    "127.1:9096",
    "0x7f.0.0.1:9096",
    "0.0.0.0:9096",
    "user@localhost:9096",
    "localhost:9096:9096",
    "localhost:9096/",
    " localhost:9096",
  ]) {
    t.false(isLoopbackHost(host, PORT), String(host));
  }
  t.true(isLoopbackHost("localhost", 80));
  t.true(isLoopbackHost("127.0.0.5", 80));
});

test("Origin: the listener's own loopback origin (http, our port) or a listed one; other loopback ports and null refused", (t) => {
  const listed = normaliseOrigins([" https://Dash.Example.com/ ", "http://localhost:6274"]);
  for (const origin of ["http://localhost:9096", "http://127.0.0.1:9096", "http://127.3.2.1:9096", "http://[::1]:9096", "HTTP://LOCALHOST:9096", "https://dash.example.com", "https://dash.example.com/", "http://localhost:6274"]) {
    t.true(isAllowedOrigin(origin, PORT, listed), origin);
  }
  for (const origin of ["http://localhost:3000", "http://127.0.0.1:8080", "https://localhost:9096", "http://localhost", "http://evil.com:9096", "http://localhost.evil.com:9096", "null", "", "file://", "http://localhost:9096/path", "http://localhost:09096", "http://user@localhost:9096", "https://dash.example.com.evil.com"]) {
    t.false(isAllowedOrigin(origin, PORT, listed), origin);
  }
  t.true(isOwnLoopbackOrigin("http://localhost", 80), "no port means 80");
  t.false(isOwnLoopbackOrigin("https://localhost:9096", PORT), "the listeners speak plain HTTP");
});

test("loopback origins on any port and either scheme (for the Sec-Fetch-Site rule)", (t) => {
  for (const origin of ["http://localhost", "https://127.0.0.1:8443", "http://127.200.0.1:1", "http://[::1]:9095"]) t.true(isLoopbackOrigin(origin), origin);
  for (const origin of ["null", "http://localhost.evil.com", "http://127.0.0.999", "http://[127.0.0.1]", "ftp://localhost", "http://localhost:3000/x"]) {
    t.false(isLoopbackOrigin(origin), origin);
  }
});

test("createLoopbackHostCheck: a remembered Host is only the last accepted one, for that port", (t) => {
  const check = createLoopbackHostCheck();
  t.true(check("127.0.0.1:8080", 8080));
  t.true(check("127.0.0.1:8080", 8080));
  t.false(check("127.0.0.1:8080", 9090), "another port is checked in full");
  t.false(check("evil.com:8080", 8080));
  t.false(check(undefined, 8080));
  t.true(check("localhost:8080", 8080));
  t.false(check("localhost.evil.com:8080", 8080), "a refused Host is never remembered");
  t.false(check("localhost.evil.com:8080", 8080));
});
