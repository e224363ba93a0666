import test from "ava";
import { GatewayError } from "../errors.js";
import { parseTeamFile } from "../config/load-team-file.js";

const team = "teams:\n  - id: a\n    servers:\n      - name: s\n        command: x\n";

test("gateway.tracing.endpoint is read from the team file", (t) => {
  const file = parseTeamFile(`gateway:\n  tracing:\n    endpoint: http://127.0.0.1:4318\n${team}`, "/t/team.yaml", { variables: {} });
  t.deepEqual(file.gateway.tracing, { endpoint: "http://127.0.0.1:4318" });
  t.is(parseTeamFile(team, "/t/team.yaml", { variables: {} }).gateway.tracing, undefined, "absent: nothing from the file");
});

test("a gateway.tracing endpoint that is not an http(s) URL, or an unknown field, is refused with its place named", (t) => {
  const bad = t.throws(() => parseTeamFile(`gateway:\n  tracing:\n    endpoint: ftp://collector\n${team}`, "team.yaml", { variables: {} }), {
    instanceOf: GatewayError,
  });
  t.regex(bad!.message, /^team\.yaml:3:\d+: gateway\.tracing\.endpoint: must be an http:\/\/ or https:\/\/ URL/);
  const unknown = t.throws(() => parseTeamFile(`gateway:\n  tracing:\n    headers: {}\n${team}`, "team.yaml", { variables: {} }));
  t.regex(unknown!.message, /gateway\.tracing\.headers: unknown field/);
});
