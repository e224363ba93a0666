import test from "ava";
import { isRefusedFetchSite } from "./fetch-site.js";
import { isLoopbackOrigin } from "./loopback.js";

test("Sec-Fetch-Site: cross-site refused unless the origin is listed; same-site only from a loopback or listed origin", (t) => {
  // Native clients send no header; a browser's own pages and address-bar requests are fine.
  t.false(isRefusedFetchSite(undefined, undefined, false));
  t.false(isRefusedFetchSite("same-origin", "http://localhost:9095", false));
  t.false(isRefusedFetchSite("none", undefined, false));
  // cross-site: a web page, with or without Origin (no-cors GETs carry none).
  t.true(isRefusedFetchSite("cross-site", undefined, false));
  t.true(isRefusedFetchSite("cross-site", "https://evil.example", false));
  t.false(isRefusedFetchSite("cross-site", "https://inspector.example", true), "a listed origin keeps working");
  // same-site: another loopback origin passes here (the Origin check judges it), anything without an origin is refused.
  t.true(isRefusedFetchSite("same-site", undefined, false));
  t.true(isRefusedFetchSite("same-site", "http://app.localhost.example:3000", false));
  t.false(isRefusedFetchSite("same-site", "http://localhost:3000", false));
  t.false(isRefusedFetchSite("same-site", "http://dashboard.localhost:3000", true));
  // Unknown values and repeated headers fail closed.
  t.true(isRefusedFetchSite("cross-origin", undefined, false));
  t.true(isRefusedFetchSite(["same-origin", "cross-site"], undefined, false));
});

test("loopback origins: localhost, 127/8 and [::1] on any port; nothing that merely contains them", (t) => {
  for (const origin of ["http://localhost", "http://localhost:3000", "https://127.0.0.1:8443", "http://127.9.9.9:1", "http://[::1]:9095", "HTTP://LOCALHOST:1"]) {
    t.true(isLoopbackOrigin(origin), origin);
  }
  for (const origin of ["null", "http://localhost.evil.com", "http://evil.com/localhost", "http://127.0.0.1.nip.io", "file://", "http://localhost:3000/x"]) {
    t.false(isLoopbackOrigin(origin), origin);
  }
});
