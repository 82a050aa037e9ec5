import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { DATA_STORE_PASSWORD_KEY, DataStoreName, resourceRequirements, Resources, SecretKey } from "../model/catalog";
import { labels, selectorLabels } from "../model/labels";
import { rolloutAnnotations, secretChecksum } from "../model/rollout";
import { restrictedContainerSecurity, restrictedPodSecurity } from "../model/security";
import { ThirdPartyImageName, ThirdPartyImages } from "../model/third-party-images";
import { DataStorePlacement, podPlacementFields } from "../model/placement";

type EnvVar = k8s.types.input.core.v1.EnvVar;

/** How one data store runs; the four StatefulSets differ only in these values. */
interface DataStoreSpec {
    name: DataStoreName;
    /** Its image's logical name (the reference comes from configuration). */
    image: ThirdPartyImageName;
    port: number;
    /** The image's own unprivileged user. */
    uid: number;
    dataPath: string;
    /** Writable scratch directories (emptyDirs) on a read-only root filesystem: volume -> path and sizeLimit. */
    scratch: Record<string, { path: string; size: string }>;
    env: (secretRef: (key: string) => EnvVar["valueFrom"]) => EnvVar[];
    command?: (tuning: DataStoreTuning) => string[];
    /** Arguments to the image's own entrypoint (undefined: none, the image's default command). */
    args?: (tuning: DataStoreTuning) => string[] | undefined;
    /**
     * Secret keys the store (or its probes) reads on every start: a change rolls its pod. PostgreSQL and
     * MongoDB apply their password only when the data directory is first initialised (their probes need
     * none); see README "Rotating a data-store password".
     */
    appliesOnStart: SecretKey[];
    readiness: string[];
    liveness: string[];
    /**
     * How long a start may take before liveness applies (crash recovery, AOF or translog replay): the startup
     * probe runs the liveness check for this long, so a store still recovering is never killed for it.
     */
    startupSeconds: number;
    /** An init step run with the same image (e.g. seeding a writable config dir), with its own env and mounts (volume -> path). */
    init?: { command: string[]; env?: (secretRef: (key: string) => EnvVar["valueFrom"]) => EnvVar[]; mounts: Record<string, string> };
    resources: Resources;
    url: (host: string, port: number) => string;
}

/** Settings of the stores that come from configuration. */
export interface DataStoreTuning {
    redis: {
        /** maxmemory as a percentage of Redis's container memory limit (the rest covers the AOF-rewrite fork and buffers). */
        maxMemoryPercent: number;
        /** Redis's maxmemory-policy. */
        evictionPolicy: string;
    };
    /** PostgreSQL's max_connections when configured; unset, its command line stays as it was (a change restarts it). */
    postgres?: { maxConnections?: number };
}

const sh = (script: string) => ["sh", "-c", script];

/** Bytes in a Kubernetes memory quantity with a binary suffix ("1Gi", "512Mi"). */
export function quantityBytes(q: string): number {
    const m = /^([0-9]+)(Ki|Mi|Gi|Ti)?$/.exec(q);
    if (!m) throw new Error(`unsupported memory quantity "${q}"`);
    return Number(m[1]) * 1024 ** ["", "Ki", "Mi", "Gi", "Ti"].indexOf(m[2] ?? "");
}

/** Redis's maxmemory in bytes: a share of its container's memory limit. */
export function redisMaxMemoryBytes(tuning: DataStoreTuning): number {
    return Math.floor((quantityBytes(DATA_STORE_SPECS.redis.resources.memoryLimit) * tuning.redis.maxMemoryPercent) / 100);
}

/**
 * A shell pipeline stage printing `format` with an environment variable's value in place of `%s`, with `\` and
 * `"` escaped (the quoting of Redis and curl config files). awk reads the value from its own environment, so it is
 * never part of a command line, which `ps` and /proc/<pid>/cmdline show to every process on the node.
 */
