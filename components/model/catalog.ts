// The single source of truth for every UltraMarket application: everything per app (images,
// workloads, services, autoscalers, disruption budgets, network edges, ingress routes, monitors,
// dashboards, alerts) is derived from these entries. Adding an app is one entry here.

export type DataStoreName = "postgres" | "mongodb" | "redis" | "elasticsearch";

/** The platform Secret's name (the runbook's `ultramarket-secrets`). */
export const PLATFORM_SECRET_NAME = "ultramarket-secrets";

/** Keys of the platform Secret (the runbook's step 1.2 keys plus the Elasticsearch password). */
export const SECRET_KEYS = [
    "POSTGRES_PASSWORD",
    "MONGODB_PASSWORD",
    "REDIS_PASSWORD",
    "ELASTICSEARCH_PASSWORD",
    "JWT_SECRET",
    "JWT_REFRESH_SECRET",
    "CLICK_MERCHANT_ID",
    "CLICK_SECRET_KEY",
    "PAYME_MERCHANT_ID",
    "PAYME_SECRET_KEY",
    "ESKIZ_EMAIL",
    "ESKIZ_PASSWORD",
    "PLAY_MOBILE_LOGIN",
    "PLAY_MOBILE_PASSWORD",
    "SENDGRID_API_KEY",
    "SMTP_PASSWORD",
] as const;
export type SecretKey = (typeof SECRET_KEYS)[number];

export type AppGroup = "core" | "business" | "platform" | "frontend";

export interface Resources {
    cpuRequest: string;
    cpuLimit: string;
    memoryRequest: string;
    memoryLimit: string;
    /** Local disk: the container's logs and writable layer, and (in the pod's total) its emptyDirs. */
    ephemeralStorageRequest: string;
    ephemeralStorageLimit: string;
}

/** A container's requests and limits from its Resources. */
export function resourceRequirements(r: Resources) {
    return {
        requests: { cpu: r.cpuRequest, memory: r.memoryRequest, "ephemeral-storage": r.ephemeralStorageRequest },
        limits: { cpu: r.cpuLimit, memory: r.memoryLimit, "ephemeral-storage": r.ephemeralStorageLimit },
    };
}

export interface AppSpec {
    /** Kubernetes name of the Deployment/Service and the image repository name. */
    name: string;
    group: AppGroup;
    /** Docker build context inside the app repository, exactly as the runbook's `docker build`. */
    context: string;
    /** Container port serving HTTP (health, API and /metrics). */
    port: number;
    /** Readiness: the app's `/health`, which also checks its data stores, so an unready pod gets no traffic. */
    healthPath: string;
    /**
     * Liveness (and startup): a path that answers while the process is healthy whatever its dependencies do. Unset,
     * liveness is a TCP connect to the http port: a data-store outage fails `/health` and must not restart every pod.
     */
    livenessPath?: string;
    /** Prometheus metrics on the app port; unset for apps that serve none (the static frontends). */
    metricsPath?: string;
    /**
     * How the outside world reaches the app: a path prefix behind api-gateway (`/auth` answers
     * on `api.<domain>/auth/...`), or a host for the edge apps.
     */
    route: { kind: "gateway"; prefix: string } | { kind: "host"; host: "api" | "web" | "admin" | "mobile" };
    dataStores: DataStoreName[];
    /** Secret keys the app needs beyond the passwords of its data stores. */
    secrets: SecretKey[];
    /** Runs `npm run migrate` in a Job that must complete before the app rolls out. */
    migrations: boolean;
    /** Deployed unless switched off in config (the runbook deploys mobile-app only "if needed"). */
    enabledByDefault: boolean;
    replicas: number;
    maxReplicas: number;
    resources: Resources;
    /** The image's unprivileged user (node images: 1000; nginx-unprivileged: 101). */
    runAsUser: number;
    /** Writable directories on the otherwise read-only root filesystem (emptyDirs). */
    writablePaths: string[];
    /** The sizeLimit of each writable directory (the pod is evicted beyond it, never the node's disk filled). */
    scratchSize: string;
    /** Calls third-party APIs on the internet over HTTPS (payment providers, SMS and e-mail gateways). */
    externalEgress: boolean;
    /** PostgreSQL connections, for apps that use it (the connection budget in config/parse.ts adds them up). */
    postgresPool?: PostgresPool;
}

