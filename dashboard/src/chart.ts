/**
 * A small hand-drawn SVG line chart: a few series over the same samples, a zero baseline, the largest value as the
 * scale. Enough for "calls per second over the last minutes" without a chart library in the bundle.
 */

const svgNs = "http://www.w3.org/2000/svg";
const width = 300;
const height = 100;

/** One line: its values (oldest first), a CSS class for its colour and a label for the legend. */
export interface ChartSeries {
  readonly label: string;
  readonly className: string;
  readonly values: readonly number[];
}

/** A chart element and its redraw. */
export interface LineChart {
  readonly root: HTMLElement;
  draw(series: readonly ChartSeries[], capacity: number, format: (value: number) => string): void;
}

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string>): SVGElementTagNameMap[K] {
  const element = document.createElementNS(svgNs, tag);
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, value);
  return element;
}

/** Creates an empty chart titled `title`. */
export function createLineChart(title: string): LineChart {
  const canvas = svg("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", class: "chart", role: "img" });
  canvas.setAttribute("aria-label", title);
  const legend = document.createElement("p");
  legend.className = "legend";
  const heading = document.createElement("h3");
  heading.textContent = title;
  const root = document.createElement("figure");
  root.className = "chart-box";
  root.append(heading, canvas, legend);
  return {
    root,
    draw(series, capacity, format) {
      const max = Math.max(1e-9, ...series.flatMap((line) => line.values));
      const step = width / Math.max(1, capacity - 1);
      const children: SVGElement[] = [];
      for (const fraction of [0.25, 0.5, 0.75]) {
        const y = (height * fraction).toFixed(1);
        children.push(svg("line", { x1: "0", x2: String(width), y1: y, y2: y, class: "grid" }));
      }
      for (const line of series) {
        if (line.values.length === 0) continue;
        const offset = capacity - line.values.length;
        const points = line.values.map((value, index) => {
          const x = (offset + index) * step;
          const y = height - 2 - (value / max) * (height - 6);
          return `${x.toFixed(1)},${y.toFixed(1)}`;
        });
        const first = points[0]!.split(",")[0]!;
        const last = points[points.length - 1]!.split(",")[0]!;
        children.push(svg("polygon", { points: `${first},${height} ${points.join(" ")} ${last},${height}`, class: `area ${line.className}` }));
        children.push(svg("polyline", { points: points.join(" "), class: `line ${line.className}` }));
        // The newest sample as a dot: visible even while there is only one.
        const [x, y] = points[points.length - 1]!.split(",");
        children.push(svg("circle", { cx: x!, cy: y!, r: "2.5", class: `dot ${line.className}` }));
      }
      canvas.replaceChildren(...children);
      legend.replaceChildren(
        ...series.map((line) => {
          const item = document.createElement("span");
          item.className = `key ${line.className}`;
          const latest = line.values[line.values.length - 1];
          item.textContent = `${line.label} ${latest === undefined ? "–" : format(latest)}`;
          return item;
        }),
        Object.assign(document.createElement("span"), { className: "scale", textContent: `max ${format(max)}` }),
      );
    },
  };
}
