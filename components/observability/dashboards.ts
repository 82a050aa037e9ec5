import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { AppGroup, AppSpec, DataStoreName } from "../model/catalog";
import { DATA_STORE_THRESHOLDS } from "./datastore-alerts";
import { labels } from "../model/labels";
import { inNamespace, METRICS, RECORDED, SUCCESS_CRITERIA } from "../model/slo";

// Grafana dashboard JSON (schema 39), generated from the catalog: adding an app adds its panels.

interface Target {
    expr: string;
    legendFormat: string;
}
interface PanelSpec {
    title: string;
    type?: "timeseries" | "stat";
    unit: string;
    targets: Target[];
    /** Value above which the panel turns red (the success criterion), if any. */
    redAbove?: number;
    /** Value below which the panel turns red, if any. */
    redBelow?: number;
    w: number;
    h?: number;
}

const DATASOURCE = { type: "prometheus", uid: "${datasource}" };
const GROUP_TITLES: Record<AppGroup, string> = {
    core: "Core services",
    business: "Business services",
    platform: "Platform services",
    frontend: "Frontends",
};

/** Lays panels out left to right in rows of 24 columns, with a collapsible row header per section. */
class Layout {
    private readonly panels: any[] = [];
    private id = 1;
    private x = 0;
    private y = 0;
    private rowHeight = 0;

    row(title: string) {
        this.newLine();
        this.panels.push({ id: this.id++, type: "row", title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y: this.y }, panels: [] });
        this.y += 1;
    }

    panel(p: PanelSpec) {
        const h = p.h ?? 7;
        if (this.x + p.w > 24) this.newLine();
        const steps: { color: string; value: number | null }[] = [{ color: "green", value: null }];
        if (p.redAbove !== undefined) steps.push({ color: "red", value: p.redAbove });
        if (p.redBelow !== undefined) steps.splice(0, 1, { color: "red", value: null }, { color: "green", value: p.redBelow });
        this.panels.push({
            id: this.id++,
            type: p.type ?? "timeseries",
            title: p.title,
            datasource: DATASOURCE,
            gridPos: { h, w: p.w, x: this.x, y: this.y },
            fieldConfig: { defaults: { unit: p.unit, thresholds: { mode: "absolute", steps } }, overrides: [] },
            options:
                p.type === "stat"
                    ? { reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false }, colorMode: "background" }
                    : { legend: { displayMode: "list", placement: "bottom" }, tooltip: { mode: "multi" } },
            targets: p.targets.map((t, i) => ({
                refId: String.fromCharCode(65 + i),
                datasource: DATASOURCE,
                expr: t.expr,
                legendFormat: t.legendFormat,
            })),
        });
        this.x += p.w;
        this.rowHeight = Math.max(this.rowHeight, h);
    }

    done() {
        return this.panels;
    }

    private newLine() {
        this.y += this.rowHeight;
        this.x = 0;
        this.rowHeight = 0;
    }
}

function dashboard(uid: string, title: string, panels: any[]) {
    return {
        uid,
        title,
        tags: ["ultramarket"],
        timezone: "browser",
        schemaVersion: 39,
        version: 1,
        editable: false,
        refresh: "30s",
        time: { from: "now-6h", to: "now" },
        templating: { list: [{ name: "datasource", label: "Data source", type: "datasource", query: "prometheus", current: {}, hide: 0 }] },
        annotations: { list: [] },
        panels,
    };
}

/** Rate, errors and duration for the whole platform, then per app (grouped like the catalog). */
export function platformOverviewDashboard(namespace: string, apps: readonly AppSpec[]) {
    const l = new Layout();
    const sel = (...m: string[]) => inNamespace(namespace, ...m);
    const errRatio = (by: string, ...m: string[]) =>
        `sum${by} (rate(${METRICS.requests}${sel(`${METRICS.status}=~"5.."`, ...m)}[5m])) / sum${by} (rate(${METRICS.requests}${sel(...m)}[5m]))`;
    const p95 = (by: string, ...m: string[]) =>
        `histogram_quantile(0.95, sum by (le${by}) (rate(${METRICS.duration}_bucket${sel(...m)}[5m])))`;

    l.row("Platform (success criteria)");
    // Live traffic, not capacity: the > 10 000 req/s criterion is what the k6 load test proves, so no red here.
    l.panel({
        title: "Requests per second",
        type: "stat",
        unit: "reqps",
        w: 6,
        h: 5,
        targets: [{ expr: `sum(rate(${METRICS.requests}${sel()}[5m]))`, legendFormat: "req/s" }],
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
                        expr: `sum by (${METRICS.status}) (rate(${METRICS.requests}${sel(svc)}[5m]))`,
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
                        expr: `histogram_quantile(0.50, sum by (le) (rate(${METRICS.duration}_bucket${sel(svc)}[5m])))`,
                        legendFormat: "p50",
                    },
                ],
            });
        }
    }
    return dashboard("ultramarket-overview", "UltraMarket / Platform overview", l.done());
}

