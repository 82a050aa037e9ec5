// The runbook's success criteria as numbers, and the metric names the apps expose. Alerts,
// dashboards, the post-deploy verification and the k6 thresholds all read them from here.
import { CATALOG } from "./catalog";

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
    /** Label holding the route's template (docs/app-contract.md). */
    route: "route",
    duration: "http_request_duration_seconds",
} as const;

/** The paths the kubelet probes (every app's health path, and its liveness path where it has one). */
export const PROBE_ROUTES: readonly string[] = [
    ...new Set(CATALOG.flatMap((a) => [a.healthPath, ...(a.livenessPath ? [a.livenessPath] : [])])),
].sort();

/**
 * Users' requests only: the contract lets an app count its probes, and they are not traffic. Seen on the real node: with
 * Redis stopped, the readiness probes' 503s of auth-service's three pods alone made 0.24 "5xx/s" (HighErrorRate fires at
 * 0.1/s with no user request at all, and stays up for the 5-minute window after the store is back), and at low traffic
 * their 200s dilute the error ratio. The store's own alert says what is wrong.
 */
export const USER_REQUESTS = `${METRICS.route}!~"${PROBE_ROUTES.map((r) => r.replace(/[.*+?^${}()|[\]\\]/g, "\\\\$&")).join("|")}"`;

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

/** The selector of users' requests in `namespace` (USER_REQUESTS): for http_requests_total and the duration histogram. */
export function appRequests(namespace: string, ...extra: string[]): string {
    return inNamespace(namespace, USER_REQUESTS, ...extra);
}

/** Recording-rule names (level:metric:operations, the Prometheus naming convention). */
export const RECORDED = {
    requestRate: "ultramarket:http_requests:rate5m",
    errorRatio: (window: string) => `ultramarket:http_requests:error_ratio_rate${window}`,
    latencyP95: "ultramarket:http_request_duration_seconds:p95_rate5m",
} as const;
