import type { KpiReport } from './report.js';

/** Options of `renderKpiChart`. */
export interface ChartOptions {
  width?: number;
  height?: number;
  title?: string;
}

const palette = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

const escapeXml = (s: string) =>
  s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

function format(value: number): string {
  const a = Math.abs(value);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return value.toExponential(1);
  return Number(value.toPrecision(3)).toString();
}

/**
 * An SVG chart of one KPI over time: for each treatment arm, the difference to the control (line) inside
 * its always-valid confidence sequence (band), with the zero line that the band must leave for a verdict.
 */
export function renderKpiChart(report: KpiReport, options: ChartOptions = {}): string {
  const width = options.width ?? 720;
  const height = options.height ?? 360;
  const margin = { left: 70, right: 20, top: 40, bottom: 50 };
  const series = Object.entries(report.series).filter(([, points]) => points.length > 0);
  const all = series.flatMap(([, points]) => points);
  const times = all.map((p) => Date.parse(p.time));
  const finite = (v: number) => Number.isFinite(v);
  const ys = [0, ...all.flatMap((p) => [p.low, p.high, p.difference]).filter(finite)];
  const t0 = Math.min(...times);
  const t1 = Math.max(...times, t0 + 1);
  const yMin = Math.min(...ys);
  const yMax = Math.max(...ys, yMin + 1e-9);
  const pad = (yMax - yMin) * 0.05;
  const x = (t: number) => margin.left + ((t - t0) / (t1 - t0)) * (width - margin.left - margin.right);
  const y = (v: number) =>
    height -
    margin.bottom -
    ((Math.min(Math.max(v, yMin), yMax) - yMin + pad) / (yMax - yMin + 2 * pad)) *
      (height - margin.top - margin.bottom);
  const control = report.comparisons[0]?.control ?? 'control';
  const title = options.title ?? `${report.kpi}: difference to ${control} with its always-valid interval`;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(title)}</text>`,
  ];
  for (let k = 0; k <= 4; k++) {
    const v = yMin + ((yMax - yMin) * k) / 4;
    parts.push(
      `<line x1="${margin.left}" x2="${width - margin.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#eee"/>`,
      `<text x="${margin.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${format(v)}</text>`,
    );
  }
  parts.push(
    `<line x1="${margin.left}" x2="${width - margin.right}" y1="${y(0).toFixed(1)}" y2="${y(0).toFixed(1)}" stroke="#444" stroke-dasharray="4 3"/>`,
    `<text x="${margin.left}" y="${height - 15}">${escapeXml(new Date(t0).toISOString().slice(0, 16).replace('T', ' '))}</text>`,
    `<text x="${width - margin.right}" y="${height - 15}" text-anchor="end">${escapeXml(new Date(t1).toISOString().slice(0, 16).replace('T', ' '))} UTC</text>`,
  );
  series.forEach(([arm, points], s) => {
    const colour = palette[s % palette.length] ?? '#000';
    const shown = points.filter((p) => finite(p.low) && finite(p.high));
    if (shown.length > 0) {
      const upper = shown.map((p) => `${x(Date.parse(p.time)).toFixed(1)},${y(p.high).toFixed(1)}`);
      const lower = shown.map((p) => `${x(Date.parse(p.time)).toFixed(1)},${y(p.low).toFixed(1)}`).reverse();
      parts.push(
        `<polygon points="${[...upper, ...lower].join(' ')}" fill="${colour}" fill-opacity="0.18" stroke="none"/>`,
      );
    }
    const line = points
      .map((p) => `${x(Date.parse(p.time)).toFixed(1)},${y(p.difference).toFixed(1)}`)
      .join(' ');
    parts.push(
      `<polyline points="${line}" fill="none" stroke="${colour}" stroke-width="2"/>`,
      `<text x="${width - margin.right - 4}" y="${margin.top + 14 * (s + 1)}" text-anchor="end" fill="${colour}">${escapeXml(`${arm} − ${control}`)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}
