import { AuditOutcome, type AuditEvent } from "../../gen/deploystack/gateway/v1/audit_pb.js";
import { type DashboardClients, isUnimplemented, keepStreaming } from "./clients.js";
import { h, headerRow, panel, replaceChildren } from "./dom.js";
import { clockTime, durationMs, formatMs, operationName, outcomeName } from "./format.js";

/** The audit tail: `AuditService.WatchAuditEvents` with the recent events first, then each new one; newest on top. */

/** How many rows the tail keeps. */
const maxRows = 200;

/** The table and its stream. */
export interface AuditView {
  readonly root: HTMLElement;
  run(signal: AbortSignal, onState: (state: "up" | "down", reason?: string) => void): Promise<void>;
}

/** Creates the view. */
export function createAuditView(clients: DashboardClients): AuditView {
  const { root, body } = panel("audit", "Audit tail");
  const rows = h("tbody");
  const empty = (): HTMLTableRowElement => h("tr", { class: "placeholder" }, h("td", { class: "muted", attrs: { colspan: "7" } }, "no calls yet"));
  rows.append(empty());
  body.append(
    h(
      "table",
      { class: "audit" },
      headerRow(["Time", "Client", "Kind", "Name", "Server", "Outcome", "Duration>"]),
      rows,
    ),
  );
  const add = (event: AuditEvent): void => {
    rows.querySelector(".placeholder")?.remove();
    const outcome = outcomeName(event.outcome);
    const tone = event.outcome === AuditOutcome.OK ? "ok" : "bad";
    const client = event.client ? [event.client.name, event.client.era].filter(Boolean).join(" · ") : "";
    rows.prepend(
      h(
        "tr",
        {},
        h("td", {}, clockTime(event.time)),
        h("td", {}, client),
        h("td", {}, operationName(event.operation)),
        h("td", { class: "name", title: event.canonicalName }, event.exposedName),
        h("td", {}, event.server),
        h("td", { title: event.errorCode }, h("span", { class: `badge ${tone}` }, outcome)),
        h("td", { class: "num" }, formatMs(durationMs(event.duration))),
      ),
    );
    while (rows.children.length > maxRows) rows.lastElementChild?.remove();
  };
  return {
    root,
    async run(signal, onState) {
      try {
        await keepStreaming(
          async (streamSignal) => {
            replaceChildren(rows, empty());
            for await (const message of clients.audit.watchAuditEvents({ tail: 50, follow: true }, { signal: streamSignal })) {
              onState("up");
              if (message.event) add(message.event);
            }
          },
          signal,
          onState,
        );
      } catch (error) {
        if (!isUnimplemented(error)) throw error;
        replaceChildren(body, h("p", { class: "placeholder" }, "The audit log is not available: this daemon does not serve AuditService."));
      }
    },
  };
}
