import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import test, { type ExecutionContext } from "ava";
import type { JsonObject } from "@bufbuild/protobuf";
import { PNG } from "pngjs";
import { chromium, type Browser, type Page } from "playwright-core";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { AuditService } from "../../gen/deploystack/gateway/v1/audit_service_pb.js";
import { createProgram } from "../../cli/program.js";
import { createCapturedIo } from "../../cli/io.js";
import { createLeakFinder } from "./helpers/canary.js";
import { createControlClients } from "./helpers/control-clients.js";
import { fixtureServer, normalServer, repoRoot, startDaemon, waitForRunning, type DaemonProcess } from "./helpers/daemon-process.js";

// The web dashboard in a real browser: Debian's Chromium, headless, driven by playwright-core against a real daemon
// serving the built page (dist/dashboard/) on its TCP control listener. No browser is downloaded: the system one is
// used (.ci/run installs the Debian package when it is missing).

/** The system Chromium: $CHROMIUM_PATH, else `chromium` on the PATH. */
function chromiumPath(): string {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) return fromEnv;
  try {
    return execFileSync("sh", ["-c", "command -v chromium || command -v chromium-browser"], { encoding: "utf8" }).trim().split("\n")[0]!;
  } catch {
    throw new Error("no chromium on the PATH: install Debian's package (apt-get install chromium) or set CHROMIUM_PATH");
  }
}

async function launchBrowser(t: ExecutionContext): Promise<Browser> {
  // --no-sandbox: CI runs as root, where Chromium refuses its sandbox.
  const browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: ["--no-sandbox", "--disable-gpu"] });
  t.teardown(() => browser.close());
  return browser;
}

/** A page whose console errors (CSP violations among them) are collected. */
async function openPage(browser: Browser): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(error.message));
  return { page, errors };
}

function get(address: string, path: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const [host, port] = address.split(":");
  return new Promise((resolve, reject) => {
    http
      .get({ host, port: Number(port), path, agent: false }, (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      })
      .on("error", reject);
  });
}

async function callEcho(daemon: DaemonProcess, tool: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    for await (const _message of daemon.clients.mcp.callTool({ name: tool, arguments: { text: `hello ${i}` } })) {
      // drained: the result is the last message
    }
  }
}

/** Calls at a rate that rises and falls, some slow, some failing (an unknown tool), for `ms`. */
async function varyTraffic(daemon: DaemonProcess, ms: number): Promise<void> {
  const start = Date.now();
  for (let second = 0; Date.now() - start < ms; second++) {
    const calls = 2 + Math.round(6 * (1 + Math.sin(second / 3)));
    const slowMs = 5 + Math.round(40 * (1 + Math.cos(second / 4)));
    const drain = async (name: string, args: JsonObject): Promise<void> => {
      try {
        for await (const _message of daemon.clients.mcp.callTool({ name, arguments: args })) {
          // drained
        }
      } catch {
        // the failing calls are the point
      }
    };
    const batch = [drain("beta-slow", { ms: slowMs })];
    for (let i = 0; i < calls; i++) batch.push(drain(i % 2 === 0 ? "alpha-echo" : "beta-echo", { text: `call ${i}` }));
    if (second % 5 === 4) batch.push(drain("alpha-missing", {}));
    await Promise.all(batch);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, start + (second + 1) * 1000 - Date.now())));
  }
}

