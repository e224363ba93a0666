import { LogSource } from "../../gen/deploystack/gateway/v1/server_pb.js";
import { type DashboardClients, keepStreaming } from "./clients.js";
import { h, panel } from "./dom.js";
import { clockTime } from "./format.js";

/**
 * One server's log (`ServerService.StreamServerLogs`, followed): its stderr and the supervisor's lifecycle lines,
 * secrets already masked by the daemon. A picker chooses the server; changing it ends one stream and opens another.
 */

/** How many lines the view keeps. */
const maxLines = 1000;

/** The panel and the way to keep its picker in step with the servers table. */
export interface LogsView {
  readonly root: HTMLElement;
  setServers(names: readonly string[]): void;
  run(signal: AbortSignal, onState: (state: "up" | "down", reason?: string) => void): void;
}

/** Creates the view. */
export function createLogsView(clients: DashboardClients): LogsView {
  const picker = h("select", { attrs: { "aria-label": "server" } });
  const { root, body } = panel("logs", "Server logs", picker);
  const output = h("pre", { class: "logs", attrs: { "aria-live": "off" } });
  body.append(output);
  let current: AbortController | undefined;
  let outer: AbortSignal | undefined;
  let report: (state: "up" | "down", reason?: string) => void = () => {};

  const follow = (name: string): void => {
    current?.abort();
    output.replaceChildren();
    if (!outer || outer.aborted || name === "") return;
    const controller = new AbortController();
    current = controller;
    outer.addEventListener("abort", () => controller.abort(), { once: true });
    void keepStreaming(
      async (signal) => {
        output.replaceChildren();
        for await (const message of clients.servers.streamServerLogs({ name, follow: true, tailLines: 200 }, { signal })) {
          report("up");
          const line = message.line;
          if (!line) continue;
          const source = line.source === LogSource.SUPERVISOR ? "supervisor" : "stderr";
          output.append(h("span", { class: source }, `${clockTime(line.time)} ${line.text}\n`));
          while (output.childNodes.length > maxLines) output.firstChild?.remove();
          if (output.scrollHeight - output.scrollTop - output.clientHeight < 40) output.scrollTop = output.scrollHeight;
        }
      },
      controller.signal,
      report,
    ).catch(() => undefined);
  };
  picker.addEventListener("change", () => follow(picker.value));

  return {
    root,
    setServers(names) {
      const selected = picker.value;
      picker.replaceChildren(...names.map((name) => h("option", { attrs: { value: name } }, name)));
      if (names.includes(selected)) picker.value = selected;
      else if (names.length > 0) {
        picker.value = names[0]!;
        follow(picker.value);
      } else follow("");
    },
    run(signal, onState) {
      outer = signal;
      report = onState;
      if (picker.value !== "") follow(picker.value);
    },
  };
}
