import { PodPlacement, podPlacementFields } from "../model/placement";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { labels, selectorLabels } from "../model/labels";
import { AWAITED_THROUGH_ITS_DEPLOYMENT, rolloutAnnotations, secretChecksum, settingsChecksum } from "../model/rollout";
import { restrictedContainerSecurity, restrictedPodSecurity } from "../model/security";
import { PGBOUNCER_REPLICAS } from "./connection-budget";
import { APP_DATABASE } from "./principals";

/** The image's own `pgbouncer` user (CloudNativePG's build; see components/model/third-party-images.ts). */
const PGBOUNCER_UID = 998;
export const PGBOUNCER = { name: "pgbouncer", port: 6432 } as const;

const CONFIG_DIR = "/etc/pgbouncer";
const AUTH_DIR = "/etc/pgbouncer-auth";

export interface PgBouncerArgs {
    namespace: pulumi.Input<string>;
    postgres: { host: pulumi.Input<string>; port: number };
    /** Each service's user, password and server pool (connections per PgBouncer pod). */
    logins: { user: string; password: pulumi.Output<string>; pool: number }[];
    /** max_client_conn of each pod (the budget sizes one pod for every client). */
    maxClientConnections: number;
    /** The stack's key of the secret checksums (PlatformSecret.checksumKey; model/rollout.ts secretChecksum). */
    checksumKey: pulumi.Input<string>;
    /** What must have happened first: the users exist in PostgreSQL with these passwords. */
    dependsOn: pulumi.Resource[];
    /** The image reference (the `pgbouncer` third-party image). */
    image: string;
    /** Where its pods may run (`ultramarket:workloadPlacement.pgbouncer`). */
    placement?: PodPlacement;
}

/** pgbouncer.ini: no secret in it (the passwords are in the userlist Secret). */
export function pgbouncerIni(
    postgresHost: string,
    postgresPort: number,
    logins: { user: string; pool: number }[],
    maxClientConnections: number,
): string {
    return [
        "[databases]",
        `${APP_DATABASE} = host=${postgresHost} port=${postgresPort} dbname=${APP_DATABASE}`,
        "",
        "[users]",
        // A pool is per (database, user): each service's user gets exactly its budgeted server connections.
        ...logins.map((l) => `${l.user} = max_user_connections=${l.pool}`),
        "",
        "[pgbouncer]",
        "listen_addr = 0.0.0.0",
        `listen_port = ${PGBOUNCER.port}`,
        // No Unix socket, pidfile or logfile: the root filesystem is read-only and the log goes to stderr.
        "unix_socket_dir =",
        "auth_type = scram-sha-256",
        `auth_file = ${AUTH_DIR}/userlist.txt`,
        // A server connection is a service's only for a transaction: the apps must not rely on session state (SET, advisory locks, LISTEN).
        "pool_mode = transaction",
        `max_client_conn = ${maxClientConnections}`,
        `default_pool_size = ${Math.max(1, ...logins.map((l) => l.pool))}`,
        `max_db_connections = ${logins.reduce((n, l) => n + l.pool, 0)}`,
        "reserve_pool_size = 0",
        // Protocol-level prepared statements (node-postgres, ORMs) keep working in transaction mode.
        "max_prepared_statements = 200",
        "ignore_startup_parameters = extra_float_digits",
        "",
    ].join("\n");
}

/** The userlist: `"user" "password"` lines, read by PgBouncer to authenticate clients and to log in to PostgreSQL. */
export function userlist(logins: { user: string; password: string }[]): string {
    return logins.map((l) => `"${l.user}" "${l.password}"\n`).join("");
}

/**
 * PgBouncer in front of PostgreSQL: the apps' connections, multiplexed in transaction mode onto a fixed number of
 * server connections per service (the connection budget). Migrations and the users Job connect to PostgreSQL directly.
 */
export class PgBouncer extends pulumi.ComponentResource {
    /** The apps' POSTGRES_URL: PgBouncer's Service (no credentials: those are the app's own Secret). */
    public readonly url: pulumi.Output<string>;
    public readonly deployment: k8s.apps.v1.Deployment;