function bearer(token: string): Interceptor {
  return (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
}

async function serves(call: () => Promise<unknown>): Promise<boolean> {
  try {
    await call();
    return true;
  } catch (error) {
    if (ConnectError.from(error).code === Code.Unimplemented) return false;
    throw error;
  }
}

test("dashboard: the page lists the servers, toggles one, shows live events and draws a non-trivial screen", async (t) => {
  const daemon = await startDaemon(t, {
    servers: [normalServer("alpha"), normalServer("beta")],
    args: ["--control-listen", "127.0.0.1:0"],
  });
  await waitForRunning(daemon, ["alpha", "beta"]);
  const { controlAddress } = await daemon.clients.gateway.getStatus({});
  const token = readFileSync(daemon.paths.controlToken, "utf8").trim();

  // The static files need no token, carry a strict CSP, and serve nothing but the built files.
  const index = await get(controlAddress, "/");
  t.is(index.status, 200);
  t.regex(String(index.headers["content-type"]), /^text\/html/);
  t.regex(String(index.headers["content-security-policy"]), /default-src 'self'/);
  t.false(/<script>|<style>|\son\w+=/i.test(index.body), "no inline script or style");
  const script = await get(controlAddress, "/dashboard/app.js");
  t.is(script.status, 200);
  t.regex(String(script.headers["content-type"]), /^text\/javascript/);
  t.is((await get(controlAddress, "/dashboard/..%2fcontrol.token")).status, 404);
  t.is((await get(controlAddress, "/dashboard/missing.js")).status, 404);

  // Some traffic first, so the audit tail, the stats and the charts have something to show.
  await callEcho(daemon, "alpha-echo", 5);
  const hasStats = await serves(() => daemon.clients.gateway.getStats({}));

  const browser = await launchBrowser(t);
  const { page, errors } = await openPage(browser);
  await page.goto(`http://${controlAddress}/#token=${token}`);
  // The token leaves the address bar and the history entry at once.
  await page.waitForSelector("#servers");
  t.false(page.url().includes(token));
  t.false(page.url().includes("#"));

  for (const name of ["alpha", "beta"]) {
    await page.waitForSelector(`tr[data-server="${name}"] td.state[data-state="running"]`);
  }
  t.deepEqual(await page.$$eval("table.servers tr[data-server]", (rows) => rows.map((row) => row.getAttribute("data-server"))), ["alpha", "beta"]);
  t.regex((await page.textContent('tr[data-server="alpha"]')) ?? "", /running/);

  // Disable beta from the page: the daemon stops it, the row says so; enable it again.
  await page.click('tr[data-server="beta"] button[data-action="disable"]');
  await page.waitForSelector('tr[data-server="beta"] td.state[data-state="stopped"]', { timeout: 60_000 });
  t.regex((await page.textContent('tr[data-server="beta"] td.state')) ?? "", /disabled/);
  t.false((await daemon.clients.servers.getServer({ name: "beta" })).server?.enabled ?? true);
  await page.click('tr[data-server="beta"] button[data-action="enable"]');
  await page.waitForSelector('tr[data-server="beta"] td.state[data-state="running"]', { timeout: 60_000 });
  t.true((await daemon.clients.servers.getServer({ name: "beta" })).server?.enabled ?? false);

  // The state changes arrived as live events (WatchEvents).
  await page.waitForSelector('ol.events li[data-kind="serverStateChanged"]');
  const eventTexts = await page.$$eval("ol.events li", (items) => items.map((item) => item.textContent ?? ""));
  t.true(eventTexts.some((text) => /beta: .*→ stopped/.test(text)), eventTexts.join("\n"));
  t.true(eventTexts.some((text) => /beta: .*→ running/.test(text)), eventTexts.join("\n"));

  // The logs panel follows a server's log (StreamServerLogs).
  await page.locator("pre.logs", { hasText: /\S/ }).waitFor();

  if (hasStats) {
    // The busiest-tools table and the charts come from GetStats.
    await callEcho(daemon, "alpha-echo", 5);
    await page.waitForSelector("table.tools td.name");
    t.regex((await page.textContent("table.tools")) ?? "", /alpha-echo/);
    t.true((await page.$$("svg.chart polyline")).length >= 2);
  } else {
    t.regex((await page.textContent("#stats")) ?? "", /not available/);
  }
  const audit = createClient(
    AuditService,
    createConnectTransport({ baseUrl: `http://${controlAddress}`, httpVersion: "1.1", interceptors: [bearer(token)] }),
  );
  if (await serves(() => audit.listAuditEvents({}))) {
    await page.locator("table.audit", { hasText: "alpha-echo" }).waitFor();
  } else {
    t.regex((await page.textContent("#audit")) ?? "", /not available/);
  }
  await page.waitForSelector('#connection[data-state="up"]');

  // `DASHBOARD_SCREENSHOT=docs/images/dashboard.png npx ava test/e2e/dashboard.test.ts` refreshes the README's image,
  // after half a minute of varied traffic so that the charts have a shape.
  const keep = process.env.DASHBOARD_SCREENSHOT;
  if (keep) await varyTraffic(daemon, 30_000);

  const folder = mkdtempSync(join(tmpdir(), "dashboard-shot-"));
  t.teardown(() => rmSync(folder, { recursive: true, force: true }));
  const shot = join(folder, "dashboard.png");
  await page.screenshot({ path: shot, fullPage: true });
  const size = statSync(shot).size;
  t.true(size > 30_000, `screenshot is ${size} bytes`);
  const png = PNG.sync.read(readFileSync(shot));
  const colours = new Set<number>();
  for (let i = 0; i < png.data.length; i += 4) colours.add(png.data.readUInt32BE(i));
  t.true(png.width >= 1000 && png.height >= 800);
  t.true(colours.size > 200, `${colours.size} distinct colours`);
  if (keep) {
    mkdirSync(dirname(join(repoRoot, keep)), { recursive: true });
    copyFileSync(shot, join(repoRoot, keep));
  }

  t.deepEqual(errors, [], "no console errors (a CSP violation would be one)");
  t.false(daemon.stdout().includes(token) || daemon.stderr().includes(token), "the token is in no daemon log");
});

test("dashboard: without a token the page says it needs one, a wrong one is refused, and RPCs without it fail", async (t) => {
  const daemon = await startDaemon(t, { servers: [normalServer("alpha")], args: ["--control-listen", "127.0.0.1:0"] });
  const { controlAddress } = await daemon.clients.gateway.getStatus({});
  const browser = await launchBrowser(t);
  const { page } = await openPage(browser);

  await page.goto(`http://${controlAddress}/`);
  await page.waitForSelector("#token-needed");
  t.regex((await page.textContent("#token-needed")) ?? "", /Token needed[\s\S]*dsctl dashboard/);
  t.is(await page.textContent("#connection"), "token needed");
  t.is(await page.$("#servers"), null, "no data panels without a token");

  // The page's own origin calling the API without the token: refused (401 for the Connect protocol).
  const anonymous = await page.evaluate(async () => {
    const response = await fetch("/deploystack.gateway.v1.ServerService/ListServers", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    return { status: response.status, body: await response.text() };
  });
  t.is(anonymous.status, 401);
  t.false(anonymous.body.includes("alpha"));

  // A fragment change is no new load: the open page takes the token from it.
  await page.goto(`http://${controlAddress}/#token=not-the-token`);
  await page.locator("#token-needed", { hasText: "refused the token" }).waitFor();
  t.false(page.url().includes("not-the-token"));
  t.is(await page.evaluate("sessionStorage.length"), 0, "a refused token is forgotten");

  // The right token pasted into the page's field works.
  await page.fill("#token-needed input", readFileSync(daemon.paths.controlToken, "utf8").trim());
  await page.click("#token-needed button");
  await page.waitForSelector('tr[data-server="alpha"]');
  t.pass();
});

test("dsctl dashboard: starts the control listener on a daemon without one and hands the browser the token outside argv", async (t) => {
  const daemon = await startDaemon(t, { servers: [normalServer("alpha")] });
  t.is((await daemon.clients.gateway.getStatus({})).controlAddress, "");

  const opened: string[] = [];
  const run = async (...argv: string[]): Promise<{ code: number; out: string; err: string }> => {
    const io = createCapturedIo();
    let code = -1;
    const program = createProgram({
      io,
      paths: daemon.paths,
      setExitCode: (value) => (code = value),
      stdin: process.stdin,
      stdout: process.stdout,
      interrupt: () => new AbortController().signal,
      throwOnUsageError: true,
      openBrowser: async (url) => {
        opened.push(url);
        return true;
      },
    });
    await program.parseAsync(["node", "dsctl", ...argv]);
    return { code, out: io.out(), err: io.err() };
  };

  // A listen address off loopback is refused by the daemon, and nothing starts.
  const offLoopback = await run("dashboard", "--listen", "0.0.0.0:0");
  t.is(offLoopback.code, 1);
  t.regex(offLoopback.err, /must be a loopback address/);
  t.is((await daemon.clients.gateway.getStatus({})).controlAddress, "");
  t.is(opened.length, 0);

  const first = await run("dashboard");
  t.is(first.code, 0, first.err);
  t.regex(first.out, /started the control listener; the dashboard is served at http:\/\/127\.0\.0\.1:\d+\//);
  const { controlAddress } = await daemon.clients.gateway.getStatus({});
  t.regex(controlAddress, /^127\.0\.0\.1:\d+$/);
  const token = readFileSync(daemon.paths.controlToken, "utf8").trim();
  t.false(first.out.includes(token), "the token is not printed when a browser was opened");

  // The opener got a file in the private run folder, not the token.
  t.is(opened.length, 1);
  t.regex(opened[0]!, /^file:\/\/.*\/run\/dashboard\.html$/);
  t.false(opened[0]!.includes(token));
  const launchFile = join(daemon.paths.runDir, "dashboard.html");
  t.is(statSync(launchFile).mode & 0o777, 0o600);
  t.true(readFileSync(launchFile, "utf8").includes(`http://${controlAddress}/#token=${token}`));

  // A second run finds the listener; --no-browser prints the address with the token and opens nothing.
  const second = await run("dashboard", "--no-browser");
  t.is(second.code, 0, second.err);
  t.regex(second.out, /^the dashboard is served at /);
  t.true(second.out.includes(`http://${controlAddress}/#token=${token}`));
  t.is(opened.length, 1);

  // Over TCP, even with the token, nobody may start listeners.
  const overTcp = createControlClients({ baseUrl: `http://${controlAddress}`, token });
  t.teardown(() => overTcp.close());
  const refused = ConnectError.from(await t.throwsAsync(overTcp.gateway.enableControlListener({})));
  t.is(refused.code, Code.PermissionDenied);

  // The launch file, opened as a browser would open it, lands on the working dashboard without the token in view.
  const browser = await launchBrowser(t);
  const { page } = await openPage(browser);
  await page.goto(opened[0]!);
  await page.waitForSelector('tr[data-server="alpha"]', { timeout: 60_000 });
  t.is(page.url(), `http://${controlAddress}/`);
});

test("dashboard: a server's secret reaches neither the page nor any answer it got", async (t) => {
  const canary = `Cn"ry/+ Tök&${Date.now().toString(36)}dash`;
  const leaksIn = createLeakFinder(canary);
  const daemon = await startDaemon(t, {
    servers: [normalServer("alpha"), { name: "leaker", args: [fixtureServer("secret-leaker.mjs")], env: { LEAKER_SECRET: canary } }],
    args: ["--control-listen", "127.0.0.1:0"],
  });
  await waitForRunning(daemon, ["alpha", "leaker"]);
  const { controlAddress } = await daemon.clients.gateway.getStatus({});
  const token = readFileSync(daemon.paths.controlToken, "utf8").trim();

  const browser = await launchBrowser(t);
  const { page } = await openPage(browser);
  // Every answer that ends (unary RPCs, the static files) is kept; the streams' content is checked on the page.
  const bodies: Array<Promise<string>> = [];
  page.on("response", (response) => {
    if (!/connect\+proto/.test(response.headers()["content-type"] ?? "")) {
      bodies.push(response.body().then((body) => body.toString("latin1") + body.toString("utf8"), () => ""));
    }
  });
  await page.goto(`http://${controlAddress}/#token=${token}`);
  await page.waitForSelector('tr[data-server="leaker"] td.state[data-state="running"]');
  // The leaker's errors and logs go to the audit tail, the events and the logs panel.
  for (const tool of ["leaker-leak_error", "leaker-leak_log"]) {
    try {
      for await (const _message of daemon.clients.mcp.callTool({ name: tool, arguments: {} })) {
        // drained
      }
    } catch {
      // leak_error answers with an error, which is the point
    }
  }
  await page.selectOption("#logs select", "leaker");
  await page.locator("pre.logs", { hasText: "***" }).waitFor();
  if (await page.$("table.audit")) await page.locator("table.audit", { hasText: "leak_error" }).waitFor();
  await page.waitForTimeout(2500); // one more round of polls (status, servers, stats)

  // The canary is live: a tool result, which passes through untouched, does hold it.
  let result = "";
  for await (const message of daemon.clients.mcp.callTool({ name: "leaker-leak_result", arguments: {} })) result += JSON.stringify(message);
  t.true(leaksIn(result).length > 0, "the leaker's result holds its secret");

  const html = await page.content();
  t.true(html.includes("leaker"), "the page shows the leaker");
  t.deepEqual(leaksIn(html), [], "the page (text and attributes)");
  const answers = await Promise.all(bodies);
  t.true(answers.length >= 5, `${answers.length} answers checked`);
  t.deepEqual(leaksIn(answers.join("\n")), [], "the answers the page received");
});

test.before(() => {
  if (!existsSync(join(repoRoot, "dist/dashboard/app.js"))) throw new Error("the dashboard is not built: run npm run build");
});
