// Figures of a benchmark: per measurement the runs' median and spread, and the ratios the performance targets
// are written in (README "Performance"). Pure functions, so the arithmetic is unit-tested.

export interface Measurement {
    label: string;
    /** Wall-clock seconds of each run. */
    seconds: number[];
    /** One line on what was run, printed under the table. */
    what: string;
}

export interface Summary {
    median: number;
    min: number;
    max: number;
    runs: number;
}

export function summarize(seconds: number[]): Summary {
    if (seconds.length === 0) throw new Error("no runs to summarize");
    const sorted = [...seconds].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    return { median, min: sorted[0], max: sorted[sorted.length - 1], runs: sorted.length };
}

export interface Ratio {
    label: string;
    numerator: string;
    denominator: string;
    /** The target: the ratio of medians must be at most this. */
    target?: number;
}

export interface RatioResult extends Ratio {
    value: number;
    met?: boolean;
}

/** Ratios of medians; a ratio whose measurements were not run is left out. */
export function ratios(measurements: Measurement[], wanted: Ratio[]): RatioResult[] {
    const median = new Map(measurements.filter((m) => m.seconds.length).map((m) => [m.label, summarize(m.seconds).median]));
    return wanted.flatMap((r) => {
        const num = median.get(r.numerator);
        const den = median.get(r.denominator);
        if (num === undefined || den === undefined || den === 0) return [];
        const value = num / den;
        return [{ ...r, value, ...(r.target === undefined ? {} : { met: value <= r.target }) }];
    });
}

const pad = (s: string, n: number) => s + " ".repeat(Math.max(0, n - s.length));

/** The table `npm run bench` prints (Markdown, so it can be pasted into the README as is). */
export function formatReport(measurements: Measurement[], results: RatioResult[]): string {
    const width = Math.max(...measurements.map((m) => m.label.length), 3);
    const lines = [`| ${pad("run", width)} | median | min–max | runs |`, `| ${"-".repeat(width)} | ---: | ---: | ---: |`];
    for (const m of measurements) {
        if (!m.seconds.length) continue;
        const s = summarize(m.seconds);
        lines.push(`| ${pad(m.label, width)} | ${s.median.toFixed(1)} s | ${s.min.toFixed(1)}–${s.max.toFixed(1)} s | ${s.runs} |`);
    }
    lines.push("", "| ratio (of medians) | value | target |", "| --- | ---: | --- |");
    for (const r of results) {
        const target = r.target === undefined ? "" : `≤ ${r.target} ${r.met ? "(met)" : "(missed)"}`;
        lines.push(`| ${r.label} | ${r.value.toFixed(2)}× | ${target} |`);
    }
    lines.push("", ...measurements.filter((m) => m.seconds.length).map((m) => `- ${m.label}: ${m.what}`));
    return lines.join("\n");
}