export function printFromEnv(variable: string, format: string): string {
    const f = format.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
    return `awk 'BEGIN { v = ENVIRON["${variable}"]; q = ""; for (i = 1; i <= length(v); i++) { c = substr(v, i, 1); if (c == "\\\\" || c == "\\"") q = q "\\\\"; q = q c }; printf "${f}\\n", q }'`;
}

/** Where Redis reads its password from: a 0600 file the init step writes into an emptyDir. */
const REDIS_CONF_DIR = "/usr/local/etc/redis";
const REDIS_AUTH_FILE = `${REDIS_CONF_DIR}/auth.conf`;

/** curl against Elasticsearch as `user` (`elastic` unless named) with ELASTIC_PASSWORD, its credentials on stdin (`-K -`) rather than in argv. */
export const elasticCurl = (url: string, user = "elastic") =>
    `${printFromEnv("ELASTIC_PASSWORD", `user = "${user}:%s"`)} | curl -fsS -K - "${url}"`;

export const DATA_STORE_SPECS: Record<DataStoreName, DataStoreSpec> = {
    postgres: {
        name: "postgres",
        image: "postgres",
        port: 5432,
        uid: 70,
        dataPath: "/var/lib/postgresql/data",
        scratch: { run: { path: "/var/run/postgresql", size: "16Mi" }, tmp: { path: "/tmp", size: "256Mi" } },
        env: (ref) => [
            { name: "POSTGRES_DB", value: "ultramarket" },
            { name: "POSTGRES_USER", value: "postgres" },
            { name: "POSTGRES_PASSWORD", valueFrom: ref(DATA_STORE_PASSWORD_KEY.postgres) },
            { name: "PGDATA", value: "/var/lib/postgresql/data/pgdata" },
        ],
        args: (t) =>
            t.postgres?.maxConnections === undefined ? undefined : ["postgres", "-c", `max_connections=${t.postgres.maxConnections}`],
        appliesOnStart: [],
        // The runbook's own check (`psql ... -c "SELECT 1"`, over the local socket, which trusts local users), once the
        // server accepts TCP: on first start the image runs its init scripts on a socket-only server, which answered
        // the socket check while clients over the network were refused (a users Job on a real node saw it).
        readiness: ["sh", "-c", "pg_isready -q -h 127.0.0.1 -p 5432 && psql -U postgres -d ultramarket -tAc 'SELECT 1'"],
        liveness: ["pg_isready", "-U", "postgres", "-d", "ultramarket"],
        // Crash recovery replays the WAL before it accepts connections.
        startupSeconds: 600,
        resources: {
            cpuRequest: "500m",
            cpuLimit: "2",
            memoryRequest: "1Gi",
            memoryLimit: "2Gi",
            ephemeralStorageRequest: "256Mi",
            ephemeralStorageLimit: "1Gi",
        },
        url: (host, port) => `postgresql://${host}:${port}/ultramarket`,
    },
    mongodb: {
        name: "mongodb",
        image: "mongodb",
        port: 27017,
        uid: 999,
        dataPath: "/data/db",
        scratch: { configdb: { path: "/data/configdb", size: "64Mi" }, tmp: { path: "/tmp", size: "256Mi" } },
        env: (ref) => [
            { name: "MONGO_INITDB_ROOT_USERNAME", value: "root" },
            { name: "MONGO_INITDB_ROOT_PASSWORD", valueFrom: ref(DATA_STORE_PASSWORD_KEY.mongodb) },
            { name: "MONGO_INITDB_DATABASE", value: "ultramarket" },
        ],
        appliesOnStart: [],
        // The runbook's `mongosh --eval "db.runCommand({ping: 1})"`; ping needs no credentials.
        readiness: ["mongosh", "--quiet", "--eval", "db.runCommand({ping: 1}).ok"],
        liveness: ["mongosh", "--quiet", "--eval", "db.runCommand({ping: 1}).ok"],
        // WiredTiger recovery after an unclean shutdown.
        startupSeconds: 600,
        resources: {
            cpuRequest: "500m",
            cpuLimit: "2",
            memoryRequest: "1Gi",
            memoryLimit: "2Gi",
            ephemeralStorageRequest: "256Mi",
            ephemeralStorageLimit: "1Gi",
        },
        // The users Job creates every user in `admin`: drivers authenticate against the URL's database unless
        // authSource names another, so without it every app's login would fail (the stand-in app shows it).
        url: (host, port) => `mongodb://${host}:${port}/ultramarket?authSource=admin`,
    },
    redis: {
        name: "redis",
        image: "redis",
        port: 6379,
        uid: 999,
        dataPath: "/data",
        scratch: { conf: { path: REDIS_CONF_DIR, size: "1Mi" }, tmp: { path: "/tmp", size: "64Mi" } },
        env: (ref) => [
            // redis-cli reads this, so probes authenticate without the password on a command line.
            { name: "REDISCLI_AUTH", valueFrom: ref(DATA_STORE_PASSWORD_KEY.redis) },
        ],
        // The password is in the file (never argv); the bounds are plain settings. A cache and session store that
        // also holds keys without a TTL (carts): volatile-lru evicts expiring keys first and never a key without one.
        command: (t) => [
            "redis-server",
            REDIS_AUTH_FILE,
            "--maxmemory",
            String(redisMaxMemoryBytes(t)),
            "--maxmemory-policy",
            t.redis.evictionPolicy,
            "--appendonly",
            "yes",
            "--dir",
            "/data",
        ],
        // Writes `requirepass` into the file, readable by the Redis user only.
        init: {
            command: sh(`umask 077 && ${printFromEnv("REDIS_PASSWORD", 'requirepass "%s"')} > ${REDIS_AUTH_FILE}`),
            env: (ref) => [{ name: "REDIS_PASSWORD", valueFrom: ref(DATA_STORE_PASSWORD_KEY.redis) }],
            mounts: { conf: REDIS_CONF_DIR },
        },
        appliesOnStart: [DATA_STORE_PASSWORD_KEY.redis],
        // The runbook's `redis-cli ping`; redis-cli exits 0 on NOAUTH, so insist on PONG.
        readiness: sh("redis-cli ping | grep -q PONG"),
        liveness: sh("redis-cli ping | grep -q PONG"),
        // Loading the append-only file before it answers.
        startupSeconds: 600,
        resources: {
            cpuRequest: "250m",
            cpuLimit: "1",
            memoryRequest: "512Mi",
            memoryLimit: "1Gi",
            ephemeralStorageRequest: "128Mi",
            ephemeralStorageLimit: "512Mi",
        },
        url: (host, port) => `redis://${host}:${port}`,
    },
    elasticsearch: {
        name: "elasticsearch",
        image: "elasticsearch",
        port: 9200,
        uid: 1000,
        dataPath: "/usr/share/elasticsearch/data",
        scratch: {
            config: { path: "/usr/share/elasticsearch/config", size: "64Mi" },
            // The JVM's GC log rotates at 32 files of 64 MiB (the image's jvm.options).
            logs: { path: "/usr/share/elasticsearch/logs", size: "2Gi" },
            tmp: { path: "/tmp", size: "512Mi" },
        },
        env: (ref) => [
            { name: "discovery.type", value: "single-node" },
            { name: "xpack.security.enabled", value: "true" },
            { name: "xpack.security.http.ssl.enabled", value: "false" },
            { name: "xpack.security.transport.ssl.enabled", value: "false" },
            // No privileged sysctl for vm.max_map_count under the restricted standard.
            { name: "node.store.allow_mmap", value: "false" },
            { name: "ES_JAVA_OPTS", value: "-Xms1g -Xmx1g" },
            { name: "ELASTIC_PASSWORD", valueFrom: ref(DATA_STORE_PASSWORD_KEY.elasticsearch) },
        ],
        // The image writes its keystore into the config dir: copy the defaults to a writable volume first.
        init: { command: sh("cp -a /usr/share/elasticsearch/config/. /seed-config/"), mounts: { config: "/seed-config" } },
        // The store applies ELASTIC_PASSWORD only at bootstrap, but its probes authenticate with the pod's
        // environment: after the password is changed inside the store, the pod must restart to keep probing.
        appliesOnStart: [DATA_STORE_PASSWORD_KEY.elasticsearch],
        readiness: sh(elasticCurl("http://127.0.0.1:9200/_cluster/health?wait_for_status=yellow&timeout=5s")),
        liveness: sh(`${elasticCurl("http://127.0.0.1:9200/_cluster/health?timeout=5s")} >/dev/null`),
        // Recovering shards from the translog, and the JVM's start.
        startupSeconds: 900,
        resources: {
            cpuRequest: "500m",
            cpuLimit: "2",
            memoryRequest: "2Gi",
            memoryLimit: "2Gi",
            ephemeralStorageRequest: "1Gi",
            ephemeralStorageLimit: "3Gi",
        },
        url: (host, port) => `http://${host}:${port}`,
    },
};

