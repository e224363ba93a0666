import { spawn } from "node:child_process";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import {
  AuthService,
  LoginResponseSchema,
  LogoutResponseSchema,
  WhoAmIResponseSchema,
} from "../../gen/deploystack/gateway/v1/auth_service_pb.js";
import type { CliIo } from "../io.js";
import { escapeControls, formatFields, formatTimestamp, printJson, printJsonLine } from "../output.js";

/**
 * `dsctl login | logout | whoami`: the login itself runs in the daemon (it owns the session
 * and the vault); the CLI prints the authorization URL the `Login` stream sends first —
 * always, so it works over SSH — opens it in a browser when there is one, and waits for the
 * outcome. Ctrl-C cancels the RPC, which cancels the login in the daemon.
 */

/** The client these verbs use. */
export type AuthClient = Client<typeof AuthService>;

/** Opens a URL in the user's browser; resolves false when it could not (never throws). */
export type BrowserOpener = (url: string) => Promise<boolean>;

/** Arguments of `dsctl login`. */
export interface LoginArgs {
  readonly url?: string;
  /** `--no-browser`: print the URL only. */
  readonly browser?: boolean;
  readonly timeoutMs?: number;
  readonly json?: boolean;
  readonly signal?: AbortSignal;
  /** Injectable for tests; default `openInBrowser`. */
  readonly openBrowser?: BrowserOpener;
}

/**
 * The platform's opener (`open` on macOS, `start` on Windows, `xdg-open` elsewhere), only
 * when a desktop session exists (on Linux: `DISPLAY` or `WAYLAND_DISPLAY`). A missing
 * opener is not an error: the URL was printed.
 */
export function openInBrowser(url: string, platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  let command: string;
  let args: string[];
  if (platform === "darwin") [command, args] = ["open", [url]];
  else if (platform === "win32") [command, args] = ["cmd", ["/c", "start", '""', url.replace(/&/g, "^&")]];
  else {
    if (!env.DISPLAY && !env.WAYLAND_DISPLAY) return Promise.resolve(false);
    [command, args] = ["xdg-open", [url]];
  }
  return new Promise((resolve) => {
    try {
      const child = spawn(command, args, { stdio: "ignore", detached: true, env });
      child.once("error", () => resolve(false));
      child.once("spawn", () => {
        child.unref();
        resolve(true);
      });
    } catch {
      resolve(false);
    }
  });
}

/** `dsctl login`. */
export async function login(client: AuthClient, args: LoginArgs, io: CliIo): Promise<number> {
  const openBrowser = args.openBrowser ?? openInBrowser;
  const stream = client.login(
    { url: args.url ?? "", timeout: args.timeoutMs !== undefined ? durationFromMs(args.timeoutMs) : undefined },
    { signal: args.signal },
  );
  for await (const message of stream) {
    if (args.json) printJsonLine(io, LoginResponseSchema, message);
    const step = message.step;
    if (step.case === "authorizationUrl") {
      if (!args.json) io.stdout.write(`To sign in to DeployStack, open this URL in a browser:\n\n  ${escapeControls(step.value, { singleLine: true })}\n\n`);
      if (args.browser !== false && (await openBrowser(step.value))) {
        if (!args.json) io.stderr.write("opened in your browser; waiting for it to come back…\n");
      } else if (!args.json) {
        io.stderr.write("waiting for the browser to come back…\n");
      }
    } else if (step.case === "succeeded" && !args.json) {
      const { user, team } = step.value;
      const line = `logged in as ${user?.email ?? "?"}${user?.name ? ` (${user.name})` : ""}; current team "${team?.name ?? "?"}" (role ${team?.role ?? "?"})`;
      io.stdout.write(`${escapeControls(line, { singleLine: true })}\n`);
    }
  }
  return 0;
}

/** `dsctl logout`. */
export async function logout(client: AuthClient, args: { readonly json?: boolean }, io: CliIo): Promise<number> {
  const response = await client.logout({});
  if (args.json) printJson(io, LogoutResponseSchema, response);
  else io.stdout.write("logged out of DeployStack; the gateway runs the team file again\n");
  return 0;
}

/** `dsctl whoami`: exit 1 when nobody is logged in, so scripts can test it. */
export async function whoAmI(client: AuthClient, args: { readonly json?: boolean }, io: CliIo): Promise<number> {
  const response = await client.whoAmI({});
  if (args.json) {
    printJson(io, WhoAmIResponseSchema, response);
    return response.loggedIn ? 0 : 1;
  }
  if (!response.loggedIn) {
    io.stderr.write("not logged in to DeployStack — run `dsctl login`\n");
    return 1;
  }
  io.stdout.write(
    formatFields([
      ["email", response.user?.email ?? ""],
      ["name", response.user?.name ?? ""],
      ["id", response.user?.id ?? ""],
      ["api", response.url],
      ["token expires", formatTimestamp(response.tokenExpireTime)],
    ]),
  );
  return 0;
}