/**
 * An app's PostgreSQL connections through PgBouncer: `server`, the server connections each PgBouncer pod may hold
 * for the app's user (transaction pooling multiplexes the app's clients onto them); `client`, the pool each app pod
 * opens to PgBouncer (`POSTGRES_POOL_MAX`).
 */
export interface PostgresPool {
    server: number;
    client: number;
}

/** Small: transaction pooling holds a server connection only for a transaction's milliseconds. */
export const DEFAULT_POSTGRES_POOL: PostgresPool = { server: 4, client: 10 };

// Ephemeral storage: each limit covers the app's scratch directories (and a migration Job's HOME) plus its logs.
const SMALL: Resources = {
    cpuRequest: "200m",
    cpuLimit: "500m",
    memoryRequest: "128Mi",
    memoryLimit: "256Mi",
    ephemeralStorageRequest: "256Mi",
    ephemeralStorageLimit: "1Gi",
};
const MEDIUM: Resources = {
    cpuRequest: "250m",
    cpuLimit: "1",
    memoryRequest: "256Mi",
    memoryLimit: "512Mi",
    ephemeralStorageRequest: "256Mi",
    ephemeralStorageLimit: "1Gi",
};
const FRONTEND: Resources = {
    cpuRequest: "100m",
    cpuLimit: "250m",
    memoryRequest: "64Mi",
    memoryLimit: "128Mi",
    ephemeralStorageRequest: "128Mi",
    ephemeralStorageLimit: "512Mi",
};

type Defaulted =
    | "enabledByDefault"
    | "maxReplicas"
    | "migrations"
    | "secrets"
    | "runAsUser"
    | "writablePaths"
    | "scratchSize"
    | "externalEgress"
    | "postgresPool";
type Entry = Omit<AppSpec, "context" | "healthPath" | "metricsPath" | Defaulted> & Partial<Pick<AppSpec, Defaulted>>;

function app(e: Entry): AppSpec {
    const frontend = e.group === "frontend";
    const context = frontend ? `frontend/${e.name}/` : `microservices/${e.group}/${e.name}/`;
    return {
        healthPath: "/health",
        metricsPath: frontend ? undefined : "/metrics",
        enabledByDefault: true,
        maxReplicas: Math.max(e.replicas * 5, 10),
        migrations: false,
        secrets: [],
        runAsUser: frontend ? 101 : 1000,
        writablePaths: frontend ? ["/tmp", "/var/cache/nginx"] : ["/tmp"],
        scratchSize: frontend ? "128Mi" : "512Mi",
        externalEgress: false,
        postgresPool: e.dataStores.includes("postgres") ? DEFAULT_POSTGRES_POOL : undefined,
        ...e,
        context,
    };
}

