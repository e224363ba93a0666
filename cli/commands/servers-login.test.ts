import test from "ava";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { ServerState } from "../../gen/deploystack/gateway/v1/server_pb.js";
import { ServerService } from "../../gen/deploystack/gateway/v1/server_service_pb.js";
import { runVerb } from "../dial.js";
import { createCapturedIo } from "../io.js";
import { loginServer, logoutServer } from "./servers.js";

/** `dsctl servers login|logout NAME` against an in-memory ServerService. */

const URL_TO_OPEN = "https://as.example.com/authorize?client_id=x&state=abc&code_challenge_method=S256";

function setup(options: { fail?: ConnectError; signedIn?: boolean } = {}) {
  const requests: { name: string; timeoutSeconds: bigint | undefined }[] = [];
  const transport = createRouterTransport((router) => {
    router.service(ServerService, {
      async *loginServer(req) {
        requests.push({ name: req.name, timeoutSeconds: req.timeout?.seconds });
        yield { step: { case: "authorizationUrl", value: URL_TO_OPEN } };
        if (options.fail) throw options.fail;
        yield { step: { case: "succeeded", value: { server: { name: req.name, state: ServerState.STARTING }, issuer: "https://as.example.com/" } } };
      },
      logoutServer(req) {
        return { server: { name: req.name, state: ServerState.NEEDS_AUTH }, removed: options.signedIn ?? true };
      },
    });
  });
  return { client: createClient(ServerService, transport), io: createCapturedIo(), requests };
}

test("login prints the URL, opens the browser, and reports the issuer and the state", async (t) => {
  const { client, io, requests } = setup();
  const opened: string[] = [];
  const code = await loginServer(client, { name: "linear", timeoutMs: 30_000, openBrowser: async (url) => (opened.push(url), true) }, io);
  t.is(code, 0);
  t.deepEqual(requests, [{ name: "linear", timeoutSeconds: 30n }]);
  t.deepEqual(opened, [URL_TO_OPEN]);
  t.is(
    io.out(),
    `To sign in to server "linear", open this URL in a browser:\n\n  ${URL_TO_OPEN}\n\nsigned in to server "linear" (issuer https://as.example.com/); it is STARTING and reconnects with the new token\n`,
  );
  t.is(io.err(), "opened in your browser; waiting for it to come back…\n");
});

test("--no-browser only prints the URL", async (t) => {
  const { client, io } = setup();
  let asked = false;
  t.is(await loginServer(client, { name: "linear", browser: false, openBrowser: async () => (asked = true) }, io), 0);
  t.false(asked);
  t.true(io.out().includes(URL_TO_OPEN));
  t.is(io.err(), "waiting for the browser to come back…\n");
});

test("a refused sign-in exits 1 with the daemon's reason on one line", async (t) => {
  const { client, io } = setup({
    fail: new ConnectError('the authorization response names issuer "https://attacker.example/" but the login was started with "https://as.example.com/" (RFC 9207 mix-up defence); refused', Code.PermissionDenied),
  });
  t.is(await runVerb(io, "/tmp/x.sock", () => loginServer(client, { name: "linear", browser: false }, io)), 1);
  t.regex(io.err(), /attacker\.example.*refused\n$/);
});

test("--json prints each stream message as proto JSON", async (t) => {
  const { client, io } = setup();
  t.is(await loginServer(client, { name: "linear", json: true, browser: false }, io), 0);
  const lines = io.out().trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
  t.deepEqual(lines[0], { authorizationUrl: URL_TO_OPEN });
  t.like(lines[1], { succeeded: { issuer: "https://as.example.com/", server: { name: "linear", state: "SERVER_STATE_STARTING" } } });
});

test("logout says whether tokens were removed", async (t) => {
  const removed = setup();
  t.is(await logoutServer(removed.client, { name: "linear" }, removed.io), 0);
  t.is(removed.io.out(), 'signed out of server "linear": its tokens were removed from the vault\n');
  const none = setup({ signedIn: false });
  t.is(await logoutServer(none.client, { name: "linear" }, none.io), 0);
  t.is(none.io.out(), 'server "linear" was not signed in; nothing to remove\n');
  const json = setup();
  await logoutServer(json.client, { name: "linear", json: true }, json.io);
  t.like(JSON.parse(json.io.out()), { removed: true, server: { state: "SERVER_STATE_NEEDS_AUTH" } });
});
