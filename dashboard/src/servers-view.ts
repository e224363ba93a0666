import { ServerState, type Server } from "../../gen/deploystack/gateway/v1/server_pb.js";
import type { DashboardClients } from "./clients.js";
import { reasonOf } from "./clients.js";
import { h, headerRow, panel, replaceChildren } from "./dom.js";
import { eraOf, stateName } from "./format.js";

/**
 * The servers table: state, era, restarts, tools and last error per server, with enable/disable and restart
 * buttons. Rows are keyed by name and updated in place from `ListServers` and from `WatchEvents` state changes.
 */

/** The table and the ways to feed it. */
export interface ServersView {
  readonly root: HTMLElement;
  /** Replaces the whole list (a `ListServers` answer). */
  setAll(servers: readonly Server[]): void;
  /** Updates one server (an RPC answer or a state-change event). */
  upsert(server: Server): void;
  /** The names shown, sorted. */
  names(): string[];
}

const healthy = new Set([ServerState.RUNNING, ServerState.IDLE]);
const troubled = new Set([ServerState.BACKOFF, ServerState.FAILED, ServerState.UNHEALTHY, ServerState.INVALID, ServerState.NEEDS_AUTH]);

/** Creates the view; `onChange` runs when the set of names changes (the logs picker follows it). */
export function createServersView(clients: DashboardClients, onChange: () => void): ServersView {
  const message = h("p", { class: "message", attrs: { role: "status" } });
  const { root, body } = panel("servers", "Servers", message);
  const tbody = h("tbody");
  const table = h(
    "table",
    { class: "servers" },
    headerRow(["Server", "State", "Era", "Restarts>", "Tools>", "Last error", ""]),
    tbody,
  );
  body.append(table);
  const servers = new Map<string, Server>();

  const act = async (button: HTMLButtonElement, name: string, action: "enable" | "disable" | "restart"): Promise<void> => {
    button.disabled = true;
    message.textContent = "";
    try {
      const request = { name };
      const response =
        action === "enable"
          ? await clients.servers.enableServer(request)
          : action === "disable"
            ? await clients.servers.disableServer(request)
            : await clients.servers.restartServer(request);
      if (response.server) upsert(response.server);
    } catch (error) {
      message.textContent = `${action} ${name}: ${reasonOf(error)}`;
    } finally {
      button.disabled = false;
    }
  };

  const row = (server: Server): HTMLTableRowElement => {
    const state = stateName(server.state);
    const tone = !server.enabled ? "off" : healthy.has(server.state) ? "ok" : troubled.has(server.state) ? "bad" : "busy";
    const toggle = server.enabled ? "disable" : "enable";
    const toggleButton = h("button", { attrs: { type: "button", "data-action": toggle } }, server.enabled ? "Disable" : "Enable");
    toggleButton.addEventListener("click", () => void act(toggleButton, server.name, toggle));
    const restartButton = h("button", { attrs: { type: "button", "data-action": "restart" } }, "Restart");
    restartButton.addEventListener("click", () => void act(restartButton, server.name, "restart"));
    restartButton.disabled = !server.enabled;
    return h(
      "tr",
      { attrs: { "data-server": server.name } },
      h("td", { class: "name" }, server.name),
      h(
        "td",
        { class: "state", attrs: { "data-state": state } },
        h("span", { class: `badge ${tone}` }, server.enabled ? state : `${state} (disabled)`),
      ),
      h("td", { class: "era", title: server.protocolVersion }, eraOf(server)),
      h("td", { class: "num" }, String(server.restarts)),
      h("td", { class: "num" }, String(server.toolCount)),
      h("td", { class: "error", title: server.lastError }, server.lastError),
      h("td", { class: "actions" }, toggleButton, restartButton),
    );
  };

  const render = (): void => {
    const sorted = [...servers.values()].sort((a, b) => a.name.localeCompare(b.name));
    if (sorted.length === 0) {
      replaceChildren(tbody, h("tr", {}, h("td", { class: "muted", attrs: { colspan: "7" } }, "no servers in this team")));
      return;
    }
    replaceChildren(tbody, ...sorted.map(row));
  };

  function upsert(server: Server): void {
    const known = servers.has(server.name);
    servers.set(server.name, server);
    const existing = tbody.querySelector(`tr[data-server="${CSS.escape(server.name)}"]`);
    if (known && existing) existing.replaceWith(row(server));
    else {
      render();
      onChange();
    }
  }

  return {
    root,
    setAll(list) {
      const before = [...servers.keys()].sort().join("\n");
      servers.clear();
      for (const server of list) servers.set(server.name, server);
      render();
      if ([...servers.keys()].sort().join("\n") !== before) onChange();
    },
    upsert,
    names: () => [...servers.keys()].sort(),
  };
}
