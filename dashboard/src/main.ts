import { Code, ConnectError } from "@connectrpc/connect";
import type { GetStatusResponse } from "../../gen/deploystack/gateway/v1/gateway_service_pb.js";
import { createAuditView } from "./audit-view.js";
import { createDashboardClients, keepStreaming, reasonOf, type DashboardClients } from "./clients.js";
import { h, replaceChildren } from "./dom.js";
import { createEventsView } from "./events-view.js";
import { durationMs, formatMs } from "./format.js";
import { createLogsView } from "./logs-view.js";
import { createServersView } from "./servers-view.js";
import { createStatsView } from "./stats-view.js";
import { forgetToken, storeToken, takeToken } from "./token.js";

/**
 * The dashboard's entry point: takes the control token, proves it with `GetStatus`, then lays out the panels and
 * keeps them live (events and logs as streams, servers and status re-read every few seconds, stats polled).
 * Without a token, or with one the daemon refuses, the page says what it needs and how to get it.
 */

const app = document.getElementById("app")!;
const statusLine = document.getElementById("status-line")!;
const connection = document.getElementById("connection")!;
const refreshMs = 5000;

function setConnection(state: "connecting" | "up" | "down" | "locked", text: string): void {
  connection.dataset.state = state;
  connection.textContent = text;
}

/** The "token needed" state: why, how to get one (`dsctl dashboard`), and a field to paste one. */
function showTokenNeeded(reason: string): void {
  setConnection("locked", "token needed");
  statusLine.textContent = "";
  const input = h("input", { attrs: { type: "password", autocomplete: "off", placeholder: "control token", "aria-label": "control token" } });
  const use = (): void => {
    const token = input.value.trim();
    if (token === "") return;
    storeToken(token);
    void start(token);
  };
  input.addEventListener("keydown", (event) => {
    if ((event as KeyboardEvent).key === "Enter") use();
  });
  replaceChildren(
    app,
    h(
      "section",
      { class: "panel token-needed", attrs: { id: "token-needed" } },
      h("h2", {}, "Token needed"),
      h("p", {}, reason),
      h("p", {}, "Run ", h("code", {}, "dsctl dashboard"), " to open this page with the token, or paste the token from ", h("code", {}, "control.token"), " in the gateway's state folder:"),
      h("p", { class: "token-form" }, input, h("button", { attrs: { type: "button" }, on: { click: use } }, "Use token")),
    ),
  );
}

function describeStatus(status: GetStatusResponse): string {
  const parts = [
    status.team ? `team ${status.team.name}` : "no team",
    `v${status.version}`,
    `up ${formatMs(durationMs(status.uptime))}`,
    `${status.sessionCount} session${status.sessionCount === 1 ? "" : "s"}`,
  ];
  if (status.mcpUrl) parts.push(status.mcpUrl);
  if (status.configError) parts.push(`team file not applied: ${status.configError.message}`);
  return parts.join(" · ");
}

let running: AbortController | undefined;

async function start(token: string): Promise<void> {
  running?.abort();
  const controller = new AbortController();
  running = controller;
  const { signal } = controller;
  const refused = (): void => {
    if (signal.aborted) return;
    controller.abort();
    forgetToken();
    showTokenNeeded("The gateway refused the token (it changes when control.token is replaced).");
  };
  const clients = createDashboardClients(token, refused);
  setConnection("connecting", "connecting");
  let status: GetStatusResponse;
  try {
    status = await clients.gateway.getStatus({}, { signal });
  } catch (error) {
    if (signal.aborted) return;
    if (ConnectError.from(error).code !== Code.Unauthenticated) {
      setConnection("down", "offline");
      replaceChildren(
        app,
        h("section", { class: "panel token-needed" }, h("h2", {}, "Cannot reach the gateway"), h("p", {}, reasonOf(error)), h("p", { class: "muted" }, "Trying again…")),
      );
      setTimeout(() => {
        if (!signal.aborted) void start(token);
      }, 3000);
    }
    return;
  }
  statusLine.textContent = describeStatus(status);
  layout(clients, signal);
}

function layout(clients: DashboardClients, signal: AbortSignal): void {
  const logs = createLogsView(clients);
  const servers = createServersView(clients, () => logs.setServers(servers.names()));
  const events = createEventsView();
  const stats = createStatsView(clients);
  const audit = createAuditView(clients);
  replaceChildren(
    app,
    h("div", { class: "grid" }, servers.root, events.root, stats.root, audit.root, logs.root),
  );

  const refresh = async (): Promise<void> => {
    const [status, list] = await Promise.all([clients.gateway.getStatus({}, { signal }), clients.servers.listServers({}, { signal })]);
    statusLine.textContent = describeStatus(status);
    servers.setAll(list.servers);
  };
  const poll = async (): Promise<void> => {
    while (!signal.aborted) {
      try {
        await refresh();
        if (connection.dataset.state !== "up") setConnection("up", "live");
      } catch (error) {
        if (signal.aborted) return;
        setConnection("down", `offline: ${reasonOf(error)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, refreshMs));
    }
  };
  void poll();

  const streamState = (state: "up" | "down", reason?: string): void => {
    if (state === "up") setConnection("up", "live");
    else setConnection("down", `reconnecting${reason ? `: ${reason}` : ""}`);
  };
  void keepStreaming(
    async (streamSignal) => {
      for await (const message of clients.gateway.watchEvents({}, { signal: streamSignal })) {
        const event = message.event;
        if (!event) continue;
        events.add(event);
        if (event.kind.case === "serverStateChanged" && event.kind.value.server) servers.upsert(event.kind.value.server);
        else void refresh().catch(() => undefined);
      }
    },
    signal,
    streamState,
  );
  void stats.run(signal);
  void audit.run(signal, () => undefined).catch(() => undefined);
  logs.run(signal, () => undefined);
}

// A token pasted into the address of an open page arrives as a fragment change, not a new load.
window.addEventListener("hashchange", () => {
  if (!location.hash.includes("token=")) return;
  const fresh = takeToken();
  if (fresh !== undefined) void start(fresh);
});

const token = takeToken();
if (token === undefined) showTokenNeeded("This page shows the gateway's servers, calls and logs; every request to the gateway needs its control token.");
else void start(token);
