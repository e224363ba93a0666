import { readFileSync, writeFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { create } from "@bufbuild/protobuf";
import { EnableControlListenerResponseSchema } from "../../gen/deploystack/gateway/v1/gateway_service_pb.js";
import type { StatePaths } from "../../shared/paths.js";
import { CliFailure } from "../run-verb.js";
import type { CliIo } from "../io.js";
import { printJson } from "../output.js";
import { openInBrowser, type BrowserOpener } from "./auth.js";
import type { GatewayClient } from "./daemon.js";

/**
 * `dsctl dashboard`: makes sure the daemon serves its loopback TCP control listener (asking it to start one over the
 * unix socket when it was started without `--control-listen`) and opens the web dashboard with the control token.
 *
 * The token travels in the URL's fragment (`http://127.0.0.1:PORT/#token=…`): browsers never send a fragment to the
 * server, so it appears in no request line or server log, and the page removes it from the address bar at once.
 * Nor does it go on a command line: a browser opener gets its URL in argv, which any local user can read in
 * /proc, and the token exists precisely to keep other local users out of the control API. So the opener is handed
 * a small page in the private run folder (0700, the file 0600, beside control.token which holds the same token)
 * that forwards the browser to the real address. `--no-browser` prints the address with the token instead.
 */

/** Arguments of `dsctl dashboard`. */
export interface DashboardArgs {
  /** `--no-browser`: print the address to open instead of opening it. */
  readonly browser?: boolean;
  /** `--listen HOST:PORT`: where to start the listener when it is not running; default 127.0.0.1 on a free port. */
  readonly listen?: string;
  readonly json?: boolean;
}

/** What the verb needs besides the client. */
export interface DashboardDeps {
  readonly paths: Pick<StatePaths, "controlToken" | "runDir">;
  /** Default: the platform's opener (the one `dsctl login` uses). */
  readonly openBrowser?: BrowserOpener;
}

/** The file handed to the browser opener, in the run folder. */
export const DASHBOARD_LAUNCH_FILE = "dashboard.html";

/** The dashboard's address on the listener at `address`, with the token in the fragment. */
export function dashboardUrl(address: string, token: string): string {
  return `http://${address}/#token=${encodeURIComponent(token)}`;
}

/** A page that sends the browser on to `url` without script (a file page is not under the dashboard's CSP anyway). */
function launchPage(url: string): string {
  const attribute = url.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">
<meta http-equiv="refresh" content="0;url=${attribute}">
<title>DeployStack Gateway dashboard</title></head>
<body><p>Opening the <a href="${attribute}">DeployStack Gateway dashboard</a>…</p></body></html>
`;
}

/** `dsctl dashboard`. */
export async function openDashboard(client: GatewayClient, args: DashboardArgs, io: CliIo, deps: DashboardDeps): Promise<number> {
  const response = await client.enableControlListener({ address: args.listen ?? "" });
  let token: string;
  try {
    token = readFileSync(deps.paths.controlToken, "utf8").trim();
  } catch {
    throw new CliFailure(`cannot read the control token in ${deps.paths.controlToken}`);
  }
  if (token === "") throw new CliFailure(`the control token file ${deps.paths.controlToken} is empty`);
  const url = dashboardUrl(response.address, token);
  const plain = `http://${response.address}/`;
  if (args.json) printJson(io, EnableControlListenerResponseSchema, create(EnableControlListenerResponseSchema, response));

  let opened = false;
  if (args.browser !== false) {
    const launchFile = join(deps.paths.runDir, DASHBOARD_LAUNCH_FILE);
    writeFileSync(launchFile, launchPage(url), { mode: 0o600 });
    chmodSync(launchFile, 0o600);
    opened = await (deps.openBrowser ?? openInBrowser)(pathToFileURL(launchFile).href);
  }
  if (args.json) return 0;
  const where = response.alreadyListening ? `the dashboard is served at ${plain}` : `started the control listener; the dashboard is served at ${plain}`;
  if (opened) {
    io.stdout.write(`${where}\nopened it in your browser\n`);
  } else {
    io.stdout.write(`${where}\nopen this address in a browser on this machine (it carries the control token; do not share it):\n\n  ${url}\n\n`);
  }
  return 0;
}
