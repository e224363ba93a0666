import type { GetStatsResponse } from "../../gen/deploystack/gateway/v1/gateway_service_pb.js";
import { type DashboardClients, isUnimplemented, reasonOf } from "./clients.js";
import { createLineChart } from "./chart.js";
import { h, headerRow, panel, replaceChildren } from "./dom.js";
import { durationMs, formatMs } from "./format.js";

/**
 * Tool-call rates and latency: `GatewayService.GetStats` (the figures `dsctl top` shows, from the daemon's own
 * instrumentation) polled every few seconds; the page keeps the recent samples and draws them. A daemon without
 * `GetStats` gets a plain note instead of empty charts.
 */

/** How many samples the charts keep (at the default interval: four minutes). */
const capacity = 120;
/** The fewest samples a chart is wide: it fills from the left at first, then scrolls. */
const minimumSpan = 30;

/** The charts and the busiest-tools table. */
export interface StatsView {
  readonly root: HTMLElement;
  /** Polls until `signal` aborts. */
  run(signal: AbortSignal, intervalMs?: number): Promise<void>;
}

/** Creates the view. */
export function createStatsView(clients: DashboardClients): StatsView {
  const note = h("p", { class: "message" });
  const { root, body } = panel("stats", "Tool calls", note);
  const rate = createLineChart("Calls per second (60 s window)");
  const latency = createLineChart("Latency (60 s window)");
  const tools = h("tbody");
  const toolsTable = h(
    "table",
    { class: "tools" },
    headerRow(["Busiest tools", "Server", "Calls>", "Errors>", "p50>", "p99>"]),
    tools,
  );
  body.append(h("div", { class: "charts" }, rate.root, latency.root), toolsTable);
  const calls: number[] = [];
  const errors: number[] = [];
  const p50: number[] = [];
  const p99: number[] = [];
  const push = (values: number[], value: number): void => {
    values.push(value);
    if (values.length > capacity) values.shift();
  };

  const show = (stats: GetStatsResponse): void => {
    const total = stats.total;
    const windowSeconds = Math.max(1, durationMs(stats.window) / 1000);
    push(calls, total?.callsPerSecond ?? 0);
    push(errors, Number(total?.errors ?? 0n) / windowSeconds);
    push(p50, durationMs(total?.p50));
    push(p99, durationMs(total?.p99));
    const span = Math.max(minimumSpan, calls.length);
    const perSecond = (value: number): string => `${value.toFixed(value < 10 ? 2 : 0)}/s`;
    rate.draw(
      [
        { label: "calls", className: "s1", values: calls },
        { label: "errors", className: "s3", values: errors },
      ],
      span,
      perSecond,
    );
    latency.draw(
      [
        { label: "p50", className: "s1", values: p50 },
        { label: "p99", className: "s2", values: p99 },
      ],
      span,
      formatMs,
    );
    const rows = stats.tools.map((tool) =>
      h(
        "tr",
        {},
        h("td", { class: "name" }, tool.tool),
        h("td", {}, tool.server),
        h("td", { class: "num" }, String(tool.calls?.calls ?? 0n)),
        h("td", { class: "num" }, String(tool.calls?.errors ?? 0n)),
        h("td", { class: "num" }, formatMs(durationMs(tool.calls?.p50))),
        h("td", { class: "num" }, formatMs(durationMs(tool.calls?.p99))),
      ),
    );
    replaceChildren(tools, ...(rows.length > 0 ? rows : [h("tr", {}, h("td", { class: "muted", attrs: { colspan: "6" } }, "no calls in the window"))]));
  };

  return {
    root,
    async run(signal, intervalMs = 2000) {
      while (!signal.aborted) {
        try {
          show(await clients.gateway.getStats({}, { signal }));
          note.textContent = "";
        } catch (error) {
          if (signal.aborted) return;
          if (isUnimplemented(error)) {
            root.classList.add("unavailable");
            note.textContent = "";
            replaceChildren(body, h("p", { class: "placeholder" }, "Call rates and latency are not available: this daemon does not serve GetStats."));
            return;
          }
          note.textContent = reasonOf(error);
        }
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
      }
    },
  };
}
