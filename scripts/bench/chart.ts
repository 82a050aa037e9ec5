// A line chart as a standalone SVG document (bench/scale.svg): time against number of apps, one line per operation.
// Written by hand rather than with a chart library: the candidates that render SVG in Node without a browser are
// heavy (vega + vega-lite: 80 packages, 25 MB installed) or need a DOM or a native canvas (d3-node: jsdom; chart.js:
// node-canvas), for one chart of a few lines. Pure, so it is unit-tested.

export interface ChartSeries {
    label: string;
    points: { x: number; y: number }[];
}

export interface LineChart {
    title: string;
    xLabel: string;
    yLabel: string;
    series: ChartSeries[];
}

const WIDTH = 820;
const HEIGHT = 440;
const MARGIN = { top: 40, right: 310, bottom: 56, left: 70 };
/** Distinguishable on white and for common colour blindness (Okabe–Ito). */
const COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"];

export const escapeXml = (s: string) =>
    s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");

/** About `count` round tick values from 0 to at least `max` (1, 2 or 5 times a power of ten apart). */
export function ticks(max: number, count = 5): number[] {
    if (!(max > 0)) return [0, 1];
    const raw = max / count;
    const power = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw)!;
    const out: number[] = [];
    for (let v = 0; v < max + step / 2; v += step) out.push(Number(v.toPrecision(12)));
    if (out[out.length - 1] < max) out.push(Number((out[out.length - 1] + step).toPrecision(12)));
    return out;
}

const fmt = (n: number) => String(Number(n.toPrecision(6)));

export function renderLineChart(chart: LineChart): string {
    const plotW = WIDTH - MARGIN.left - MARGIN.right;
    const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
    const all = chart.series.flatMap((s) => s.points);
    const xs = [...new Set(all.map((p) => p.x))].sort((a, b) => a - b);
    const xMin = xs[0] ?? 0;
    const xMax = xs.length > 1 ? xs[xs.length - 1] : xMin + 1;
    const yTicks = ticks(Math.max(0, ...all.map((p) => p.y)));
    const yMax = yTicks[yTicks.length - 1];
    const sx = (x: number) => MARGIN.left + ((x - xMin) / (xMax - xMin)) * plotW;
    const sy = (y: number) => MARGIN.top + plotH - (y / yMax) * plotH;
    const r = (n: number) => n.toFixed(1);

    const out: string[] = [
        `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
        `<title>${escapeXml(chart.title)}</title>`,
        `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
        `<text x="${MARGIN.left}" y="22" font-size="14" font-weight="bold">${escapeXml(chart.title)}</text>`,
    ];
    // Grid and y ticks.
    for (const t of yTicks) {
        out.push(
            `<line x1="${MARGIN.left}" y1="${r(sy(t))}" x2="${MARGIN.left + plotW}" y2="${r(sy(t))}" stroke="#e0e0e0"/>`,
            `<text x="${MARGIN.left - 6}" y="${r(sy(t) + 4)}" text-anchor="end">${fmt(t)}</text>`,
        );
    }
    for (const x of xs) {
        out.push(
            `<line x1="${r(sx(x))}" y1="${MARGIN.top + plotH}" x2="${r(sx(x))}" y2="${MARGIN.top + plotH + 5}" stroke="#333333"/>`,
            `<text x="${r(sx(x))}" y="${MARGIN.top + plotH + 19}" text-anchor="middle">${fmt(x)}</text>`,
        );
    }
    // Axes and their labels.
    out.push(
        `<g class="axes" stroke="#333333"><line x1="${MARGIN.left}" y1="${MARGIN.top}" x2="${MARGIN.left}" y2="${MARGIN.top + plotH}"/>` +
            `<line x1="${MARGIN.left}" y1="${MARGIN.top + plotH}" x2="${MARGIN.left + plotW}" y2="${MARGIN.top + plotH}"/></g>`,
        `<text class="x-label" x="${r(MARGIN.left + plotW / 2)}" y="${HEIGHT - 14}" text-anchor="middle">${escapeXml(chart.xLabel)}</text>`,
        `<text class="y-label" x="18" y="${r(MARGIN.top + plotH / 2)}" text-anchor="middle" transform="rotate(-90 18 ${r(MARGIN.top + plotH / 2)})">${escapeXml(chart.yLabel)}</text>`,
    );
    // One path per operation, its points, and its legend entry.
    chart.series.forEach((s, i) => {
        const colour = COLOURS[i % COLOURS.length];
        const points = [...s.points].sort((a, b) => a.x - b.x);
        const d = points.map((p, k) => `${k ? "L" : "M"}${r(sx(p.x))} ${r(sy(p.y))}`).join(" ");
        out.push(`<path class="series" data-series="${escapeXml(s.label)}" d="${d}" fill="none" stroke="${colour}" stroke-width="2"/>`);
        for (const p of points) out.push(`<circle cx="${r(sx(p.x))}" cy="${r(sy(p.y))}" r="3" fill="${colour}"/>`);
        const ly = MARGIN.top + 8 + i * 20;
        const lx = MARGIN.left + plotW + 16;
        out.push(
            `<line x1="${lx}" y1="${ly}" x2="${lx + 20}" y2="${ly}" stroke="${colour}" stroke-width="2"/>`,
            `<text x="${lx + 26}" y="${ly + 4}">${escapeXml(s.label)}</text>`,
        );
    });
    out.push("</svg>");
    return out.join("\n") + "\n";
}
