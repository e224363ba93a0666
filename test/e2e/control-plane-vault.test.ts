import { readdirSync, readFileSync } from "node:fs";
import test from "ava";
import { Code, ConnectError } from "@connectrpc/connect";
import { ConfigSource } from "../../gen/deploystack/gateway/v1/gateway_pb.js";
import { normalServer, waitForRunning } from "./helpers/daemon-process.js";
import { startControlPlaneGateway } from "./helpers/control-plane-gateway.js";

/**
 * A vault that cannot be opened (here: a `DEPLOYSTACK_MASTER_KEY` that is not a key) never
 * keeps the team's servers from starting: the daemon logs the one clear reason and runs the
 * team file, and a login says why it cannot work — without showing the bad key.
 */

const BAD_KEY = "not-a-key-7a1c";

test("an unusable vault key: the file source runs, login is refused with the reason, the key is never shown", async (t) => {
  const gateway = await startControlPlaneGateway(t, { servers: [normalServer("alpha")], env: { DEPLOYSTACK_MASTER_KEY: BAD_KEY } });
  await waitForRunning(gateway.daemon, ["alpha"]);
  t.is((await gateway.daemon.clients.gateway.getStatus({})).configSource, ConfigSource.FILE);
  const error = ConnectError.from(
    await t.throwsAsync(
      (async () => {
        for await (const _ of gateway.daemon.clients.auth.login({})) void _;
      })(),
    ),
  );
  t.is(error.code, Code.FailedPrecondition);
  t.regex(error.rawMessage, /login needs the vault to keep the session, and the vault could not be opened \(see the daemon log\)/);
  t.false((await gateway.daemon.clients.auth.whoAmI({})).loggedIn);
  const logsDir = gateway.daemon.paths.logsDir;
  const logs = readdirSync(logsDir).map((name) => readFileSync(`${logsDir}/${name}`, "utf8")).join("\n");
  t.regex(logs, /the vault cannot be opened: running the team file only/);
  t.false(logs.includes(BAD_KEY) || gateway.daemon.stderr().includes(BAD_KEY));
});
