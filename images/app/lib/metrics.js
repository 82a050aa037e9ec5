"use strict";
// The request metrics the platform's alerts and dashboards query (components/model/slo.ts METRICS): a counter
// and a histogram labelled by method, route and status. `namespace` and `service` are the scrape target's labels
// (the ServiceMonitor adds them), so the app never sets them itself.
const client = require("prom-client");

const METRIC_NAMES = { requests: "http_requests_total", duration: "http_request_duration_seconds" };
const LABELS = ["method", "route", "status"];
// 0.2 s is a boundary: the success criterion is p95 < 200 ms.
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2.5, 5, 10];

function requestMetrics() {
    const registry = new client.Registry();
    client.collectDefaultMetrics({ register: registry });
    const requests = new client.Counter({
        name: METRIC_NAMES.requests,
        help: "HTTP requests answered",
        labelNames: LABELS,
        registers: [registry],
    });
    const duration = new client.Histogram({
        name: METRIC_NAMES.duration,
        help: "Time to answer an HTTP request, in seconds",
        labelNames: LABELS,
        buckets: BUCKETS,
        registers: [registry],
    });
    return {
        registry,
        observe: (method, route, status, seconds) => {
            const labels = { method, route, status: String(status) };
            requests.inc(labels);
            duration.observe(labels, seconds);
        },
    };
}

module.exports = { requestMetrics, METRIC_NAMES };