export const DATA_STORE_NAMES = Object.keys(DATA_STORE_SPECS) as DataStoreName[];

export interface DataStoresArgs {
    namespace: pulumi.Input<string>;
    secretName: pulumi.Input<string>;
    /** The platform Secret's values (Pulumi secrets): a store that applies its password on start rolls when it changes. */
    secretValues: Partial<Record<SecretKey, pulumi.Output<string>>>;
    /** The stack's key of the secret checksums (PlatformSecret.checksumKey; model/rollout.ts secretChecksum). */
    checksumKey: pulumi.Input<string>;
    /** Per store its StorageClass; unset: the cluster's default. */
    storageClasses: Partial<Record<DataStoreName, string>>;
    sizes: Record<DataStoreName, string>;
    /** Pulumi `protect` on the StatefulSets, so a destroy or an accidental replace cannot take the data. */
    protect: boolean;
    /** Settings from configuration (Redis's memory bound and eviction policy). */
    tuning: DataStoreTuning;
    /** The third-party images by logical name (each store runs its own). */
    images: ThirdPartyImages;
    /** Per store, the nodes its pod may run on (nodeSelector, tolerations); an unplaced store's pod spec has neither. */
    placement?: DataStorePlacement;
}

export interface DataStoreEndpoint {
    host: pulumi.Output<string>;
    port: number;
    /** Connection URL without credentials (apps read the password from the Secret). */
    url: pulumi.Output<string>;
}

