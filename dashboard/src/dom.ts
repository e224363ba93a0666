/**
 * A tiny element builder. Every piece of server-supplied text (names, errors, log lines) goes in as a text node,
 * never as markup: upstream servers are untrusted, and the page holds the control token.
 */

/** Properties of `h`: a class, a title, plain attributes and event listeners. */
export interface ElementProps {
  readonly class?: string;
  readonly title?: string;
  readonly attrs?: Readonly<Record<string, string>>;
  readonly on?: { readonly [event: string]: (event: Event) => void };
}

/** Creates `<tag>` with `props` and `children` (strings become text nodes). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: ElementProps = {},
  ...children: ReadonlyArray<Node | string>
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (props.class) element.className = props.class;
  if (props.title) element.title = props.title;
  for (const [name, value] of Object.entries(props.attrs ?? {})) element.setAttribute(name, value);
  for (const [event, listener] of Object.entries(props.on ?? {})) element.addEventListener(event, listener);
  element.append(...children);
  return element;
}

/** Replaces every child of `parent` with `children`. */
export function replaceChildren(parent: Element, ...children: ReadonlyArray<Node | string>): void {
  parent.replaceChildren(...children);
}

/** A header row; titles ending in ">" are right-aligned (numeric columns), without the marker. */
export function headerRow(titles: readonly string[]): HTMLTableSectionElement {
  const cells = titles.map((title) => (title.endsWith(">") ? h("th", { class: "num" }, title.slice(0, -1)) : h("th", {}, title)));
  return h("thead", {}, h("tr", {}, ...cells));
}

/** A panel: a titled section whose body the views fill. */
export function panel(id: string, title: string, ...extra: ReadonlyArray<Node>): { readonly root: HTMLElement; readonly body: HTMLElement } {
  const body = h("div", { class: "panel-body" });
  const root = h("section", { class: "panel", attrs: { id } }, h("header", { class: "panel-head" }, h("h2", {}, title), ...extra), body);
  return { root, body };
}
