import test from "ava";
import { GatewayError } from "../errors.js";
import type { ServerSnapshot } from "../supervisor/types.js";
import { invalidServerError, invalidServerSnapshot, withInvalidServers } from "./invalid-servers.js";

const reason = 'DeployStack marks it "invalid": a required setting is missing';

const running: ServerSnapshot = {
  name: "notes",
  state: "running",
  enabled: true,
  pid: 42,
  restarts: 0,
  toolCount: 3,
  command: "node",
  args: ["notes.js"],
  envNames: [],
  startup: "eager",
  prefix: "notes",
};

test("an invalid server is listed after the supervised ones: state invalid, its reason as last error, nothing running", (t) => {
  const listed = withInvalidServers([running], [{ name: "GitHub Tools", reason }]);
  t.deepEqual(
    listed.map((server) => [server.name, server.state]),
    [
      ["notes", "running"],
      ["GitHub Tools", "invalid"],
    ],
  );
  t.like(invalidServerSnapshot({ name: "GitHub Tools", reason }), { state: "invalid", enabled: false, pid: undefined, toolCount: 0, lastError: reason });
});

test("a supervised server wins over an invalid entry of the same name, and each invalid name is listed once", (t) => {
  const listed = withInvalidServers([running], [
    { name: "notes", reason },
    { name: "twice", reason },
    { name: "twice", reason: "other" },
  ]);
  t.deepEqual(
    listed.map((server) => [server.name, server.state, server.lastError]),
    [
      ["notes", "running", undefined],
      ["twice", "invalid", reason],
    ],
  );
});

test("actions on an invalid server are refused with its reason", (t) => {
  const error = invalidServerError({ name: "GitHub Tools", reason });
  t.true(error instanceof GatewayError);
  t.is(error.kind, "failed_precondition");
  t.is(error.message, `server "GitHub Tools" is invalid and is not started: ${reason}`);
});
