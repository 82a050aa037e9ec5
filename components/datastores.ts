import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { DATA_STORE_PASSWORD_KEY, DataStoreName, Resources, SecretKey } from "./catalog";
import { labels, selectorLabels } from "./labels";
import { rolloutAnnotations, secretChecksum } from "./rollout";
import { restrictedContainerSecurity, restrictedPodSecurity } from "./security";

type EnvVar = k8s.types.input.core.v1.EnvVar;

/** How one data store runs; the four StatefulSets differ only in these values. */
interface DataStoreSpec {
    name: DataStoreName;
    image: string;
    port: number;
    /** The image's own unprivileged user. */
    uid: number;
    dataPath: string;
    /** Writable scratch directories on a read-only root filesystem. */
    scratch: Record<string, string>;
    env: (secretRef: (key: string) => EnvVar["valueFrom"]) => EnvVar[];
    command?: string[];
    /**
     * Secret keys the store (or its probes) reads on every start: a change rolls its pod. PostgreSQL and
     * MongoDB apply their password only when the data directory is first initialised (their probes need
     * none); see README "Rotating a data-store password".
     */
    appliesOnStart: SecretKey[];
    readiness: string[];
    liveness: string[];
    /** An init step run with the same image and volumes (e.g. seeding a writable config dir). */
    init?: string[];
    resources: Resources;
    url: (host: string, port: number) => string;
}

const sh = (script: string) => ["sh", "-c", script];

export const DATA_STORE_SPECS: Record<DataStoreName, DataStoreSpec> = {
    postgres: {
        name: "postgres",
        image: "postgres:16.4-alpine",
        port: 5432,
        uid: 70,
        dataPath: "/var/lib/postgresql/data",
        scratch: { run: "/var/run/postgresql", tmp: "/tmp" },
        env: (ref) => [
            { name: "POSTGRES_DB", value: "ultramarket" },
            { name: "POSTGRES_USER", value: "postgres" },
            { name: "POSTGRES_PASSWORD", valueFrom: ref(DATA_STORE_PASSWORD_KEY.postgres) },
            { name: "PGDATA", value: "/var/lib/postgresql/data/pgdata" },
        ],
        appliesOnStart: [],
        // The runbook's own check (`psql ... -c "SELECT 1"`), over the local socket, which trusts local users.
        readiness: ["psql", "-U", "postgres", "-d", "ultramarket", "-tAc", "SELECT 1"],
        liveness: ["pg_isready", "-U", "postgres", "-d", "ultramarket"],
        resources: { cpuRequest: "500m", cpuLimit: "2", memoryRequest: "1Gi", memoryLimit: "2Gi" },
        url: (host, port) => `postgresql://${host}:${port}/ultramarket`,
    },
    mongodb: {
        name: "mongodb",
        image: "mongo:7.0.14",
        port: 27017,
        uid: 999,
        dataPath: "/data/db",
        scratch: { configdb: "/data/configdb", tmp: "/tmp" },
        env: (ref) => [
            { name: "MONGO_INITDB_ROOT_USERNAME", value: "root" },
            { name: "MONGO_INITDB_ROOT_PASSWORD", valueFrom: ref(DATA_STORE_PASSWORD_KEY.mongodb) },
            { name: "MONGO_INITDB_DATABASE", value: "ultramarket" },
        ],
        appliesOnStart: [],
        // The runbook's `mongosh --eval "db.runCommand({ping: 1})"`; ping needs no credentials.
        readiness: ["mongosh", "--quiet", "--eval", "db.runCommand({ping: 1}).ok"],
        liveness: ["mongosh", "--quiet", "--eval", "db.runCommand({ping: 1}).ok"],
        resources: { cpuRequest: "500m", cpuLimit: "2", memoryRequest: "1Gi", memoryLimit: "2Gi" },
        url: (host, port) => `mongodb://${host}:${port}/ultramarket`,
    },
    redis: {
        name: "redis",
        image: "redis:7.4.1-alpine",
        port: 6379,
        uid: 999,
        dataPath: "/data",
        scratch: { tmp: "/tmp" },
        env: (ref) => [
            { name: "REDIS_PASSWORD", valueFrom: ref(DATA_STORE_PASSWORD_KEY.redis) },
            // redis-cli reads this, so probes authenticate without the password on a command line.
            { name: "REDISCLI_AUTH", valueFrom: ref(DATA_STORE_PASSWORD_KEY.redis) },
        ],
        command: ["redis-server", "--requirepass", "$(REDIS_PASSWORD)", "--appendonly", "yes", "--dir", "/data"],
        appliesOnStart: [DATA_STORE_PASSWORD_KEY.redis],
        // The runbook's `redis-cli ping`; redis-cli exits 0 on NOAUTH, so insist on PONG.
        readiness: sh("redis-cli ping | grep -q PONG"),
        liveness: sh("redis-cli ping | grep -q PONG"),
        resources: { cpuRequest: "250m", cpuLimit: "1", memoryRequest: "512Mi", memoryLimit: "1Gi" },
        url: (host, port) => `redis://${host}:${port}`,
    },
    elasticsearch: {
        name: "elasticsearch",
        image: "docker.elastic.co/elasticsearch/elasticsearch:8.15.3",
        port: 9200,
        uid: 1000,
        dataPath: "/usr/share/elasticsearch/data",
        scratch: { config: "/usr/share/elasticsearch/config", logs: "/usr/share/elasticsearch/logs", tmp: "/tmp" },
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
        init: sh("cp -a /usr/share/elasticsearch/config/. /seed-config/"),
        // The store applies ELASTIC_PASSWORD only at bootstrap, but its probes authenticate with the pod's
        // environment: after the password is changed inside the store, the pod must restart to keep probing.
        appliesOnStart: [DATA_STORE_PASSWORD_KEY.elasticsearch],
        readiness: sh('curl -fsS -u "elastic:${ELASTIC_PASSWORD}" "http://127.0.0.1:9200/_cluster/health?wait_for_status=yellow&timeout=5s"'),
        liveness: sh('curl -fsS -u "elastic:${ELASTIC_PASSWORD}" "http://127.0.0.1:9200/_cluster/health?timeout=5s" >/dev/null'),
        resources: { cpuRequest: "500m", cpuLimit: "2", memoryRequest: "2Gi", memoryLimit: "2Gi" },
        url: (host, port) => `http://${host}:${port}`,
    },
};

