// The data tier's Prometheus exporters as data: one entry per data store, read by the exporters' Deployments,
// their NetworkPolicy edges, ServiceMonitors, alert rules and dashboards. Each runs apart from its store (its own
// Deployment, never a sidecar: a sidecar would change the StatefulSet's pod template and restart the store).
import { DataStoreName, DATA_STORE_PASSWORD_KEY, EXPORTER_CREDENTIALS, hasOwnUsers, Resources, SecretKey } from "../model/catalog";
import { ThirdPartyImageName } from "../model/third-party-images";

/** Where an exporter's credentials come from: the monitoring user's own Secret, or a key of the platform Secret. */
export type CredentialRef = { kind: "exporterSecret"; key: "username" | "password" } | { kind: "platformSecret"; key: SecretKey };

export interface ExporterSpec {
    /** Kubernetes name of the Deployment, Service and ServiceMonitor (and the scrape job). */
    name: string;
    /** The data store it reads. */
    store: DataStoreName;
    /** Its image's logical name (the reference, and its version, in components/model/third-party-images.ts). */
    image: ThirdPartyImageName;
    /** Port serving /metrics (the exporter's default). */
    port: number;
    /** The exporter's arguments, for its store's Service at host:port: never a credential (argv is visible on the node). */
    args: (host: string, port: number) => string[];
    /** Plain settings; `host` and `port` are the store's Service. */
    env: (host: string, port: number) => Record<string, string>;
    /** Credentials, each from a Secret through secretKeyRef. */
    credentials: Record<string, CredentialRef>;
    resources: Resources;
}

export const EXPORTER_PORT_NAME = "metrics";
/** The images' unprivileged user (they are static Go binaries; "nobody"). */
export const EXPORTER_UID = 65534;

// A Go binary holding one connection and one scrape's worth of metrics; its disk use is its logs only.
const EXPORTER_RESOURCES: Resources = {
    cpuRequest: "50m",
    cpuLimit: "200m",
    memoryRequest: "64Mi",
    memoryLimit: "128Mi",
    ephemeralStorageRequest: "32Mi",
    ephemeralStorageLimit: "128Mi",
};

export const EXPORTER_SPECS: Record<DataStoreName, ExporterSpec> = {
    postgres: {
        name: "postgres-exporter",
        store: "postgres",
        image: "postgres-exporter",
        port: 9187,
        args: () => [],
        // DATA_SOURCE_URI takes the host without credentials; user and password come from their own variables.
        // The store serves no TLS (in-cluster, behind its NetworkPolicy): lib/pq would otherwise require it.
        env: (host, port) => ({ DATA_SOURCE_URI: `${host}:${port}/ultramarket?sslmode=disable` }),
        credentials: {
            DATA_SOURCE_USER: { kind: "exporterSecret", key: "username" },
            DATA_SOURCE_PASS: { kind: "exporterSecret", key: "password" },
        },
        resources: EXPORTER_RESOURCES,
    },
    mongodb: {
        name: "mongodb-exporter",
        store: "mongodb",
        image: "mongodb-exporter",
        port: 9216,
        // serverStatus (connections, opLatencies) comes from getDiagnosticData; dbStats gives each database's size.
        args: () => ["--collector.diagnosticdata", "--collector.dbstats", "--web.listen-address=:9216"],
        // MONGODB_USER/MONGODB_PASSWORD complete the URI inside the exporter, so no password is ever in a URI or argv.
        env: (host, port) => ({ MONGODB_URI: `mongodb://${host}:${port}/admin?directConnection=true` }),
        credentials: {
            MONGODB_USER: { kind: "exporterSecret", key: "username" },
            MONGODB_PASSWORD: { kind: "exporterSecret", key: "password" },
        },
        resources: EXPORTER_RESOURCES,
    },
    redis: {
        name: "redis-exporter",
        store: "redis",
        image: "redis-exporter",
        port: 9121,
        args: () => [],
        env: (host, port) => ({ REDIS_ADDR: `redis://${host}:${port}` }),
        // Redis has a single password (requirepass), no per-user accounts here: the exporter runs only INFO/CONFIG GET.
        credentials: { REDIS_PASSWORD: { kind: "platformSecret", key: DATA_STORE_PASSWORD_KEY.redis } },
        resources: EXPORTER_RESOURCES,
    },
    elasticsearch: {
        name: "elasticsearch-exporter",
        store: "elasticsearch",
        image: "elasticsearch-exporter",
        port: 9114,
        // The URI carries no credentials (ES_USERNAME/ES_PASSWORD do); since v1.4 only those two are read from the environment.
        // Its own timeout below the ServiceMonitor's 10 s scrape timeout, so a slow store shows as the exporter's error.
        args: (host, port) => [`--es.uri=http://${host}:${port}`, "--es.timeout=8s"],
        env: () => ({}),
        // Its monitoring user (the `monitor` cluster and index privileges), never `elastic`.
        credentials: {
            ES_USERNAME: { kind: "exporterSecret", key: "username" },
            ES_PASSWORD: { kind: "exporterSecret", key: "password" },
        },
        resources: EXPORTER_RESOURCES,
    },
};

export const EXPORTERS: readonly ExporterSpec[] = Object.values(EXPORTER_SPECS);

/** Platform Secret keys an exporter reads: its Deployment rolls when one changes. */
export function platformSecretKeys(spec: ExporterSpec): SecretKey[] {
    return Object.values(spec.credentials).flatMap((c) => (c.kind === "platformSecret" ? [c.key] : []));
}

/** The Secret holding the monitoring user of a store that has users of its own (PostgreSQL, MongoDB, Elasticsearch). */
export function exporterSecretName(store: DataStoreName): string {
    if (!hasOwnUsers(store)) throw new Error(`${store} has no exporter credentials Secret`);
    return EXPORTER_CREDENTIALS[store].secretName;
}
