import type { Event } from "../../gen/deploystack/gateway/v1/gateway_pb.js";
import { h, panel } from "./dom.js";
import { clockTime, stateName } from "./format.js";

/** The live events list (`WatchEvents`), newest first and bounded. */

/** How many events the list keeps. */
const maxEvents = 200;

/** The list and the way to add to it. */
export interface EventsView {
  readonly root: HTMLElement;
  add(event: Event): void;
}

/** One line of text for an event. */
export function describeEvent(event: Event): string {
  const kind = event.kind;
  switch (kind.case) {
    case "serverStateChanged": {
      const server = kind.value.server;
      return `${server?.name ?? "?"}: ${stateName(kind.value.previousState)} → ${server ? stateName(server.state) : "?"}`;
    }
    case "catalogChanged":
      return `catalog changed (${kind.value.serverName || "all servers"}): ${kind.value.toolCount} tools`;
    case "teamSwitched":
      return `team switched to ${kind.value.team?.name ?? "?"}`;
    case "configSynced":
      return `configuration synced: ${kind.value.changes.length} change${kind.value.changes.length === 1 ? "" : "s"}`;
    case "configError":
      return `team file not applied: ${kind.value.message}`;
    default:
      return "event";
  }
}

/** Creates the view. */
export function createEventsView(): EventsView {
  const { root, body } = panel("events", "Live events");
  const list = h("ol", { class: "events" }, h("li", { class: "muted placeholder" }, "waiting for events…"));
  body.append(list);
  return {
    root,
    add(event) {
      list.querySelector(".placeholder")?.remove();
      const kind = event.kind.case ?? "unknown";
      list.prepend(h("li", { attrs: { "data-kind": kind } }, h("time", {}, clockTime(event.time)), " ", describeEvent(event)));
      while (list.children.length > maxEvents) list.lastElementChild?.remove();
    },
  };
}
