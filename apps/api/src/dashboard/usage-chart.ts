import { html, type RawHtml } from "./html.js";

export interface ChartPoint {
  at: Date;
  value: number;
}

/** A small server-rendered line chart (inline SVG): no script, no library. */
export function usageChart(points: readonly ChartPoint[], { label, format }: { label: string; format: (value: number) => string }): RawHtml {
  if (points.length < 2) return html`<p class="muted">${label}: not enough samples yet.</p>`;
  const width = 480;
  const height = 120;
  const pad = 6;
  const first = points[0]!.at.getTime();
  const span = Math.max(1, points[points.length - 1]!.at.getTime() - first);
  const peak = Math.max(...points.map((point) => point.value));
  const max = Math.max(1, peak); // the chart's scale; a flat zero line still draws
  const x = (point: ChartPoint) => pad + ((point.at.getTime() - first) / span) * (width - 2 * pad);
  const y = (point: ChartPoint) => height - pad - (point.value / max) * (height - 2 * pad);
  const line = points.map((point) => `${x(point).toFixed(1)},${y(point).toFixed(1)}`).join(" ");
  const area = `${pad},${height - pad} ${line} ${(width - pad).toFixed(1)},${height - pad}`;
  return html`<figure aria-label="${label}">
<svg viewBox="0 0 ${width} ${height}" role="img">
<polygon points="${area}" fill="#1f6feb22"/>
<polyline points="${line}" fill="none" stroke="#1f6feb" stroke-width="2"/>
</svg>
<figcaption class="muted">${label} · peak ${format(peak)} · ${points.length} samples</figcaption>
</figure>`;
}
