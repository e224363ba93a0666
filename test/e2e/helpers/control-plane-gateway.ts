import { execFile } from "node:child_process";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ExecutionContext } from "ava";
import type { Client } from "@connectrpc/connect";
import type { AuthService } from "../../../gen/deploystack/gateway/v1/auth_service_pb.js";
import type { LoginSucceeded } from "../../../gen/deploystack/gateway/v1/auth_service_pb.js";
import { followAuthorizationUrl } from "../../fixtures/fake-deploystack/fake-deploystack.js";
import { startDaemon, waitUntil, type DaemonProcess, type StartDaemonOptions } from "./daemon-process.js";
import { dsctlEntry, type CommandResult } from "./mcp-gateway.js";

/**
 * Helpers of the control-plane end-to-end tests: a real daemon (with its frontend) started
 * with control-plane flags, multi-team files, a headless DeployStack login (read the URL
 * from the `Login` stream, let the fake redirect to the loopback callback), dsctl runs, and
 * searches of the state folder for secrets.
 */

/** One team of a multi-team file. */
export interface FileTeam {
  readonly id: string;
  readonly name?: string;
  readonly role?: string;
  readonly servers: readonly Record<string, unknown>[];
  readonly policy?: Record<string, unknown>;
}

/** Writes a multi-team file (JSON) at `path`, with an optional `gateway:` section. */
export function writeTeamsFile(path: string, teams: readonly FileTeam[], defaultTeam?: string, gateway?: Record<string, unknown>): string {
  writeFileSync(path, JSON.stringify({ ...(gateway ? { gateway } : {}), defaultTeam: defaultTeam ?? teams[0]?.id, teams }, null, 2));
  return path;
}

/** A daemon with the frontend's URL known. */
export interface ControlPlaneGateway {
  readonly daemon: DaemonProcess;
  readonly home: string;
  /** `http://localhost:PORT/mcp` once the frontend runs. */
  mcpUrl(): Promise<string>;
  /** Runs the built dsctl against this daemon. */
  dsctl(args: readonly string[], timeoutMs?: number): Promise<CommandResult>;
}

/** Flags that keep tests hermetic: no OS keychain, a free callback port, no periodic sync. */
export const HERMETIC_ARGS = ["--oauth-callback-port", "0"] as const;

/** Starts a daemon for a control-plane test (the keychain is off: the key-file path, as in CI). */
export async function startControlPlaneGateway(t: ExecutionContext, options: StartDaemonOptions): Promise<ControlPlaneGateway> {
  const daemon = await startDaemon(t, {
    ...options,
    args: [...HERMETIC_ARGS, ...(options.args ?? [])],
    env: { DEPLOYSTACK_KEYCHAIN: "off", ...options.env },
  });
  return {
    daemon,
    home: daemon.home,
    async mcpUrl() {
      let url = "";
      const ok = await waitUntil(async () => {
        const status = await daemon.clients.gateway.getStatus({});
        if (!status.frontendRunning || !status.mcpUrl) return false;
        url = status.mcpUrl;
        return true;
      }, 90_000);
      if (!ok) throw new Error(`the frontend did not come up.\nstderr:\n${daemon.stderr()}`);
      return url;
    },
    dsctl: (args, timeoutMs = 60_000) => runDsctl(daemon.home, args, timeoutMs),
  };
}

/** Runs `node dist/cli/main.js ARGS` with `DEPLOYSTACK_HOME=home`. */
export function runDsctl(home: string, args: readonly string[], timeoutMs = 60_000): Promise<CommandResult> {
  return new Promise<CommandResult>((resolveRun) => {
    execFile(process.execPath, [dsctlEntry, ...args], { env: { ...process.env, DEPLOYSTACK_HOME: home }, timeout: timeoutMs }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolveRun({ code, stdout, stderr });
    });
  });
}

/**
 * Logs in through `AuthService.Login` like `dsctl login --no-browser` would, playing the
 * browser with `followAuthorizationUrl`. Resolves with the `succeeded` step.
 */
export async function loginHeadlessly(
  auth: Client<typeof AuthService>,
  options: { readonly url?: string; readonly onUrl?: (url: string) => void } = {},
): Promise<LoginSucceeded> {
  let browser: Promise<unknown> | undefined;
  for await (const message of auth.login({ url: options.url ?? "" })) {
    if (message.step.case === "authorizationUrl") {
      options.onUrl?.(message.step.value);
      browser = followAuthorizationUrl(message.step.value);
      browser.catch(() => undefined);
    } else if (message.step.case === "succeeded") {
      await browser;
      return message.step.value;
    }
  }
  throw new Error("the Login stream ended without an outcome");
}

/** Every file under `dir` (recursively) whose bytes contain `needle`. */
export function filesContaining(dir: string, needle: string): string[] {
  const found: string[] = [];
  const walk = (folder: string): void => {
    let entries: string[];
    try {
      entries = readdirSync(folder);
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(folder, entry);
      let stat;
      try {
        stat = statSync(path);
      } catch {
        continue;
      }
      if (stat.isDirectory()) walk(path);
      else if (stat.isFile()) {
        try {
          if (readFileSync(path).includes(needle)) found.push(path);
        } catch {
          // sockets and vanished files
        }
      }
    }
  };
  walk(dir);
  return found;
}

/** Every file under `dir`, relative paths, sorted. */
export function listFiles(dir: string, prefix = ""): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const relative = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) files.push(...listFiles(dir, relative));
    else files.push(relative);
  }
  return files.sort();
}

/** The argv of `pid` (from /proc), or empty when it is gone. */
export function commandLineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}