/**
 * Readiness, restarts, CPU, memory and volume use of each data store (kube-state-metrics, cAdvisor, kubelet), and
 * with `exporterMetrics`, each store's own metrics as its exporter reports them (connections, latency, replication,
 * Redis memory and evictions, Elasticsearch rejections).
 */
export function dataStoresDashboard(namespace: string, stores: readonly DataStoreName[], exporterMetrics = false) {
    const l = new Layout();
    const sel = (...m: string[]) => inNamespace(namespace, ...m);
    for (const store of stores) {
        const pod = `pod=~"${store}-[0-9]+"`;
        l.row(store);
        l.panel({
            title: `${store}: ready replicas`,
            type: "stat",
            unit: "short",
            w: 4,
            redBelow: 1,
            targets: [{ expr: `kube_statefulset_status_replicas_ready${sel(`statefulset="${store}"`)}`, legendFormat: "ready" }],
        });
        l.panel({
            title: `${store}: restarts (1h)`,
            type: "stat",
            unit: "short",
            w: 4,
            redAbove: 1,
            targets: [{ expr: `sum(increase(kube_pod_container_status_restarts_total${sel(pod)}[1h]))`, legendFormat: "restarts" }],
        });
        l.panel({
            title: `${store}: CPU`,
            unit: "cores",
            w: 5,
            targets: [{ expr: `sum(rate(container_cpu_usage_seconds_total${sel(pod, `container="${store}"`)}[5m]))`, legendFormat: "cpu" }],
        });
        l.panel({
            title: `${store}: memory`,
            unit: "bytes",
            w: 5,
            targets: [{ expr: `sum(container_memory_working_set_bytes${sel(pod, `container="${store}"`)})`, legendFormat: "working set" }],
        });
        l.panel({
            title: `${store}: volume used`,
            unit: "percentunit",
            w: 6,
            redAbove: 0.85,
            targets: [
                {
                    expr: `1 - kubelet_volume_stats_available_bytes${sel(`persistentvolumeclaim=~"data-${store}-[0-9]+"`)} / kubelet_volume_stats_capacity_bytes${sel(`persistentvolumeclaim=~"data-${store}-[0-9]+"`)}`,
                    legendFormat: "{{persistentvolumeclaim}}",
                },
            ],
        });
        if (exporterMetrics) for (const p of storeMetricPanels(store, sel)) l.panel(p);
    }
    l.row("All volumes");
    l.panel({
        title: "Volume used by claim",
        unit: "percentunit",
        w: 24,
        redAbove: 0.85,
        targets: [
            {
                expr: `1 - kubelet_volume_stats_available_bytes${sel()} / kubelet_volume_stats_capacity_bytes${sel()}`,
                legendFormat: "{{persistentvolumeclaim}}",
            },
        ],
    });
    return dashboard("ultramarket-data-stores", "UltraMarket / Data stores", l.done());
}

