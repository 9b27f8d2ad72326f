// bench/chart.svg: ratios to the raw socket as horizontal bars on a log scale, one panel per
// metric, drawn by hand (no charting dependency). A bar runs from 1× to the contender's ratio.
import type { Results } from "../model.js";
import { payloadKey } from "../model.js";
import { formatRatio } from "./format.js";
import { metricInfo, ratioOf } from "./summary.js";

const columnWidth = 600;
const labelWidth = 180;
const plotWidth = 330;
const rowHeight = 18;
const panelHeader = 40;
const panelGap = 22;

/** The label of the gridline at 10^d: "0.01×", "1×", "100×". */
function tick(d: number): string {
  return `${d < 0 ? (10 ** d).toFixed(-d) : String(10 ** d)}×`;
}

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** The metrics the chart shows, when they were measured. */
function chartMetrics(results: Results): string[] {
  const sizes = results.settings.payload.sizesMiB;
  const largest = sizes[sizes.length - 1];
  const keys = [
    "latency.p50",
    "latency.cpu.total",
    ...results.settings.throughput.workers.map((n) => `throughput.w${n}`),
    "throughput.w1.cpu.total",
    ...(largest === undefined ? [] : [payloadKey("argument", largest), payloadKey("result", largest)]),
  ];
  return keys.filter((key) => results.rounds[key] && metricInfo(results, key));
}

export function renderSvg(results: Results): string {
  const metrics = chartMetrics(results);
  const ids = results.contenders.map((c) => c.id);
  const names = new Map(results.contenders.map((c) => [c.id, c.name]));
  const panels = metrics.map((key) => {
    const rows = ids
      .filter((id) => results.rounds[key]?.[id]?.some((v) => v !== null))
      .map((id) => ({ id, ratio: id === results.baseline ? 1 : ratioOf(results, key, id)?.median }));
    return { key, info: metricInfo(results, key)!, rows };
  });
  const panelHeight = (rows: number) => panelHeader + rows * rowHeight + 16;
  // Two columns, filled left to right, top to bottom.
  const columns: (typeof panels)[] = [[], []];
  panels.forEach((panel, i) => columns[i % 2]!.push(panel));
  const columnHeight = (column: typeof panels) => column.reduce((h, p) => h + panelHeight(p.rows.length) + panelGap, 0);
  const top = 56;
  const height = top + Math.max(...columns.map(columnHeight), 0) + 24;
  const width = columnWidth * 2 + 20;

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="20" y="24" font-size="16" font-weight="600">airlock and its peers, as ratios to a raw Node Unix socket (1×)</text>`,
    `<text x="20" y="42" fill="#555">${escape(
      `${results.environment.date.slice(0, 10)}, Node ${results.environment.node}, ${results.environment.cpuModel} × ${results.environment.cpus}; ` +
        `median of per-round ratios; log scale; bars run from 1× to the ratio`,
    )}</text>`,
  );

  columns.forEach((column, c) => {
    let y = top;
    const x0 = 10 + c * columnWidth;
    for (const panel of column) {
      const finite = panel.rows.map((r) => r.ratio).filter((r): r is number => r !== undefined && r > 0);
      const lo = Math.min(-1, Math.floor(Math.log10(Math.min(...finite, 1))));
      const hi = Math.max(1, Math.ceil(Math.log10(Math.max(...finite, 1))));
      const px = (ratio: number) => x0 + labelWidth + ((Math.log10(ratio) - lo) / (hi - lo)) * plotWidth;
      const better = panel.info.better === "lower" ? "lower is better" : "higher is better";
      parts.push(`<text x="${x0 + 10}" y="${y + 14}" font-weight="600">${escape(panel.info.label)}</text>`);
      parts.push(`<text x="${x0 + 10}" y="${y + 29}" fill="#666">${escape(`${panel.info.unit}, ${better}`)}</text>`);
      const plotTop = y + panelHeader - 6;
      const plotBottom = plotTop + panel.rows.length * rowHeight + 4;
      for (let d = lo; d <= hi; d++) {
        const x = px(10 ** d);
        parts.push(`<line x1="${x}" y1="${plotTop}" x2="${x}" y2="${plotBottom}" stroke="${d === 0 ? "#222" : "#ddd"}" stroke-width="${d === 0 ? 1.2 : 1}"/>`);
        parts.push(`<text x="${x}" y="${plotBottom + 12}" fill="#888" font-size="10" text-anchor="middle">${escape(tick(d))}</text>`);
      }
      panel.rows.forEach((row, i) => {
        const rowY = plotTop + 4 + i * rowHeight;
        const airlock = row.id.startsWith("airlock");
        parts.push(
          `<text x="${x0 + labelWidth - 8}" y="${rowY + 12}" text-anchor="end"${airlock ? ' font-weight="600"' : ""}>${escape(names.get(row.id) ?? row.id)}</text>`,
        );
        if (row.ratio === undefined) {
          parts.push(`<text x="${x0 + labelWidth + plotWidth + 10}" y="${rowY + 12}" fill="#888">–</text>`);
          return;
        }
        const a = px(1);
        const b = px(Math.max(row.ratio, 10 ** lo));
        const fill = row.id === results.baseline ? "#222" : airlock ? "#e8590c" : "#adb5bd";
        if (row.id === results.baseline) {
          parts.push(`<rect x="${a - 1.5}" y="${rowY + 2}" width="3" height="${rowHeight - 6}" fill="${fill}"/>`);
        } else {
          parts.push(`<rect x="${Math.min(a, b).toFixed(1)}" y="${rowY + 2}" width="${Math.max(1, Math.abs(b - a)).toFixed(1)}" height="${rowHeight - 6}" fill="${fill}"/>`);
        }
        parts.push(
          `<text x="${x0 + labelWidth + plotWidth + 10}" y="${rowY + 12}" font-size="11" fill="#333"${airlock ? ' font-weight="600"' : ""}>${escape(formatRatio(row.ratio))}</text>`,
        );
      });
      y += panelHeight(panel.rows.length) + panelGap;
    }
  });
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}
