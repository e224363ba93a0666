import test from "ava";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { AuthService } from "../../gen/deploystack/gateway/v1/auth_service_pb.js";
import { runVerb } from "../dial.js";
import { createCapturedIo } from "../io.js";
import { login, logout, openInBrowser, whoAmI } from "./auth.js";

const URL_TO_OPEN = "http://127.0.0.1:9/api/oauth2/auth?state=abc";

function setup(options: { loggedIn?: boolean; fail?: ConnectError } = {}) {
  const requests: { url: string; timeoutSeconds: bigint | undefined }[] = [];
  let loggedOut = 0;
  const transport = createRouterTransport((router) => {
    router.service(AuthService, {
      async *login(req) {
        requests.push({ url: req.url, timeoutSeconds: req.timeout?.seconds });
        yield { step: { case: "authorizationUrl", value: URL_TO_OPEN } };
        if (options.fail) throw options.fail;
        yield {
          step: {
            case: "succeeded",
            value: { user: { id: "u1", email: "dev@example.com", name: "Dev" }, team: { id: "t1", name: "Alpha Team", role: "team_admin", isCurrent: true } },
          },
        };
      },
      logout: () => {
        loggedOut++;
        return {};
      },
      whoAmI: () =>
        options.loggedIn
          ? { loggedIn: true, user: { id: "u1", email: "dev@example.com", name: "Dev" }, url: "https://api.example.com", tokenExpireTime: { seconds: 1767225600n, nanos: 0 } }
          : { loggedIn: false },
    });
  });
  return { client: createClient(AuthService, transport), io: createCapturedIo(), requests, loggedOut: () => loggedOut };
}

test("login prints the URL, opens the browser, and reports who signed in", async (t) => {
  const { client, io, requests } = setup();
  const opened: string[] = [];
  const openBrowser = async (url: string) => {
    opened.push(url);
    return true;
  };
  t.is(await login(client, { url: "https://self.hosted", timeoutMs: 30_000, openBrowser }, io), 0);
  t.deepEqual(opened, [URL_TO_OPEN]);
  t.deepEqual(requests, [{ url: "https://self.hosted", timeoutSeconds: 30n }]);
  t.true(io.out().includes(`  ${URL_TO_OPEN}\n`));
  t.regex(io.out(), /logged in as dev@example\.com \(Dev\); current team "Alpha Team" \(role team_admin\)\n$/);
  t.regex(io.err(), /opened in your browser/);
});

test("login --no-browser prints the URL only; a browser that cannot open is not a failure", async (t) => {
  const noBrowser = setup();
  let asked = false;
  t.is(await login(noBrowser.client, { browser: false, openBrowser: async () => (asked = true) }, noBrowser.io), 0);
  t.false(asked);
  t.true(noBrowser.io.out().includes(URL_TO_OPEN));
  const broken = setup();
  t.is(await login(broken.client, { openBrowser: async () => false }, broken.io), 0);
  t.regex(broken.io.err(), /waiting for the browser to come back/);
});

test("a failed login is one line with exit 1", async (t) => {
  const { client, io } = setup({ fail: new ConnectError("login timed out after 300 s waiting for the browser", Code.DeadlineExceeded) });
  t.is(await runVerb(io, "/tmp/x.sock", () => login(client, { browser: false }, io)), 1);
  t.is(io.err().split("\n").filter(Boolean).at(-1), "login timed out after 300 s waiting for the browser");
});

test("login --json prints each stream message as a JSON line", async (t) => {
  const { client, io } = setup();
  t.is(await login(client, { json: true, browser: false }, io), 0);
  const lines = io.out().trim().split("\n").map((line) => JSON.parse(line));
  t.deepEqual(lines[0], { authorizationUrl: URL_TO_OPEN });
  t.is(lines[1].succeeded.user.email, "dev@example.com");
});

test("whoami shows the user, or says nobody is logged in with exit 1", async (t) => {
  const yes = setup({ loggedIn: true });
  t.is(await whoAmI(yes.client, {}, yes.io), 0);
  t.regex(yes.io.out(), /^email\s+dev@example\.com\n/);
  t.regex(yes.io.out(), /\ntoken expires\s+2026-01-01T00:00:00\.000Z\n$/);
  const no = setup();
  t.is(await whoAmI(no.client, {}, no.io), 1);
  t.is(no.io.err(), "not logged in to DeployStack — run `dsctl login`\n");
});

test("logout calls the RPC once", async (t) => {
  const { client, io, loggedOut } = setup({ loggedIn: true });
  t.is(await logout(client, {}, io), 0);
  t.is(loggedOut(), 1);
  t.regex(io.out(), /logged out of DeployStack/);
});

test("openInBrowser never fails: no desktop session means no opener", async (t) => {
  t.false(await openInBrowser(URL_TO_OPEN, "linux", {}));
  t.false(await openInBrowser(URL_TO_OPEN, "linux", { DISPLAY: ":99", PATH: "/nonexistent" }));
});