/** A store's own metrics, from its exporter (metric names of the pinned exporters, see exporters.ts). */
function storeMetricPanels(store: DataStoreName, sel: (...m: string[]) => string): PanelSpec[] {
    const t = DATA_STORE_THRESHOLDS;
    const rate = (metric: string, ...m: string[]) => `rate(${metric}${sel(...m)}[5m])`;
    switch (store) {
        case "postgres":
            return [
                {
                    title: "postgres: connections used",
                    unit: "percentunit",
                    w: 6,
                    redAbove: t.connectionsUsed,
                    targets: [
                        {
                            expr: `sum(pg_stat_activity_count${sel()}) / max(pg_settings_max_connections${sel()})`,
                            legendFormat: "of max_connections",
                        },
                    ],
                },
                {
                    title: "postgres: connections by state",
                    unit: "short",
                    w: 6,
                    targets: [{ expr: `sum by (state) (pg_stat_activity_count${sel()})`, legendFormat: "{{state}}" }],
                },
                {
                    title: "postgres: longest transaction",
                    unit: "s",
                    w: 6,
                    redAbove: t.transactionSeconds,
                    targets: [{ expr: `max by (datname) (pg_stat_activity_max_tx_duration${sel()})`, legendFormat: "{{datname}}" }],
                },
                // 0 on a primary: the single instance has no replica yet.
                {
                    title: "postgres: replication lag",
                    unit: "s",
                    w: 6,
                    redAbove: t.replicationLagSeconds,
                    targets: [{ expr: `max(pg_replication_lag_seconds${sel()})`, legendFormat: "lag" }],
                },
                {
                    title: "postgres: database size",
                    unit: "bytes",
                    w: 24,
                    targets: [{ expr: `sum by (datname) (pg_database_size_bytes${sel()})`, legendFormat: "{{datname}}" }],
                },
            ];
        case "mongodb": {
            const conn = (type: string) => `sum(mongodb_ss_connections${sel(`conn_type="${type}"`)})`;
            return [
                {
                    title: "mongodb: connections used",
                    unit: "percentunit",
                    w: 8,
                    redAbove: t.connectionsUsed,
                    targets: [{ expr: `${conn("current")} / (${conn("current")} + ${conn("available")})`, legendFormat: "of limit" }],
                },
                {
                    title: "mongodb: operation latency",
                    unit: "µs",
                    w: 8,
                    redAbove: t.mongoLatencyMicros,
                    targets: [
                        {
                            expr: `sum by (op_type) (${rate("mongodb_ss_opLatencies_latency")}) / sum by (op_type) (${rate("mongodb_ss_opLatencies_ops")})`,
                            legendFormat: "{{op_type}}",
                        },
                    ],
                },
                {
                    title: "mongodb: operations/s",
                    unit: "ops",
                    w: 8,
                    targets: [{ expr: `sum by (op_type) (${rate("mongodb_ss_opLatencies_ops")})`, legendFormat: "{{op_type}}" }],
                },
            ];
        }
        case "redis":
            return [
                {
                    title: "redis: memory used of maxmemory",
                    unit: "percentunit",
                    w: 6,
                    redAbove: t.redisMemoryUsed,
                    targets: [{ expr: `redis_memory_used_bytes${sel()} / redis_memory_max_bytes${sel()}`, legendFormat: "used" }],
                },
                {
                    title: "redis: evicted keys/s",
                    unit: "short",
                    w: 6,
                    targets: [{ expr: `sum(${rate("redis_evicted_keys_total")})`, legendFormat: "evicted" }],
                },
                {
                    title: "redis: rejected connections/s",
                    unit: "short",
                    w: 6,
                    redAbove: 0,
                    targets: [{ expr: `sum(${rate("redis_rejected_connections_total")})`, legendFormat: "rejected" }],
                },
                {
                    title: "redis: clients",
                    unit: "short",
                    w: 6,
                    targets: [
                        { expr: `sum(redis_connected_clients${sel()})`, legendFormat: "connected" },
                        { expr: `max(redis_config_maxclients${sel()})`, legendFormat: "maxclients" },
                    ],
                },
            ];
        case "elasticsearch":
            return [
                {
                    title: "elasticsearch: search latency",
                    unit: "s",
                    w: 8,
                    redAbove: t.searchLatencySeconds,
                    targets: [
                        {
                            expr: `sum(${rate("elasticsearch_indices_search_query_time_seconds")}) / sum(${rate("elasticsearch_indices_search_query_total")})`,
                            legendFormat: "per query",
                        },
                    ],
                },
                {
                    title: "elasticsearch: rejected tasks/s",
                    unit: "short",
                    w: 8,
                    redAbove: 0,
                    targets: [
                        {
                            expr: `sum by (type) (${rate("elasticsearch_thread_pool_rejected_count", 'type=~"search|write"')})`,
                            legendFormat: "{{type}}",
                        },
                    ],
                },
                {
                    title: "elasticsearch: cluster status",
                    type: "stat",
                    unit: "short",
                    w: 8,
                    targets: [{ expr: `max by (color) (elasticsearch_cluster_health_status${sel()})`, legendFormat: "{{color}}" }],
                },
            ];
    }
}

export interface DashboardsArgs {
    /** Namespace of the ConfigMaps (the Grafana sidecar must search it: searchNamespace ALL or this one). */
    objectNamespace: pulumi.Input<string>;
    /** The platform namespace, as PromQL sees it. */
    namespace: string;
    apps: readonly AppSpec[];
    dataStores: readonly DataStoreName[];
    /** Show each store's own metrics (its exporter is scraped). */
    exporterMetrics?: boolean;
    /** What must exist first (the chart whose Grafana loads them). */
    dependsOn?: pulumi.Resource[];
}

/** The dashboards as ConfigMaps labelled `grafana_dashboard: "1"`, which Grafana's sidecar loads. */
export class Dashboards extends pulumi.ComponentResource {
    /** Dashboard uid -> its JSON, as stored in the ConfigMap. */
    public readonly json: Record<string, string> = {};

    constructor(name: string, args: DashboardsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("ultramarket:monitoring:Dashboards", name, {}, opts);
        for (const d of [
            platformOverviewDashboard(args.namespace, args.apps),
            dataStoresDashboard(args.namespace, args.dataStores, args.exporterMetrics),
        ]) {
            const json = JSON.stringify(d);
            this.json[d.uid] = json;
            new k8s.core.v1.ConfigMap(
                d.uid,
                {
                    metadata: {
                        name: `${d.uid}-dashboard`,
                        namespace: args.objectNamespace,
                        labels: { ...labels(d.uid, "monitoring"), grafana_dashboard: "1" },
                        annotations: { grafana_folder: "UltraMarket" },
                    },
                    data: { [`${d.uid}.json`]: json },
                },
                { parent: this, dependsOn: args.dependsOn },
            );
        }
        this.registerOutputs({});
    }
}