export const CATALOG: readonly AppSpec[] = [
    // core
    app({
        name: "auth-service",
        group: "core",
        port: 3001,
        route: { kind: "gateway", prefix: "/auth" },
        dataStores: ["postgres", "redis"],
        secrets: ["JWT_SECRET", "JWT_REFRESH_SECRET"],
        migrations: true,
        replicas: 2,
        resources: MEDIUM,
    }),
    app({
        name: "user-service",
        group: "core",
        port: 3002,
        route: { kind: "gateway", prefix: "/users" },
        dataStores: ["postgres", "redis"],
        secrets: ["JWT_SECRET"],
        migrations: true,
        replicas: 2,
        resources: MEDIUM,
    }),
    app({
        name: "config-service",
        group: "core",
        port: 3003,
        route: { kind: "gateway", prefix: "/config" },
        dataStores: ["postgres", "redis"],
        replicas: 2,
        resources: SMALL,
    }),
    app({
        name: "store-service",
        group: "core",
        port: 3004,
        route: { kind: "gateway", prefix: "/stores" },
        dataStores: ["postgres"],
        replicas: 2,
        resources: SMALL,
    }),
    app({
        name: "api-gateway",
        group: "core",
        port: 3000,
        route: { kind: "host", host: "api" },
        dataStores: ["redis"],
        secrets: ["JWT_SECRET"],
        replicas: 3,
        resources: MEDIUM,
    }),
    // business
    app({
        name: "product-service",
        group: "business",
        port: 3005,
        route: { kind: "gateway", prefix: "/products" },
        dataStores: ["mongodb", "redis"],
        replicas: 3,
        resources: MEDIUM,
    }),
    app({
        name: "cart-service",
        group: "business",
        port: 3006,
        route: { kind: "gateway", prefix: "/cart" },
        dataStores: ["redis"],
        replicas: 2,
        resources: SMALL,
    }),
    app({
        name: "order-service",
        group: "business",
        port: 3007,
        route: { kind: "gateway", prefix: "/orders" },
        dataStores: ["postgres"],
        replicas: 2,
        resources: MEDIUM,
    }),
    app({
        name: "payment-service",
        group: "business",
        port: 3008,
        route: { kind: "gateway", prefix: "/payments" },
        dataStores: ["postgres"],
        secrets: ["CLICK_MERCHANT_ID", "CLICK_SECRET_KEY", "PAYME_MERCHANT_ID", "PAYME_SECRET_KEY"],
        externalEgress: true,
        replicas: 2,
        resources: MEDIUM,
    }),
    app({
        name: "inventory-service",
        group: "business",
        port: 3009,
        route: { kind: "gateway", prefix: "/inventory" },
        dataStores: ["postgres", "redis"],
        replicas: 2,
        resources: SMALL,
    }),
    app({
        name: "review-service",
        group: "business",
        port: 3010,
        route: { kind: "gateway", prefix: "/reviews" },
        dataStores: ["mongodb"],
        replicas: 2,
        resources: SMALL,
    }),
    // platform
    app({
        name: "search-service",
        group: "platform",
        port: 3011,
        route: { kind: "gateway", prefix: "/search" },
        dataStores: ["elasticsearch", "redis"],
        replicas: 2,
        resources: MEDIUM,
    }),
    app({
        name: "notification-service",
        group: "platform",
        port: 3012,
        route: { kind: "gateway", prefix: "/notifications" },
        dataStores: ["mongodb", "redis"],
        secrets: ["ESKIZ_EMAIL", "ESKIZ_PASSWORD", "PLAY_MOBILE_LOGIN", "PLAY_MOBILE_PASSWORD", "SENDGRID_API_KEY", "SMTP_PASSWORD"],
        externalEgress: true,
        replicas: 2,
        resources: SMALL,
    }),
    // Multipart uploads may be staged in /tmp before they reach the upload volume: a larger scratch directory.
    app({
        name: "file-service",
        group: "platform",
        port: 3013,
        route: { kind: "gateway", prefix: "/files" },
        dataStores: ["mongodb"],
        replicas: 2,
        resources: { ...SMALL, ephemeralStorageLimit: "2Gi" },
        scratchSize: "1Gi",
    }),
    app({
        name: "analytics-service",
        group: "platform",
        port: 3014,
        route: { kind: "gateway", prefix: "/analytics" },
        dataStores: ["mongodb", "elasticsearch"],
        replicas: 2,
        resources: MEDIUM,
    }),
    app({
        name: "content-service",
        group: "platform",
        port: 3015,
        route: { kind: "gateway", prefix: "/content" },
        dataStores: ["mongodb"],
        replicas: 2,
        resources: SMALL,
    }),
    app({
        name: "audit-service",
        group: "platform",
        port: 3016,
        route: { kind: "gateway", prefix: "/audit" },
        dataStores: ["mongodb", "elasticsearch"],
        replicas: 2,
        resources: SMALL,
    }),
    // frontends (static bundles served by an unprivileged web server on 8080)
    app({
        name: "web-app",
        group: "frontend",
        port: 8080,
        route: { kind: "host", host: "web" },
        dataStores: [],
        replicas: 2,
        resources: FRONTEND,
    }),
    app({
        name: "admin-panel",
        group: "frontend",
        port: 8080,
        route: { kind: "host", host: "admin" },
        dataStores: [],
        replicas: 2,
        resources: FRONTEND,
    }),
    app({
        name: "mobile-app",
        group: "frontend",
        port: 8080,
        route: { kind: "host", host: "mobile" },
        dataStores: [],
        replicas: 2,
        resources: FRONTEND,
        enabledByDefault: false,
    }),
];

