/**
 * What the steady-state tools (`ab.mjs`: one gateway setting alone; `pair.mjs`: two at the same time) share: the
 * gateway settings they compare, the clients they drive it with, and the loop of echo calls.
 */
import { settingOptions, startGateway } from "./contenders.mjs";

export { needsSink } from "./contenders.mjs";
import { openLeanSession, openModernSession, openStreamableHttpSession } from "./sessions.mjs";

/** The clients: the SDK v1/v2 clients (`legacy`, `modern`), or the lean client of either era (`raw-legacy`, `raw-modern`). */
export const CLIENTS = ["legacy", "modern", "raw-legacy", "raw-modern"];

/**
 * Starts a gateway in `setting` (contenders.mjs `settingOptions` says what each is) with one server; `extraEnv` goes
 * on top (for example the hop timers' folder).
 */
export function startGatewayIn(paths, server, setting, sink, extraEnv = {}) {
  const { auditEnabled, env } = settingOptions(setting, sink);
  return startGateway(paths, [server], { auditEnabled, env: { ...env, ...extraEnv } });
}

/** Opens one session of `client` (one of `CLIENTS`) on the MCP endpoint `url`. */
export function openClient(client, url) {
  switch (client) {
    case "modern":
      return openModernSession(url);
    case "raw-modern":
      return openLeanSession(url, "modern");
    case "raw-legacy":
      return openLeanSession(url, "legacy");
    case "legacy":
      return openStreamableHttpSession(url);
    default:
      throw new Error(`unknown client "${client}" (one of ${CLIENTS.join(", ")})`);
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Every session calls `echo` back to back for `ms` (a closed loop), each result checked; with `rate`, the sessions
 * together are paced to that many calls a second instead (session i makes its k-th call at begin + (k + i / n) × n /
 * rate; a late call goes at once). Pushes each call's milliseconds to `latencies` when given. Resolves with the calls
 * made; rejects on a wrong result.
 */
export async function echoLoad(sessions, echo, ms, { rate, latencies } = {}) {
  const begin = performance.now();
  const deadline = begin + ms;
  const intervalMs = rate ? (sessions.length * 1000) / rate : 0;
  let calls = 0;
  await Promise.all(
    sessions.map(async (session, index) => {
      for (let k = 0; performance.now() < deadline; k++) {
        if (intervalMs > 0) {
          const due = begin + (k + index / sessions.length) * intervalMs;
          if (due >= deadline) break;
          const wait = due - performance.now();
          if (wait > 0) await sleep(wait);
        }
        const text = `s${index}-${calls}`;
        const started = performance.now();
        const result = await session.call(echo, { text });
        latencies?.push(performance.now() - started);
        if (!JSON.stringify(result).includes(text)) throw new Error("wrong result");
        calls++;
      }
    }),
  );
  return calls;
}

/** The exposed name of the echo tool, from the first session's `tools/list`. */
export async function echoToolOf(session) {
  return (await session.listTools()).find((tool) => tool.name.endsWith("echo")).name;
}
