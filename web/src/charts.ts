// Charts with Chart.js (bundled by Vite, nothing fetched at run time). Each chart has a data table beside
// it, so the figures are there for screen readers and keyboard users too.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from 'chart.js';

Chart.register(
  BarController,
  BarElement,
  CategoryScale,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Legend,
  Tooltip,
);

const palette = ['#2563eb', '#db2777', '#059669', '#d97706', '#7c3aed', '#0891b2', '#dc2626', '#65a30d'];
const charts = new Map<string, Chart>();

function canvas(id: string): HTMLCanvasElement {
  const el = document.getElementById(id);
  if (!(el instanceof HTMLCanvasElement)) throw new Error(`#${id} is not a canvas`);
  return el;
}

function replace(id: string, chart: Chart): void {
  charts.get(id)?.destroy();
  charts.set(id, chart);
}

/** Fills a table with a header row and body rows. */
export function fillTable(id: string, head: string[], rows: (string | number)[][]): void {
  const table = document.getElementById(id);
  if (!(table instanceof HTMLTableElement)) return;
  table.replaceChildren();
  const thead = table.createTHead().insertRow();
  for (const h of head) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = h;
    thead.append(th);
  }
  const body = table.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    for (const cell of row) tr.insertCell().textContent = String(cell);
  }
}

/** A bar chart of one series. */
export function barChart(
  id: string,
  labels: string[],
  values: number[],
  label: string,
  horizontal = false,
): void {
  replace(
    id,
    new Chart(canvas(id), {
      type: 'bar',
      data: { labels, datasets: [{ label, data: values, backgroundColor: palette[0] }] },
      options: {
        animation: false,
        indexAxis: horizontal ? 'y' : 'x',
        plugins: { legend: { display: false } },
        scales: { [horizontal ? 'x' : 'y']: { beginAtZero: true, title: { display: true, text: label } } },
      },
    }),
  );
}

/** Line chart of several series over shared time buckets. */
export function lineChart(id: string, labels: string[], series: { label: string; values: number[] }[]): void {
  replace(
    id,
    new Chart(canvas(id), {
      type: 'line',
      data: {
        labels,
        datasets: series.map((s, i) => ({
          label: s.label,
          data: s.values,
          borderColor: palette[i % palette.length],
          backgroundColor: palette[i % palette.length],
          tension: 0.2,
        })),
      },
      options: {
        animation: false,
        scales: { y: { beginAtZero: true, title: { display: true, text: 'posts' } } },
      },
    }),
  );
}
