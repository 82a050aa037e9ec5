// The platform overview dashboard: rate, errors and duration for the whole platform, then per app (grouped like the
// catalog), generated from the catalog: adding an app adds its panels.
import { AppGroup, AppSpec } from "../model/catalog";
import { appRequests, inNamespace, METRICS, RECORDED, SUCCESS_CRITERIA } from "../model/slo";
import { dashboard, Layout } from "./dashboard-panels";

const GROUP_TITLES: Record<AppGroup, string> = {
    core: "Core services",
    business: "Business services",
    platform: "Platform services",
    frontend: "Frontends",
};

/** Rate, errors and duration for the whole platform, then per app (grouped like the catalog). */
export function platformOverviewDashboard(namespace: string, apps: readonly AppSpec[]) {
    const l = new Layout();
    const sel = (...m: string[]) => inNamespace(namespace, ...m);
    // Users' requests: the probes are not traffic (slo.ts USER_REQUESTS).
    const req = (...m: string[]) => appRequests(namespace, ...m);
    const errRatio = (by: string, ...m: string[]) =>
        `sum${by} (rate(${METRICS.requests}${req(`${METRICS.status}=~"5.."`, ...m)}[5m])) / sum${by} (rate(${METRICS.requests}${req(...m)}[5m]))`;
    const p95 = (by: string, ...m: string[]) =>
        `histogram_quantile(0.95, sum by (le${by}) (rate(${METRICS.duration}_bucket${req(...m)}[5m])))`;

    l.row("Platform (success criteria)");
    // Live traffic, not capacity: the > 10 000 req/s criterion is what the k6 load test proves, so no red here.
    l.panel({
        title: "Requests per second",
        type: "stat",
        unit: "reqps",
        w: 6,
        h: 5,
        targets: [{ expr: `sum(rate(${METRICS.requests}${req()}[5m]))`, legendFormat: "req/s" }],
    });
    l.panel({
        title: "Error ratio (5xx)",
        type: "stat",
        unit: "percentunit",
        w: 6,
        h: 5,
        redAbove: SUCCESS_CRITERIA.errorBudget,
        targets: [{ expr: errRatio(""), legendFormat: "errors" }],
    });
    l.panel({
        title: "p95 latency",
        type: "stat",
        unit: "s",
        w: 6,
        h: 5,
        redAbove: SUCCESS_CRITERIA.latencyP95Ms / 1000,
        targets: [{ expr: p95(""), legendFormat: "p95" }],
    });
    l.panel({
        title: "Services up",
        type: "stat",
        unit: "short",
        w: 6,
        h: 5,
        targets: [
            { expr: `sum(up${sel()})`, legendFormat: "up" },
            { expr: `count(up${sel()})`, legendFormat: "targets" },
        ],
    });
    l.panel({
        title: "Requests per second by service",
        unit: "reqps",
        w: 8,
        targets: [{ expr: `${RECORDED.requestRate}${sel()}`, legendFormat: "{{service}}" }],
    });
    l.panel({
        title: "Error ratio by service",
        unit: "percentunit",
        w: 8,
        redAbove: SUCCESS_CRITERIA.errorBudget,
        targets: [{ expr: `${RECORDED.errorRatio("5m")}${sel()}`, legendFormat: "{{service}}" }],
    });
    l.panel({
        title: "p95 latency by service",
        unit: "s",
        w: 8,
        redAbove: SUCCESS_CRITERIA.latencyP95Ms / 1000,
        targets: [{ expr: `${RECORDED.latencyP95}${sel()}`, legendFormat: "{{service}}" }],
    });

    for (const group of Object.keys(GROUP_TITLES) as AppGroup[]) {
        const members = apps.filter((a) => a.group === group);
        if (!members.length) continue;
        l.row(GROUP_TITLES[group]);
        for (const app of members) {
            const svc = `service="${app.name}"`;
            l.panel({
                title: `${app.name}: requests/s`,
                unit: "reqps",
                w: 8,
                targets: [
                    {
                        expr: `sum by (${METRICS.status}) (rate(${METRICS.requests}${req(svc)}[5m]))`,
                        legendFormat: `{{${METRICS.status}}}`,
                    },
                ],
            });
            l.panel({
                title: `${app.name}: error ratio`,
                unit: "percentunit",
                w: 8,
                redAbove: SUCCESS_CRITERIA.errorBudget,
                targets: [{ expr: errRatio("", svc), legendFormat: "5xx" }],
            });
            l.panel({
                title: `${app.name}: duration`,
                unit: "s",
                w: 8,
                redAbove: SUCCESS_CRITERIA.latencyP95Ms / 1000,
                targets: [
                    { expr: p95("", svc), legendFormat: "p95" },
                    {
                        expr: `histogram_quantile(0.50, sum by (le) (rate(${METRICS.duration}_bucket${req(svc)}[5m])))`,
                        legendFormat: "p50",
                    },
                ],
            });
        }
    }
    return dashboard("ultramarket-overview", "UltraMarket / Platform overview", l.done());
}
