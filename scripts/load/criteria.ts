// The runbook's success criteria applied to a load run: the same numbers as the k6 thresholds
// (tests/performance/lib/criteria.js), both from components/model/slo.ts SUCCESS_CRITERIA.
import { SUCCESS_CRITERIA } from "../../components/model/slo";

export interface LoadResult {
    /** Responses received and requests that got none (timeouts, resets). */
    requests: number;
    /** 5xx answers plus requests without an answer: k6's http_req_failed counts both. */
    failed: number;
    p95Ms: number;
    /** Responses per second over the run. */
    throughputRps: number;
}

export interface Verdict {
    passed: boolean;
    /** One line per criterion: what it asks, what was measured, and whether it held. */
    lines: string[];
}

/**
 * p95 latency and error rate decide; throughput is reported against its criterion but only decides when asked
 * (`withThroughput`): like k6's smoke thresholds, a run on a developer machine or a stand-in proves latency and errors,
 * not the production cluster's capacity.
 */
export function judge(result: LoadResult, withThroughput = false): Verdict {
    const errorRate = result.requests ? result.failed / result.requests : 1;
    const checks = [
        {
            name: "p95 latency",
            ok: result.p95Ms < SUCCESS_CRITERIA.latencyP95Ms,
            text: `${result.p95Ms.toFixed(1)} ms (< ${SUCCESS_CRITERIA.latencyP95Ms} ms)`,
        },
        {
            name: "error rate",
            ok: result.requests > 0 && errorRate < SUCCESS_CRITERIA.errorBudget,
            text: `${(errorRate * 100).toFixed(3)} % of ${result.requests} (< ${SUCCESS_CRITERIA.errorBudget * 100} %)`,
        },
        {
            name: "throughput",
            ok: !withThroughput || result.throughputRps > SUCCESS_CRITERIA.minThroughputRps,
            text: `${result.throughputRps.toFixed(0)} req/s (> ${SUCCESS_CRITERIA.minThroughputRps}${withThroughput ? "" : ", reported only"})`,
        },
    ];
    return {
        passed: checks.every((c) => c.ok),
        lines: checks.map((c) => `${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.text}`),
    };
}

/** The 95th percentile (nearest rank) of latencies in milliseconds. */
export function percentile95(latencies: readonly number[]): number {
    if (latencies.length === 0) return Number.POSITIVE_INFINITY;
    const sorted = [...latencies].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)];
}
