import test from "ava";
import { checkAuthorizationResponseIssuer } from "./issuer-check.js";

const issuer = "https://as.example.com/tenant";

test("the RFC 9207 table of the MCP authorization spec, row by row", (t) => {
  t.is(checkAuthorizationResponseIssuer(issuer, true, issuer), undefined);
  t.regex(checkAuthorizationResponseIssuer(issuer, true, null) ?? "", /no "iss"/);
  t.is(checkAuthorizationResponseIssuer(issuer, false, issuer), undefined);
  t.regex(checkAuthorizationResponseIssuer(issuer, false, "https://evil.example.com/tenant") ?? "", /mix-up/);
  t.is(checkAuthorizationResponseIssuer(issuer, false, null), undefined);
});

test("simple string comparison: no case folding, trailing slash, default port or percent-encoding normalisation", (t) => {
  for (const variant of ["https://AS.example.com/tenant", "https://as.example.com/tenant/", "https://as.example.com:443/tenant", "https://as.example.com/%74enant"]) {
    t.truthy(checkAuthorizationResponseIssuer(issuer, true, variant), variant);
  }
});

test("a hostile iss is quoted shortened in the refusal", (t) => {
  const reason = checkAuthorizationResponseIssuer(issuer, false, "x".repeat(5000)) ?? "";
  t.true(reason.length < 400);
});
