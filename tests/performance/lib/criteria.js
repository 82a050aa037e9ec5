// The runbook's success criteria as k6 thresholds: the same numbers as components/model/slo.ts
// (p95 < 200 ms, errors < 0.1 %, throughput > 10 000 req/s). A unit test keeps them equal.
import http from "k6/http";
import { check } from "k6";

export const SUCCESS_THRESHOLDS = {
    http_req_duration: ["p(95)<200"],
    http_req_failed: ["rate<0.001"],
    // k6's rate of a counter is its count over the whole run, so scenarios hold the target from the start.
    http_reqs: ["rate>10000"],
};

/** A smoke run proves the scripts and the endpoints at a few requests per second: no throughput criterion. */
export const SMOKE_THRESHOLDS = {
    http_req_duration: SUCCESS_THRESHOLDS.http_req_duration,
    http_req_failed: SUCCESS_THRESHOLDS.http_req_failed,
};

/** The gateway URL, as the runbook passes it: k6 run --env BASE_URL=https://api.<domain> <script>. */
export const BASE_URL = (__ENV.BASE_URL || "").replace(/\/+$/, "");

/** The runbook's health endpoints through the gateway; PATHS (comma-separated) replaces them with real traffic. */
export const PATHS = (__ENV.PATHS || "/health,/auth/health,/users/health,/products/health")
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p.length > 0);

/** Target arrival rate (requests per second); above the 10 000 req/s criterion so the threshold has headroom. */
export function targetRate(defaultRate) {
    const rate = Number(__ENV.TARGET_RPS || defaultRate);
    if (!Number.isFinite(rate) || rate <= 0) throw new Error(`TARGET_RPS must be a positive number (got "${__ENV.TARGET_RPS}")`);
    return rate;
}

/** Fails the run before any load when BASE_URL is unset or the gateway is not healthy. */
export function setupGateway() {
    if (!BASE_URL) throw new Error("BASE_URL is not set; run: k6 run --env BASE_URL=https://api.<domain> <script>");
    const res = http.get(`${BASE_URL}/health`);
    if (res.status !== 200) throw new Error(`${BASE_URL}/health answered ${res.status}; fix the deployment before load testing it`);
    return { baseUrl: BASE_URL };
}

/** One iteration: one GET on one of the paths, round robin over the iterations. */
export function hitPlatform(data) {
    const path = PATHS[__ITER % PATHS.length];
    const res = http.get(`${data.baseUrl}${path}`, { tags: { name: path } });
    check(res, { "status is 2xx": (r) => r.status >= 200 && r.status < 300 });
}