    constructor(name: string, args: PgBouncerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("ultramarket:data:PgBouncer", name, {}, opts);
        const meta = labels(PGBOUNCER.name, "pooler");
        const ini = pulumi
            .output(args.postgres.host)
            .apply((host) => pgbouncerIni(host, args.postgres.port, args.logins, args.maxClientConnections));
        const config = new k8s.core.v1.ConfigMap(
            PGBOUNCER.name,
            { metadata: { name: PGBOUNCER.name, namespace: args.namespace, labels: meta }, data: { "pgbouncer.ini": ini } },
            { parent: this },
        );
        const passwords = Object.fromEntries(args.logins.map((l) => [l.user, l.password]));
        const auth = new k8s.core.v1.Secret(
            `${PGBOUNCER.name}-userlist`,
            {
                metadata: { name: `${PGBOUNCER.name}-userlist`, namespace: args.namespace, labels: meta },
                type: "Opaque",
                stringData: {
                    "userlist.txt": pulumi.secret(
                        pulumi.all(passwords).apply((p) => userlist(Object.entries(p).map(([user, password]) => ({ user, password })))),
                    ),
                },
            },
            { parent: this },
        );
        const tcp = { tcpSocket: { port: "postgres" } };
        this.deployment = new k8s.apps.v1.Deployment(
            PGBOUNCER.name,
            {
                metadata: { name: PGBOUNCER.name, namespace: args.namespace, labels: meta },
                spec: {
                    replicas: PGBOUNCER_REPLICAS,
                    selector: { matchLabels: selectorLabels(PGBOUNCER.name) },
                    // One pod more at most during a rollout: the connection budget counts it (PGBOUNCER_PODS_AT_MOST).
                    strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
                    template: {
                        // A new setting or password rolls PgBouncer (it reads both only on start).
                        metadata: {
                            labels: meta,
                            annotations: rolloutAnnotations({
                                config: settingsChecksum({ "pgbouncer.ini": ini }),
                                secret: secretChecksum(args.checksumKey, passwords, Object.keys(passwords)),
                            }),
                        },
                        spec: {
                            automountServiceAccountToken: false,
                            enableServiceLinks: false,
                            securityContext: restrictedPodSecurity(PGBOUNCER_UID),
                            ...podPlacementFields(args.placement),
                            containers: [
                                {
                                    name: PGBOUNCER.name,
                                    image: args.image,
                                    command: ["pgbouncer", `${CONFIG_DIR}/pgbouncer.ini`],
                                    ports: [{ name: "postgres", containerPort: PGBOUNCER.port }],
                                    securityContext: restrictedContainerSecurity(),
                                    // One process, one thread: it never uses more than a core. Requests within the pack's
                                    // request-limit-ratio (cpu 4x, memory 2x), so a busy pool is not throttled by a node
                                    // that scheduled it on a tenth of what it may use.
                                    resources: {
                                        requests: { cpu: "250m", memory: "128Mi", "ephemeral-storage": "64Mi" },
                                        limits: { cpu: "1", memory: "256Mi", "ephemeral-storage": "256Mi" },
                                    },
                                    startupProbe: { ...tcp, periodSeconds: 2, failureThreshold: 30 },
                                    readinessProbe: { ...tcp, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3 },
                                    livenessProbe: { ...tcp, periodSeconds: 20, timeoutSeconds: 3, failureThreshold: 3 },
                                    volumeMounts: [
                                        { name: "config", mountPath: CONFIG_DIR, readOnly: true },
                                        { name: "auth", mountPath: AUTH_DIR, readOnly: true },
                                        { name: "tmp", mountPath: "/tmp" },
                                    ],
                                },
                            ],
                            volumes: [
                                { name: "config", configMap: { name: config.metadata.name } },
                                // Readable by PgBouncer's group (the pod's fsGroup) only, never world-readable.
                                { name: "auth", secret: { secretName: auth.metadata.name, defaultMode: 0o440 } },
                                { name: "tmp", emptyDir: { sizeLimit: "16Mi" } },
                            ],
                            topologySpreadConstraints: ["topology.kubernetes.io/zone", "kubernetes.io/hostname"].map((topologyKey) => ({
                                maxSkew: 1,
                                topologyKey,
                                whenUnsatisfiable: "ScheduleAnyway",
                                labelSelector: { matchLabels: selectorLabels(PGBOUNCER.name) },
                            })),
                        },
                    },
                },
            },
            { parent: this, dependsOn: args.dependsOn },
        );
        const service = new k8s.core.v1.Service(
            PGBOUNCER.name,
            {
                metadata: { name: PGBOUNCER.name, namespace: args.namespace, labels: meta, annotations: AWAITED_THROUGH_ITS_DEPLOYMENT },
                spec: {
                    type: "ClusterIP",
                    selector: selectorLabels(PGBOUNCER.name),
                    ports: [{ name: "postgres", port: PGBOUNCER.port, targetPort: "postgres" }],
                },
            },
            { parent: this, dependsOn: [this.deployment] },
        );
        new k8s.policy.v1.PodDisruptionBudget(
            PGBOUNCER.name,
            {
                metadata: { name: PGBOUNCER.name, namespace: args.namespace, labels: meta },
                spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(PGBOUNCER.name) } },
            },
            { parent: this },
        );
        this.url = pulumi.interpolate`postgresql://${service.metadata.name}:${PGBOUNCER.port}/${APP_DATABASE}`;
        this.registerOutputs({ url: this.url });
    }
}