export const APP_NAMES: readonly string[] = CATALOG.map((a) => a.name);

/** The file service keeps uploads on a shared volume (the runbook's phase 2.2 storage). */
export const FILE_UPLOADS = { app: "file-service", mountPath: "/app/uploads" } as const;

/** The app the edge routes api.<domain> to, and which fronts every gateway-routed service. */
export const GATEWAY = "api-gateway";

/** The password key of each data store in the platform Secret. */
export const DATA_STORE_PASSWORD_KEY: Record<DataStoreName, SecretKey> = {
    postgres: "POSTGRES_PASSWORD",
    mongodb: "MONGODB_PASSWORD",
    redis: "REDIS_PASSWORD",
    elasticsearch: "ELASTICSEARCH_PASSWORD",
};

/** Data stores with users of their own: each app and each exporter connects as its own least-privileged user. */
export const DATABASES_WITH_USERS = ["postgres", "mongodb", "elasticsearch"] as const;
export type DatabaseWithUsers = (typeof DATABASES_WITH_USERS)[number];

/** The databases a backup dumps (Elasticsearch's indices are rebuilt from them, or kept by its own snapshots). */
export const BACKED_UP_DATABASES = ["postgres", "mongodb"] as const;
export type BackedUpDatabase = (typeof BACKED_UP_DATABASES)[number];

export const hasOwnUsers = (store: DataStoreName): store is DatabaseWithUsers =>
    (DATABASES_WITH_USERS as readonly string[]).includes(store);

/**
 * Every platform Secret key an app may read: the password of Redis (which has no users of its own) when it uses
 * Redis, plus its own secrets. The superuser passwords of PostgreSQL, MongoDB and Elasticsearch are never among
 * them: those apps read their own user's credentials from their own Secret (DATABASE_CREDENTIAL_KEYS).
 */
export function secretKeysFor(spec: AppSpec): SecretKey[] {
    const keys = new Set<SecretKey>([
        ...spec.dataStores.filter((d) => !hasOwnUsers(d)).map((d) => DATA_STORE_PASSWORD_KEY[d]),
        ...spec.secrets,
    ]);
    return SECRET_KEYS.filter((k) => keys.has(k));
}

/** The Secret holding an app's own database credentials. */
export const databaseSecretName = (app: string) => `${app}-database`;

/** The keys of an app's database Secret, by data store: the env names the apps always read, now with a user of their own. */
export const DATABASE_CREDENTIAL_KEYS: Record<DatabaseWithUsers, { user: string; password: string }> = {
    postgres: { user: "POSTGRES_USER", password: "POSTGRES_PASSWORD" },
    mongodb: { user: "MONGODB_USER", password: "MONGODB_PASSWORD" },
    elasticsearch: { user: "ELASTICSEARCH_USER", password: "ELASTICSEARCH_PASSWORD" },
};

/** The data stores an app has a user of its own in. */
export const databasesOf = (spec: AppSpec): DatabaseWithUsers[] => spec.dataStores.filter(hasOwnUsers);

/**
 * The read-only monitoring user of a database's exporter, and the Secret holding its credentials (keys `username`
 * and `password`). The database users step creates the user (PostgreSQL `pg_monitor`, MongoDB `clusterMonitor`,
 * Elasticsearch the `monitor` cluster and index privileges);
 * the exporter reads the Secret; neither ever sees the superuser password.
 */
export const EXPORTER_CREDENTIALS: Record<DatabaseWithUsers, { user: string; secretName: string }> = {
    postgres: { user: "ultramarket_monitor", secretName: "postgres-exporter-credentials" },
    mongodb: { user: "ultramarket_monitor", secretName: "mongodb-exporter-credentials" },
    elasticsearch: { user: "ultramarket_monitor", secretName: "elasticsearch-exporter-credentials" },
};
