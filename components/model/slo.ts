// The runbook's success criteria as numbers, and the metric names the apps expose. Alerts,
// dashboards, the post-deploy verification and the k6 thresholds all read them from here.

/** The runbook's "Performance meets requirements" and the availability SLO its error budget implies. */
export const SUCCESS_CRITERIA = {
    /** "Response time < 200ms", read as the 95th percentile (the k6 threshold `p(95)<200`). */
    latencyP95Ms: 200,
    /** "Error rate < 0.1%": the error budget of a 99.9 % availability SLO. */
    errorBudget: 0.001,
    /** "Throughput > 10,000 req/sec". */
    minThroughputRps: 10_000,
} as const;

export const SLO_OBJECTIVE = 1 - SUCCESS_CRITERIA.errorBudget;

/** What every app serves on its metrics path (prom-client conventions; the runbook's alerts use these names). */
export const METRICS = {
    requests: "http_requests_total",
    /** Label holding the HTTP status code, as in the runbook's `status=~"5.."`. */
    status: "status",
    duration: "http_request_duration_seconds",
} as const;

/**
 * Multi-window, multi-burn-rate alerts for a 30-day SLO (Google SRE workbook, ch. 5, table 5-8):
 * both windows must burn faster than `factor` times the budget; short window = long / 12.
 */
export const BURN_RATE_ALERTS = [
    {
        alert: "ErrorBudgetBurnFast",
        long: "1h",
        short: "5m",
        factor: 14.4,
        severity: "critical",
        action: "page",
        budgetSpent: "2 % of the 30-day error budget in 1 hour",
        for: "2m",
    },
    {
        alert: "ErrorBudgetBurnSlow",
        long: "6h",
        short: "30m",
        factor: 6,
        severity: "critical",
        action: "page",
        budgetSpent: "5 % of the 30-day error budget in 6 hours",
        for: "15m",
    },
    {
        alert: "ErrorBudgetBurnTicket",
        long: "3d",
        short: "6h",
        factor: 1,
        severity: "warning",
        action: "ticket",
        budgetSpent: "10 % of the 30-day error budget in 3 days",
        for: "1h",
    },
] as const;

/** The windows the burn-rate alerts need recorded error ratios for, shortest first. */
export const BURN_RATE_WINDOWS: readonly string[] = ["5m", "30m", "1h", "6h", "3d"];

/** A label matcher list scoped to one namespace: `{namespace="ns",extra}`. */
export function inNamespace(namespace: string, ...extra: string[]): string {
    return `{${[`namespace="${namespace}"`, ...extra].join(",")}}`;
}

/** Recording-rule names (level:metric:operations, the Prometheus naming convention). */
export const RECORDED = {
    requestRate: "ultramarket:http_requests:rate5m",
    errorRatio: (window: string) => `ultramarket:http_requests:error_ratio_rate${window}`,
    latencyP95: "ultramarket:http_request_duration_seconds:p95_rate5m",
} as const;
