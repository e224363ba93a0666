import { lstatSync, unlinkSync } from "node:fs";
import net from "node:net";
import { dirname } from "node:path";
import { ensurePrivateDir } from "../../shared/paths.js";
import { GatewayError } from "../errors.js";

/**
 * Makes `socketPath` ready to listen on: its folder exists with mode 0700; a socket file left
 * by a daemon that died is removed; a socket a live daemon answers on is left alone and
 * reported, because two daemons would fight over the same servers and state.
 */
export async function prepareSocketPath(socketPath: string, probeTimeoutMs = 1000): Promise<void> {
  ensurePrivateDir(dirname(socketPath));
  let isSocket: boolean;
  try {
    isSocket = lstatSync(socketPath).isSocket();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  if (!isSocket) {
    throw new GatewayError("failed_precondition", `"${socketPath}" exists and is not a socket; remove it to start the gateway`);
  }
  if (await socketAnswers(socketPath, probeTimeoutMs)) {
    throw new GatewayError("failed_precondition", `a gateway daemon is already running at ${socketPath}`);
  }
  try {
    unlinkSync(socketPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}

/**
 * Whether something accepts connections on `socketPath`. A refused or missing socket is
 * stale; a probe that neither connects nor fails within the timeout is treated as live —
 * better to refuse a start than to unlink a busy daemon's socket.
 */
export function socketAnswers(socketPath: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(socketPath);
    const finish = (answered: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answered);
    };
    const timer = setTimeout(() => finish(true), timeoutMs);
    socket.once("connect", () => finish(true));
    socket.once("error", () => finish(false));
  });
}