export const DATA_STORE_NAMES = Object.keys(DATA_STORE_SPECS) as DataStoreName[];

export interface DataStoresArgs {
    namespace: pulumi.Input<string>;
    secretName: pulumi.Input<string>;
    /** The platform Secret's values (Pulumi secrets): a store that applies its password on start rolls when it changes. */
    secretValues: Partial<Record<SecretKey, pulumi.Output<string>>>;
    storageClass?: string;
    sizes: Record<DataStoreName, string>;
    /** Pulumi `protect` on the StatefulSets, so a destroy or an accidental replace cannot take the data. */
    protect: boolean;
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
        const scratchMounts = Object.entries(spec.scratch).map(([vol, mountPath]) => ({ name: vol, mountPath }));
        const probe = (command: string[], period: number) => ({ exec: { command }, periodSeconds: period, timeoutSeconds: 5, failureThreshold: 6 });
        const r = spec.resources;
        const container = {
            image: spec.image,
            securityContext: restrictedContainerSecurity(),
            resources: { requests: { cpu: r.cpuRequest, memory: r.memoryRequest }, limits: { cpu: r.cpuLimit, memory: r.memoryLimit } },
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
                        metadata: { labels: meta, annotations: rolloutAnnotations({ secret: secretChecksum(args.secretValues, spec.appliesOnStart) }) },
                        spec: {
                            automountServiceAccountToken: false,
                            enableServiceLinks: false,
                            securityContext: restrictedPodSecurity(spec.uid),
                            terminationGracePeriodSeconds: 60,
                            initContainers: spec.init
                                ? [{ ...container, name: `${spec.name}-init`, command: spec.init, volumeMounts: [{ name: "config", mountPath: "/seed-config" }] }]
                                : undefined,
                            containers: [
                                {
                                    ...container,
                                    name: spec.name,
                                    command: spec.command,
                                    ports: [{ name: spec.name, containerPort: spec.port }],
                                    env: spec.env(secretRef),
                                    readinessProbe: probe(spec.readiness, 10),
                                    livenessProbe: { ...probe(spec.liveness, 20), initialDelaySeconds: 30 },
                                    volumeMounts: [{ name: "data", mountPath: spec.dataPath }, ...scratchMounts],
                                },
                            ],
                            volumes: Object.keys(spec.scratch).map((vol) => ({ name: vol, emptyDir: {} })),
                        },
                    },
                    volumeClaimTemplates: [
                        {
                            metadata: { name: "data", labels: meta },
                            spec: {
                                accessModes: ["ReadWriteOnce"],
                                storageClassName: args.storageClass,
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