/** PostgreSQL, MongoDB, Redis and Elasticsearch as StatefulSets with headless Services and retained volumes. */
export class DataStores extends pulumi.ComponentResource {
    public readonly endpoints: Record<DataStoreName, DataStoreEndpoint>;
    /** The StatefulSets: depend on one to wait until that store is ready. */
    public readonly statefulSets: Record<DataStoreName, k8s.apps.v1.StatefulSet>;

    constructor(name: string, args: DataStoresArgs, opts?: pulumi.ComponentResourceOptions) {
        super("ultramarket:data:DataStores", name, {}, opts);
        const endpoints = {} as Record<DataStoreName, DataStoreEndpoint>;
        const statefulSets = {} as Record<DataStoreName, k8s.apps.v1.StatefulSet>;
        for (const spec of Object.values(DATA_STORE_SPECS)) {
            const { service, statefulSet } = this.dataStore(spec, args);
            const host = service.metadata.name;
            endpoints[spec.name] = { host, port: spec.port, url: host.apply((h) => spec.url(h, spec.port)) };
            statefulSets[spec.name] = statefulSet;
        }
        this.endpoints = endpoints;
        this.statefulSets = statefulSets;
        this.registerOutputs({ endpoints });
    }

    private dataStore(spec: DataStoreSpec, args: DataStoresArgs) {
        const meta = labels(spec.name, "datastore");
        const service = new k8s.core.v1.Service(
            `${spec.name}-service`,
            {
                metadata: { name: `${spec.name}-service`, namespace: args.namespace, labels: meta },
                spec: {
                    clusterIP: "None",
                    selector: selectorLabels(spec.name),
                    ports: [{ name: spec.name, port: spec.port, targetPort: spec.port }],
                },
            },
            { parent: this },
        );
        const secretRef = (key: string) => ({ secretKeyRef: { name: args.secretName, key } });
        const scratchMounts = Object.entries(spec.scratch).map(([vol, { path }]) => ({ name: vol, mountPath: path }));
        const probe = (command: string[], period: number) => ({
            exec: { command },
            periodSeconds: period,
            timeoutSeconds: 5,
            failureThreshold: 6,
        });
        const startupPeriod = 10;
        const container = {
            image: args.images[spec.image],
            securityContext: restrictedContainerSecurity(),
            resources: resourceRequirements(spec.resources),
        };
        const statefulSet = new k8s.apps.v1.StatefulSet(
            spec.name,
            {
                metadata: { name: spec.name, namespace: args.namespace, labels: meta },
                spec: {
                    serviceName: service.metadata.name,
                    replicas: 1,
                    selector: { matchLabels: selectorLabels(spec.name) },
                    // Volumes outlive the StatefulSet, whether it is deleted or scaled down.
                    persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
                    template: {
                        metadata: {
                            labels: meta,
                            annotations: rolloutAnnotations({
                                secret: secretChecksum(args.checksumKey, args.secretValues, spec.appliesOnStart),
                            }),
                        },
                        spec: {
                            automountServiceAccountToken: false,
                            enableServiceLinks: false,
                            securityContext: restrictedPodSecurity(spec.uid),
                            terminationGracePeriodSeconds: 60,
                            ...podPlacementFields(args.placement?.[spec.name]),
                            initContainers: spec.init
                                ? [
                                      {
                                          ...container,
                                          name: `${spec.name}-init`,
                                          command: spec.init.command,
                                          env: spec.init.env?.(secretRef),
                                          volumeMounts: Object.entries(spec.init.mounts).map(([name, mountPath]) => ({ name, mountPath })),
                                      },
                                  ]
                                : undefined,
                            containers: [
                                {
                                    ...container,
                                    name: spec.name,
                                    command: spec.command?.(args.tuning),
                                    args: spec.args?.(args.tuning),
                                    ports: [{ name: spec.name, containerPort: spec.port }],
                                    env: spec.env(secretRef),
                                    // Liveness applies only once this has passed, however long recovery takes.
                                    startupProbe: {
                                        ...probe(spec.liveness, startupPeriod),
                                        failureThreshold: Math.ceil(spec.startupSeconds / startupPeriod),
                                    },
                                    readinessProbe: probe(spec.readiness, 10),
                                    livenessProbe: probe(spec.liveness, 20),
                                    volumeMounts: [{ name: "data", mountPath: spec.dataPath }, ...scratchMounts],
                                },
                            ],
                            volumes: Object.entries(spec.scratch).map(([vol, { size }]) => ({ name: vol, emptyDir: { sizeLimit: size } })),
                        },
                    },
                    volumeClaimTemplates: [
                        {
                            metadata: { name: "data", labels: meta },
                            spec: {
                                accessModes: ["ReadWriteOnce"],
                                storageClassName: args.storageClasses[spec.name],
                                resources: { requests: { storage: args.sizes[spec.name] } },
                            },
                        },
                    ],
                },
            },
            { parent: this, protect: args.protect },
        );
        return { service, statefulSet };
    }
}
