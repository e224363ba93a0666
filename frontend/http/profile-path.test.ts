import test from "ava";
import { HttpError } from "./http-error.js";
import { profileOfPath, requireKnownProfile } from "./profile-path.js";

/** `/mcp/<profile>` and `/sse/<profile>`: which paths name a profile, and the 404 for one the team does not define. */

test("the bare path is the default profile; one segment names a profile; anything else is not the endpoint", (t) => {
  t.is(profileOfPath("/mcp", "/mcp"), "");
  t.is(profileOfPath("/mcp/frontend", "/mcp"), "frontend");
  t.is(profileOfPath("/mcp/front_end-2", "/mcp"), "front_end-2");
  t.is(profileOfPath("/mcpx", "/mcp"), undefined);
  t.is(profileOfPath("/mcp/", "/mcp"), undefined);
  t.is(profileOfPath("/mcp/a/b", "/mcp"), undefined);
  t.is(profileOfPath("/mcp/%2e%2e", "/mcp"), undefined);
  t.is(profileOfPath(`/mcp/${"x".repeat(65)}`, "/mcp"), undefined);
  t.is(profileOfPath("/sse/web", "/sse"), "web");
});

test("an unknown profile is a 404 naming the team's profiles; a daemon that cannot say lets the session decide", async (t) => {
  const names = async () => ["default", "web", "ops"] as const;
  await t.notThrowsAsync(requireKnownProfile("", names));
  await t.notThrowsAsync(requireKnownProfile("web", names));
  await t.notThrowsAsync(requireKnownProfile("default", names));
  const error = await t.throwsAsync(requireKnownProfile("wbe", names), { instanceOf: HttpError });
  t.is((error as HttpError).status, 404);
  t.is(error!.message, 'not found: unknown profile "wbe" (the team\'s profiles: web, ops)');
  const none = await t.throwsAsync(requireKnownProfile("x", async () => ["default"]));
  t.regex(none!.message, /the team defines no profiles/);
  await t.notThrowsAsync(requireKnownProfile("x", async () => undefined));
});
