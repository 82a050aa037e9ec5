// The data stores dashboard: each store's readiness, restarts, CPU, memory and volume, and its exporter's own metrics.
import { DataStoreName } from "../model/catalog";
import { DATA_STORE_THRESHOLDS } from "./datastore-alerts";
import { inNamespace } from "../model/slo";
import { dashboard, Layout, PanelSpec } from "./dashboard-panels";

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
