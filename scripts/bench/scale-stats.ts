// Figures of the scale mode: per operation and number of apps the median time, the resources it handled and the
// cost per resource; an operation whose cost per resource grows by more than GROWTH_LIMIT from the smallest to the
// largest size is flagged (it grows faster than linearly). Pure functions, so the arithmetic is unit-tested.
import { summarize } from "./stats";

/** The growth of the cost per resource, smallest to largest size, beyond which an operation is flagged. */
export const GROWTH_LIMIT = 0.2;

export interface ScalePoint {
    /** Total number of apps (real and synthetic). */
    apps: number;
    /** Resources the operation handled at that size. */
    resources: number;
    /** Wall-clock seconds of each run. */
    seconds: number[];
}

export interface ScaleSeries {
    operation: string;
    /** One line on what was run. */
    what: string;
    points: ScalePoint[];
}

export interface Growth {
    operation: string;
    /** Cost per resource (seconds) at the smallest and the largest size. */
    first: number;
    last: number;
    /** last / first − 1. */
    growth: number;
    flagged: boolean;
}

export const median = (p: ScalePoint) => summarize(p.seconds).median;
export const perResource = (p: ScalePoint) => median(p) / p.resources;

/** Per operation measured at two sizes or more: how its cost per resource grows from the smallest to the largest. */
export function growths(series: ScaleSeries[], limit = GROWTH_LIMIT): Growth[] {
    return series.flatMap((s) => {
        const points = s.points.filter((p) => p.seconds.length && p.resources > 0).sort((a, b) => a.apps - b.apps);
        if (points.length < 2) return [];
        const first = perResource(points[0]);
        const last = perResource(points[points.length - 1]);
        const growth = last / first - 1;
        return [{ operation: s.operation, first, last, growth, flagged: growth > limit }];
    });
}

/** The figures the baseline keeps: `<operation> @ <n> apps` -> median seconds. */
export function scaleFigures(series: ScaleSeries[]): Record<string, number> {
    return Object.fromEntries(
        series.flatMap((s) => s.points.filter((p) => p.seconds.length).map((p) => [`${s.operation} @ ${p.apps} apps`, median(p)])),
    );
}

const ms = (seconds: number) => `${(seconds * 1000).toFixed(2)} ms`;
const time = (seconds: number) => (seconds < 10 ? `${seconds.toFixed(3)} s` : `${seconds.toFixed(1)} s`);

/** The tables `npm run bench -- --scale` prints (Markdown): one row per operation and size, then the growth. */
export function formatScaleReport(series: ScaleSeries[], limit = GROWTH_LIMIT): string {
    const lines = [
        "| operation | apps | resources | median | min–max | runs | per resource |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ];
    for (const s of series) {
        for (const p of [...s.points].sort((a, b) => a.apps - b.apps)) {
            if (!p.seconds.length) continue;
            const sum = summarize(p.seconds);
            lines.push(
                `| ${s.operation} | ${p.apps} | ${p.resources} | ${time(sum.median)} | ${time(sum.min)}–${time(sum.max)} | ${sum.runs} | ${ms(perResource(p))} |`,
            );
        }
    }
    lines.push(
        "",
        `| operation | per resource, smallest size | largest size | growth | over ${limit * 100} % |`,
        "| --- | ---: | ---: | ---: | --- |",
    );
    for (const g of growths(series, limit)) {
        lines.push(
            `| ${g.operation} | ${ms(g.first)} | ${ms(g.last)} | ${g.growth >= 0 ? "+" : ""}${(g.growth * 100).toFixed(1)} % | ${g.flagged ? "⚠ grows faster than linearly" : "no"} |`,
        );
    }
    lines.push("", ...series.map((s) => `- ${s.operation}: ${s.what}`));
    return lines.join("\n");
}
