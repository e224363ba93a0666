import { timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { GatewayError } from "../errors.js";
import { CALLBACK_PATH } from "./cloud-contract.js";

/**
 * The loopback redirect listener of the login (RFC 8252 §7.3): a tiny HTTP server on
 * `localhost:<port>` that waits for the browser to come back from the authorization
 * endpoint with `code` and `state`. A callback whose `state` does not match is answered
 * 400 and ignored — it cannot be the browser this login sent, and must neither finish nor
 * abort it — so the real callback can still arrive. The listener gives up after a time
 * limit with a message saying what it was waiting for.
 */

/** Options of `startCallbackListener`. */
export interface CallbackListenerOptions {
  /** The port; 8976 is what DeployStack accepts, 0 picks a free one (tests). */
  readonly port: number;
  /** The `state` sent in the authorization request. */
  readonly expectedState: string;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  /** Who is being signed in to, for the browser page and errors; default "DeployStack". */
  readonly provider?: string;
  /** The command that starts the login again, for the timeout message; default `dsctl login`. */
  readonly retryCommand?: string;
  /**
   * RFC 9207 §2.4: judges the response's `iss` (null when absent) before anything else in
   * it is acted on or shown, error responses included. Returns a reason to refuse the
   * response (which ends the login), or undefined to accept it.
   */
  readonly checkIssuer?: (iss: string | null) => string | undefined;
}

/** A waiting listener. */
export interface CallbackListener {
  /** `http://localhost:<port>/oauth/callback`. */
  readonly redirectUri: string;
  /** The authorization code; rejects on error, timeout or cancellation. */
  readonly code: Promise<string>;
  /** Stops listening (and rejects `code` if it is still pending). */
  close(): void;
}

const PAGE_STYLE = "font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;line-height:1.5";

/** Starts listening on 127.0.0.1 (and ::1 when available) at `options.port`. */
export async function startCallbackListener(options: CallbackListenerOptions): Promise<CallbackListener> {
  const providerName = options.provider ?? "DeployStack";
  const retryCommand = options.retryCommand ?? "dsctl login";
  let settle: { resolve(code: string): void; reject(error: GatewayError): void } | undefined;
  const code = new Promise<string>((resolve, reject) => {
    settle = { resolve, reject };
  });
  code.catch(() => {});
  let done = false;
  let timer: NodeJS.Timeout | undefined;
  const finish = (outcome: { code: string } | { error: GatewayError }): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
    for (const server of servers) {
      // Let the answer to the browser go out, then drop whatever is still open.
      server.close();
      server.closeIdleConnections();
      setTimeout(() => server.closeAllConnections(), 1_000).unref();
    }
    if ("code" in outcome) settle!.resolve(outcome.code);
    else settle!.reject(outcome.error);
  };

  const handler = (req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse): void => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (req.method !== "GET" || url.pathname !== CALLBACK_PATH) {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found\n");
      return;
    }
    const state = url.searchParams.get("state") ?? "";
    if (!sameState(state, options.expectedState)) {
      page(res, 400, "Login not completed", `This sign-in response does not belong to the login the gateway is waiting for. Start again with <code>${retryCommand}</code> if needed.`);
      return;
    }
    const refusal = options.checkIssuer?.(url.searchParams.get("iss"));
    if (refusal !== undefined) {
      page(res, 400, "Login refused", "The sign-in response did not come from the expected authorization server. You can close this window.");
      finish({ error: new GatewayError("permission_denied", refusal) });
      return;
    }
    const error = url.searchParams.get("error");
    if (error) {
      const description = (url.searchParams.get("error_description") ?? "").slice(0, 200);
      page(res, 400, "Login refused", `${providerName} did not authorize the gateway. You can close this window.`);
      finish({
        error: new GatewayError("permission_denied", `${providerName} refused the authorization: ${error.slice(0, 60)}${description ? ` (${description})` : ""}`),
      });
      return;
    }
    const received = url.searchParams.get("code");
    if (!received) {
      page(res, 400, "Login not completed", "The sign-in response carried no authorization code.");
      return;
    }
    page(res, 200, "Logged in", `DeployStack Gateway is signed in${options.provider ? ` to ${options.provider}` : ""}. You can close this window.`);
    finish({ code: received });
  };

  const servers: Server[] = [];
  const primary = createServer(handler);
  servers.push(primary);
  try {
    await listen(primary, options.port, "127.0.0.1");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "EADDRINUSE" ? "the port is in use" : String((error as Error).message);
    throw new GatewayError(
      "unavailable",
      `cannot listen for the login callback on localhost:${options.port} (${reason}) — is another \`${retryCommand}\` running?`,
      { cause: error },
    );
  }
  const port = (primary.address() as AddressInfo).port;
  // Browsers may resolve localhost to ::1 first; answer there too when IPv6 loopback exists.
  const secondary = createServer(handler);
  await listen(secondary, port, "::1").then(
    () => servers.push(secondary),
    () => {},
  );

  const redirectUri = `http://localhost:${port}${CALLBACK_PATH}`;
  timer = setTimeout(() => {
    finish({
      error: new GatewayError(
        "deadline_exceeded",
        `login timed out after ${Math.round(options.timeoutMs / 1000)} s waiting for the browser to return to ${redirectUri} — run \`${retryCommand}\` again`,
      ),
    });
  }, options.timeoutMs);
  if (done) clearTimeout(timer);
  const onAbort = (): void => finish({ error: new GatewayError("cancelled", "login cancelled") });
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener("abort", onAbort, { once: true });

  return {
    redirectUri,
    code,
    close: () => finish({ error: new GatewayError("cancelled", "login cancelled") }),
  };
}

function sameState(received: string, expected: string): boolean {
  const a = Buffer.from(received);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

function page(res: import("node:http").ServerResponse, status: number, title: string, text: string): void {
  res
    .writeHead(status, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store", "referrer-policy": "no-referrer" })
    .end(`<!doctype html><meta charset="utf-8"><title>${title}</title><body style="${PAGE_STYLE}"><h1>${title}</h1><p>${text}</p></body>\n`);
}
