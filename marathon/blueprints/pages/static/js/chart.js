// A hand-drawn SVG line chart of a series of samples (admissions per second), newest on the right.
const NS = "http://www.w3.org/2000/svg";

function node(tag, attributes) {
  const element = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  return element;
}

/** Draws `samples` ([{t, value}]) over the last `windowS` seconds into the <svg> `svg`, at its drawn size. */
export function drawChart(svg, samples, windowS = 120) {
  // drawn in the svg's own pixels, so that text keeps its shape on any screen
  const width = Math.max(200, Math.round(svg.clientWidth || 600)), height = 160, pad = 26;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const now = samples.length ? samples[samples.length - 1].t : 0;
  const top = Math.max(1, ...samples.map((s) => s.value));
  const scale = niceCeiling(top);
  const x = (time) => pad + ((time - (now - windowS * 1000)) / (windowS * 1000)) * (width - pad - 4);
  const y = (value) => height - pad - (value / scale) * (height - 2 * pad);
  const parts = [];
  for (const fraction of [0, 0.5, 1]) {
    const value = scale * fraction;
    parts.push(node("line", { x1: pad, x2: width - 4, y1: y(value), y2: y(value), class: "grid" }));
    const label = node("text", { x: 2, y: y(value) + 4, class: "axis" });
    label.textContent = Number.isInteger(value) ? value : value.toFixed(1);
    parts.push(label);
  }
  const points = samples.filter((s) => s.t >= now - windowS * 1000).map((s) => `${x(s.t).toFixed(1)},${y(s.value).toFixed(1)}`);
  if (points.length > 1) {
    parts.push(node("polygon", { points: `${points[0].split(",")[0]},${y(0)} ${points.join(" ")} ${points.at(-1).split(",")[0]},${y(0)}`, class: "area" }));
    parts.push(node("polyline", { points: points.join(" "), class: "line" }));
  }
  if (points.length) {
    const [cx, cy] = points.at(-1).split(",");
    parts.push(node("circle", { cx, cy, r: 4, class: "dot" }));
  }
  svg.replaceChildren(...parts);
  svg.dataset.peak = String(Math.max(0, ...samples.map((s) => s.value)));
}

function niceCeiling(value) {
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((m) => m * power).find((candidate) => candidate >= value);
}
