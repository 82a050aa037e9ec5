// The last accepted benchmark figures (bench/baseline.json) with the machine they were measured on, and each new
// figure's change against them. compareFigures and formatComparison are pure, so the arithmetic is unit-tested.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO_ROOT } from "../../tests/e2e/support/env";

export const BASELINE_FILE = path.join(REPO_ROOT, "bench", "baseline.json");
/** A figure this much slower than its baseline (a fraction) is marked. */
export const WORSE_THAN = 0.1;

/** Seconds by figure: a measurement's label (`<operation> @ <n> apps` in scale mode) and its median. */
export type Figures = Record<string, number>;

export interface Machine {
    cpuModel: string;
    cpus: number;
    memoryGiB: number;
    node: string;
    commit: string;
}

export interface Baseline {
    /** What the figures are (cluster-free ones say so). */
    note: string;
    clusterFree: boolean;
    recordedAt: string;
    machine: Machine;
    figures: Figures;
}

export function machineOf(): Machine {
    const cpus = os.cpus();
    let commit = "unknown";
    try {
        commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO_ROOT, encoding: "utf8" }).trim();
        // Uncommitted changes to tracked files (bench/ aside: the run writes its chart there): not quite that commit's figures.
        const status = ["status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench"];
        if (execFileSync("git", status, { cwd: REPO_ROOT, encoding: "utf8" }).trim()) commit += "-dirty";
    } catch {
        // not a checkout: the commit stays unknown
    }
    return {
        cpuModel: cpus[0]?.model ?? "unknown",
        cpus: cpus.length,
        memoryGiB: Math.round(os.totalmem() / 2 ** 30),
        node: process.version,
        commit,
    };
}

export function describeMachine(m: Machine = machineOf()): string {
    return `machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, node ${m.node}, commit ${m.commit}, load ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(" ")}`;
}

export function readBaseline(file = BASELINE_FILE): Baseline | undefined {
    return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as Baseline) : undefined;
}

export function writeBaseline(figures: Figures, machine: Machine, opts: { clusterFree: boolean }, file = BASELINE_FILE): string {
    const baseline: Baseline = {
        note: opts.clusterFree
            ? "cluster-free figures (npm run bench -- --no-cluster): the program's evaluation on the mock monitor and the policy pack, no cluster operation"
            : "figures measured on the local control plane (npm run bench)",
        clusterFree: opts.clusterFree,
        recordedAt: new Date().toISOString(),
        machine,
        figures: Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, Number(v.toFixed(4))])),
    };
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify(baseline, null, 2) + "\n");
    return file;
}

export interface Change {
    figure: string;
    baseline?: number;
    current?: number;
    /** (current − baseline) / baseline, in percent; undefined when either side is missing. */
    percent?: number;
    /** Slower than the baseline by more than WORSE_THAN. */
    worse: boolean;
}

/** Every figure of either side, in the current run's order, then the baseline's figures this run did not measure. */
export function compareFigures(baseline: Figures, current: Figures, worseThan = WORSE_THAN): Change[] {
    const names = [...Object.keys(current), ...Object.keys(baseline).filter((k) => !(k in current))];
    return names.map((figure) => {
        const b = baseline[figure];
        const c = current[figure];
        if (b === undefined || c === undefined || b <= 0) return { figure, baseline: b, current: c, worse: false };
        // Rounded, so that 1.0 -> 1.1 s is 10 % and not 10.000000000000009 %.
        const percent = Number((((c - b) / b) * 100).toFixed(6));
        return { figure, baseline: b, current: c, percent, worse: percent > worseThan * 100 };
    });
}

const seconds = (s: number | undefined) => (s === undefined ? "–" : s < 10 ? `${s.toFixed(3)} s` : `${s.toFixed(1)} s`);

/** The comparison as a Markdown table; changes worse than the threshold are marked. */
export function formatComparison(
    changes: Change[],
    baseline: Pick<Baseline, "machine" | "clusterFree">,
    current?: Machine,
    worseThan = WORSE_THAN,
): string {
    const m = baseline.machine;
    const otherMachine =
        current && (current.cpuModel !== m.cpuModel || current.cpus !== m.cpus || current.node !== m.node)
            ? [`Measured on another machine or Node (${current.cpus} × ${current.cpuModel}, node ${current.node}): compare with care.`]
            : [];
    const lines = [
        `Against bench/baseline.json (${baseline.clusterFree ? "cluster-free figures, " : ""}commit ${m.commit}, ${m.cpus} × ${m.cpuModel}, node ${m.node}):`,
        ...otherMachine,
        "",
        "| figure | baseline | now | change |",
        "| --- | ---: | ---: | ---: |",
    ];
    for (const c of changes) {
        const change =
            c.percent === undefined
                ? c.current === undefined
                    ? "not measured"
                    : "new"
                : `${c.percent >= 0 ? "+" : ""}${c.percent.toFixed(1)} %${c.worse ? ` ⚠ worse than ${worseThan * 100} %` : ""}`;
        lines.push(`| ${c.figure} | ${seconds(c.baseline)} | ${seconds(c.current)} | ${change} |`);
    }
    const worse = changes.filter((c) => c.worse).length;
    lines.push(
        "",
        worse
            ? `${worse} figure(s) worse than the baseline by more than ${worseThan * 100} %.`
            : `No figure worse by more than ${worseThan * 100} %.`,
    );
    return lines.join("\n");
}
