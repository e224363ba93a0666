import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { GatewayService } from "../../gen/deploystack/gateway/v1/gateway_service_pb.js";
import { createCapturedIo } from "../io.js";
import { DASHBOARD_LAUNCH_FILE, dashboardUrl, openDashboard } from "./dashboard.js";

// dsctl dashboard against an in-memory GatewayService: what it prints and hands the opener in each case.

const token = "tok_en-123";

function setup(t: ExecutionContext, alreadyListening: boolean) {
  const home = mkdtempSync(join(tmpdir(), "dsctl-dash-"));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  const paths = { controlToken: join(home, "control.token"), runDir: join(home, "run") };
  mkdirSync(paths.runDir, { mode: 0o700 });
  writeFileSync(paths.controlToken, `${token}\n`, { mode: 0o600 });
  const asked: string[] = [];
  const transport = createRouterTransport((router) =>
    router.service(GatewayService, {
      enableControlListener(req) {
        asked.push(req.address);
        return { address: "127.0.0.1:40123", alreadyListening };
      },
    }),
  );
  return { paths, asked, client: createClient(GatewayService, transport) };
}

test("a browser that opens: it gets the launch file, the output names the address without the token", async (t) => {
  const { paths, asked, client } = setup(t, false);
  const io = createCapturedIo();
  const opened: string[] = [];
  const code = await openDashboard(client, { listen: "127.0.0.1:9096" }, io, {
    paths,
    openBrowser: async (url) => {
      opened.push(url);
      return true;
    },
  });
  t.is(code, 0);
  t.deepEqual(asked, ["127.0.0.1:9096"]);
  t.is(io.out(), "started the control listener; the dashboard is served at http://127.0.0.1:40123/\nopened it in your browser\n");
  t.deepEqual(opened, [`file://${join(paths.runDir, DASHBOARD_LAUNCH_FILE)}`]);
  const launch = readFileSync(join(paths.runDir, DASHBOARD_LAUNCH_FILE), "utf8");
  t.true(launch.includes(`content="0;url=http://127.0.0.1:40123/#token=${token}"`));
  t.is(statSync(join(paths.runDir, DASHBOARD_LAUNCH_FILE)).mode & 0o777, 0o600);
});

test("no browser (or none that opens): the address with the token is printed", async (t) => {
  for (const [args, opens] of [[{ browser: false }, true], [{}, false]] as const) {
    const { paths, client } = setup(t, true);
    const io = createCapturedIo();
    let calls = 0;
    await openDashboard(client, args, io, {
      paths,
      openBrowser: async () => {
        calls++;
        return opens;
      },
    });
    t.is(calls, args.browser === false ? 0 : 1);
    t.true(io.out().startsWith("the dashboard is served at http://127.0.0.1:40123/\n"));
    t.true(io.out().includes(`  ${dashboardUrl("127.0.0.1:40123", token)}\n`));
  }
  t.is(dashboardUrl("[::1]:1", "a+b/c"), "http://[::1]:1/#token=a%2Bb%2Fc");
});

test("--json prints the response and never the token", async (t) => {
  const { paths, client } = setup(t, true);
  const io = createCapturedIo();
  await openDashboard(client, { json: true, browser: false }, io, { paths });
  t.deepEqual(JSON.parse(io.out()), { address: "127.0.0.1:40123", alreadyListening: true });
  t.false(io.out().includes(token));
});

test("a missing token file is a clear failure", async (t) => {
  const { paths, client } = setup(t, true);
  rmSync(paths.controlToken);
  const error = await t.throwsAsync(openDashboard(client, { browser: false }, createCapturedIo(), { paths }));
  t.is(error?.message, `cannot read the control token in ${paths.controlToken}`);
});
