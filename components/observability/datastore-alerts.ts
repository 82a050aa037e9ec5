// Alerts on the data stores' own metrics, as scraped from their exporters (exporters.ts). Metric names are those of
// the pinned exporters: postgres_exporter (pg_*), percona mongodb_exporter (mongodb_ss_* from serverStatus),
// redis_exporter (redis_*), elasticsearch_exporter (elasticsearch_*); disk is the kubelet's view of each store's PVC.
import { DataStoreName } from "../model/catalog";
import { EXPORTER_SPECS } from "./exporters";
import { inNamespace } from "../model/slo";

export type DataStoreAlertCategory = "exporter" | "connections" | "replication" | "latency" | "disk" | "memory" | "rejections" | "health";

export interface DataStoreAlert {
    alert: string;
    /** The stores it watches (the disk and exporter alerts watch all four). */
    stores: readonly DataStoreName[];
    category: DataStoreAlertCategory;
    severity: "critical" | "warning";
    expr: string;
    for: string;
    summary: string;
    description: string;
}

// Rates per second are printed with printf "%.2f": humanize writes 0.5/s as "500m", which reads as 500 million.

/** Thresholds, named once: the README and docs/observability.md quote them. */
export const DATA_STORE_THRESHOLDS = {
    /** Share of the store's connection limit in use. */
    connectionsUsed: 0.8,
    /** A replica further behind its primary than this, in seconds. */
    replicationLagSeconds: 30,
    /** An open PostgreSQL transaction older than this, in seconds: it holds locks and blocks vacuum. */
    transactionSeconds: 300,
    /** Mean MongoDB operation latency, in microseconds (what serverStatus counts in). */
    mongoLatencyMicros: 100_000,
    /** Mean Elasticsearch query time, in seconds. */
    searchLatencySeconds: 0.5,
    /** Free share of a store's volume below which it is warned about (Elasticsearch stops allocating shards at 85 % used). */
    volumeFree: 0.2,
    /** Share of Redis's maxmemory in use. */
    redisMemoryUsed: 0.9,
} as const;

