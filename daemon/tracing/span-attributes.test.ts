import test from "ava";
import * as incubating from "@opentelemetry/semantic-conventions/incubating";
import * as attributes from "./span-attributes.js";

test("every copied semantic-convention name equals the one in @opentelemetry/semantic-conventions", (t) => {
  const copied = Object.entries(attributes).filter(([name]) => !name.includes("DEPLOYSTACK"));
  t.true(copied.length >= 9);
  for (const [name, value] of copied) {
    t.is((incubating as Record<string, unknown>)[name], value, name);
  }
});

test("the gateway's own names stay in the deploystack namespace", (t) => {
  const own = Object.entries(attributes).filter(([name]) => name.includes("DEPLOYSTACK"));
  t.true(own.length >= 3);
  for (const [, value] of own) t.regex(value, /^deploystack\.[a-z_.]+$/);
});