/** The data-store alerts for the stores deployed in `namespace` (PromQL sees every series by that label). */
export function dataStoreAlerts(namespace: string, stores: readonly DataStoreName[]): DataStoreAlert[] {
    const sel = (...m: string[]) => inNamespace(namespace, ...m);
    const t = DATA_STORE_THRESHOLDS;
    const jobs = stores.map((s) => EXPORTER_SPECS[s].name);
    const claims = `persistentvolumeclaim=~"data-(${stores.join("|")})-[0-9]+"`;
    const mongoConn = (type: string) => `sum by (namespace) (mongodb_ss_connections${sel(`conn_type="${type}"`)})`;
    const all: DataStoreAlert[] = [
        {
            alert: "DataStoreExporterDown",
            stores,
            category: "exporter",
            severity: "warning",
            // No target answering, or none at all (absent() keeps the job label): the store's other alerts go blind.
            expr: [`up${sel(`job=~"${jobs.join("|")}"`)} == 0`, ...jobs.map((j) => `absent(up${sel(`job="${j}"`)})`)].join(" or "),
            for: "5m",
            summary: "A data store's exporter is down",
            description: "Prometheus has not scraped {{ $labels.job }} for 5 minutes: the alerts on that store's own metrics cannot fire.",
        },
        {
            alert: "DataStoreExporterCannotConnect",
            stores: stores.filter((s) => s !== "elasticsearch"),
            category: "exporter",
            severity: "warning",
            expr: `pg_up${sel()} == 0 or mongodb_up${sel()} == 0 or redis_up${sel()} == 0`,
            for: "5m",
            summary: "An exporter cannot log in to its data store",
            description:
                "{{ $labels.job }} answers but cannot query its store for 5 minutes: the store is down, or the monitoring user or its Secret is wrong.",
        },
        {
            alert: "PostgresConnectionsNearLimit",
            stores: ["postgres"],
            category: "connections",
            severity: "warning",
            expr: `sum by (namespace) (pg_stat_activity_count${sel()}) / max by (namespace) (pg_settings_max_connections${sel()}) > ${t.connectionsUsed}`,
            for: "10m",
            summary: "PostgreSQL connections near max_connections",
            description: `PostgreSQL uses {{ $value | humanizePercentage }} of max_connections (threshold ${t.connectionsUsed * 100} %): new connections will soon be refused.`,
        },
        {
            alert: "MongodbConnectionsNearLimit",
            stores: ["mongodb"],
            category: "connections",
            severity: "warning",
            expr: `${mongoConn("current")} / (${mongoConn("current")} + ${mongoConn("available")}) > ${t.connectionsUsed}`,
            for: "10m",
            summary: "MongoDB connections near its limit",
            description: `MongoDB uses {{ $value | humanizePercentage }} of its connections (current / (current + available), threshold ${t.connectionsUsed * 100} %).`,
        },
        {
            alert: "RedisConnectionsNearLimit",
            stores: ["redis"],
            category: "connections",
            severity: "warning",
            expr: `sum by (namespace) (redis_connected_clients${sel()}) / max by (namespace) (redis_config_maxclients${sel()}) > ${t.connectionsUsed}`,
            for: "10m",
            summary: "Redis clients near maxclients",
            description: `Redis serves {{ $value | humanizePercentage }} of maxclients (threshold ${t.connectionsUsed * 100} %).`,
        },
        {
            alert: "PostgresReplicationLag",
            stores: ["postgres"],
            category: "replication",
            severity: "warning",
            // The exporter reports 0 lag on a primary and is_replica 0: on today's single instance this yields nothing.
            expr: `pg_replication_lag_seconds${sel()} > ${t.replicationLagSeconds} and pg_replication_is_replica${sel()} == 1`,
            for: "5m",
            summary: "PostgreSQL replica lags behind its primary",
            description: `The replica behind {{ $labels.job }} replays {{ $value | humanizeDuration }} behind its primary (threshold ${t.replicationLagSeconds} s).`,
        },
        {
            alert: "PostgresLongRunningTransaction",
            stores: ["postgres"],
            category: "latency",
            severity: "warning",
            expr: `max by (namespace, datname) (pg_stat_activity_max_tx_duration${sel()}) > ${t.transactionSeconds}`,
            for: "2m",
            summary: "A PostgreSQL transaction has been open too long",
            description: `A transaction in {{ $labels.datname }} has been open for {{ $value | humanizeDuration }} (threshold ${t.transactionSeconds} s): it holds locks and keeps vacuum from cleaning up.`,
        },
        {
            alert: "MongodbSlowOperations",
            stores: ["mongodb"],
            category: "latency",
            severity: "warning",
            expr:
                `sum by (namespace, op_type) (rate(mongodb_ss_opLatencies_latency${sel()}[5m])) / sum by (namespace, op_type) (rate(mongodb_ss_opLatencies_ops${sel()}[5m]))` +
                ` > ${t.mongoLatencyMicros}`,
            for: "10m",
            summary: "MongoDB operations are slow",
            description: `MongoDB {{ $labels.op_type }} take {{ $value }} µs on average (threshold ${t.mongoLatencyMicros / 1000} ms).`,
        },
        {
            alert: "ElasticsearchSlowSearches",
            stores: ["elasticsearch"],
            category: "latency",
            severity: "warning",
            expr:
                `sum by (namespace) (rate(elasticsearch_indices_search_query_time_seconds${sel()}[5m])) / sum by (namespace) (rate(elasticsearch_indices_search_query_total${sel()}[5m]))` +
                ` > ${t.searchLatencySeconds}`,
            for: "10m",
            summary: "Elasticsearch searches are slow",
            description: `Elasticsearch answers a query in {{ $value | humanizeDuration }} on average (threshold ${t.searchLatencySeconds * 1000} ms).`,
        },
        {
            alert: "DataStoreDiskUsageHigh",
            stores,
            category: "disk",
            severity: "warning",
            expr: `kubelet_volume_stats_available_bytes${sel(claims)} / kubelet_volume_stats_capacity_bytes${sel(claims)} < ${t.volumeFree}`,
            for: "15m",
            summary: "A data store's volume is filling up",
            description: `Volume {{ $labels.persistentvolumeclaim }} has {{ $value | humanizePercentage }} free (threshold ${t.volumeFree * 100} %); Elasticsearch stops allocating shards at 85 % used and turns read-only at 95 %.`,
        },
        {
            alert: "RedisMemoryNearMaxmemory",
            stores: ["redis"],
            category: "memory",
            severity: "warning",
            expr: `redis_memory_used_bytes${sel()} / redis_memory_max_bytes${sel()} > ${t.redisMemoryUsed} and redis_memory_max_bytes${sel()} > 0`,
            for: "10m",
            summary: "Redis is near its maxmemory",
            description: `Redis uses {{ $value | humanizePercentage }} of maxmemory (threshold ${t.redisMemoryUsed * 100} %): it evicts keys with a TTL, and refuses writes once only keys without one (carts) are left.`,
        },
        {
            alert: "RedisEvictingKeys",
            stores: ["redis"],
            category: "rejections",
            severity: "warning",
            expr: `rate(redis_evicted_keys_total${sel()}[5m]) > 0`,
            for: "15m",
            summary: "Redis keeps evicting keys",
            description: `Redis has evicted {{ $value | printf "%.2f" }} keys/s for 15 minutes: the cache is smaller than its working set (raise redisMaxMemoryPercent or Redis's memory).`,
        },
        {
            alert: "RedisRejectedConnections",
            stores: ["redis"],
            category: "rejections",
            severity: "warning",
            expr: `increase(redis_rejected_connections_total${sel()}[5m]) > 0`,
            for: "1m",
            summary: "Redis refuses connections",
            description: "Redis refused {{ $value | humanize }} connections in 5 minutes (maxclients reached): clients fail.",
        },
        {
            alert: "ElasticsearchThreadPoolRejections",
            stores: ["elasticsearch"],
            category: "rejections",
            severity: "warning",
            expr: `sum by (namespace, type) (rate(elasticsearch_thread_pool_rejected_count${sel(`type=~"search|write"`)}[5m])) > 0`,
            for: "5m",
            summary: "Elasticsearch rejects requests",
            description:
                'The {{ $labels.type }} thread pool rejects {{ $value | printf "%.2f" }} tasks/s: Elasticsearch is saturated, searches or indexing fail.',
        },
        {
            alert: "ElasticsearchClusterRed",
            stores: ["elasticsearch"],
            category: "health",
            severity: "critical",
            expr: `elasticsearch_cluster_health_status${sel('color="red"')} == 1`,
            for: "5m",
            summary: "Elasticsearch cluster health is red",
            description: "A primary shard is unassigned for 5 minutes: searches on its index fail and its documents cannot be written.",
        },
    ];
    // Only what watches a deployed store (all four are, today).
    return all.filter((a) => a.stores.length > 0 && a.stores.every((s) => stores.includes(s)));
}
