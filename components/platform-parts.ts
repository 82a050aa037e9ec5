// The steps of the root component (platform.ts), one per part of the platform, in the order it creates them: the
// cluster provider, the foundation, the data tier, the exporters, the apps' settings and storage, the applications
// (with the backup before their migrations), the network policies, monitoring and the post-deploy steps (the edge is
// edge/index.ts's buildEdge). Each step gets what it depends on and returns what the later ones need.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PlatformConfig } from "../config";
import { Applications } from "./apps/applications";
import { DatabaseExporters } from "./observability/database-exporters";
import { DATA_STORE_NAMES, DataStores } from "./data/stores";
import { EXPORTERS } from "./observability/exporters";
import { BACKUP_JOB, RESTORE_JOB, RESTORE_POLICY_PURPOSE } from "./data/backup-jobs";
import { DatabaseBackups } from "./data/backups";
import { DATABASES_WITH_USERS } from "./model/catalog";
import { DatabaseUsers, databaseUsersJobName } from "./data/database-users";
import { PGBOUNCER, PgBouncer } from "./data/pgbouncer";
import { userName } from "./data/principals";
import { edgePeers, PublicEdge } from "./edge";
import { RATE_LIMIT_PROBE_PATH, SECURITY_HEADERS } from "./edge/headers";
import { buildVerificationPlan, headerRules, PlanInput } from "./verification/checks";
import { PerformanceTest } from "./verification/load-test";
import { Monitoring } from "./observability/monitoring";
import { deploymentFingerprint, DeploymentVerification } from "./verification/deployment-verification";
import { PlatformNamespace } from "./foundation/namespace";
import { NetworkPolicies } from "./foundation/network-policies";
import { PlatformSecret } from "./foundation/platform-secret";
import { PlatformConfigMap } from "./foundation/platform-config-map";
import { FileUploadsVolume } from "./data/file-uploads";

type Opts = pulumi.ComponentResourceOptions;

export interface Foundation {
    namespace: PlatformNamespace;
    secret: PlatformSecret;
}

export interface DataTier {
    dataStores: DataStores;
    databaseUsers: DatabaseUsers;
    pgbouncer: PgBouncer;
}

/**
 * An explicit provider: the cluster is chosen by config (kubeconfig/kubeContext), never by accident. ConfigMap and
 * Secret updated in place: a setting change or a rotation never deletes them nor cascades a replacement into their
 * readers (which roll through their checksums instead; see rollout.ts).
 */
export function clusterProvider(cfg: PlatformConfig, opts: pulumi.CustomResourceOptions): k8s.Provider {
    return new k8s.Provider(
        "k8s",
        {
            kubeconfig: cfg.kubernetes.kubeconfig,
            context: cfg.kubernetes.context,
            enableConfigMapMutable: true,
            enableSecretMutable: true,
        },
        opts,
    );
}

/** The namespace and the platform Secret everything else stands on. */
export function buildFoundation(cfg: PlatformConfig, opts: Opts): Foundation {
    const namespace = new PlatformNamespace("namespace", { name: cfg.namespace, protect: cfg.protectData }, opts);
    const secret = new PlatformSecret(
        "secrets",
        {
            namespace: namespace.name,
            provided: cfg.providedSecrets,
            generate: cfg.generatedSecrets,
            protect: cfg.protectData,
            checksumKey: cfg.rolloutChecksumKey,
        },
        opts,
    );
    return { namespace, secret };
}

/** The data stores, a database user per app (and exporter), and PgBouncer in front of PostgreSQL. */
export function buildDataTier(cfg: PlatformConfig, { namespace, secret }: Foundation, opts: Opts): DataTier {
    const dataStores = new DataStores(
        "data-stores",
        {
            namespace: namespace.name,
            secretName: secret.secretName,
            secretValues: secret.values,
            checksumKey: secret.checksumKey,
            storageClasses: cfg.storage.classes,
            sizes: cfg.storage.sizes,
            protect: cfg.protectData,
            tuning: { redis: cfg.redis, postgres: { maxConnections: cfg.postgres.maxConnections } },
            images: cfg.thirdPartyImages,
            placement: cfg.dataStorePlacement,
        },
        opts,
    );
    const store = (n: (typeof DATABASES_WITH_USERS)[number]) => ({
        host: dataStores.endpoints[n].host,
        port: dataStores.endpoints[n].port,
        ready: dataStores.statefulSets[n],
    });
    const databaseUsers = new DatabaseUsers(
        "database-users",
        {
            namespace: namespace.name,
            secretName: secret.secretName,
            apps: cfg.apps,
            seed: cfg.databaseUsers.seed,
            checksumKey: secret.checksumKey,
            passwordVersions: cfg.databaseUsers.passwordVersions,
            protect: cfg.protectData,
            stores: { postgres: store("postgres"), mongodb: store("mongodb"), elasticsearch: store("elasticsearch") },
            images: cfg.thirdPartyImages,
            placement: cfg.workloadPlacement,
        },
        opts,
    );
    const pools = Object.fromEntries(cfg.apps.flatMap((a) => (a.postgresPool ? [[userName(a.name), a.postgresPool.server]] : [])));
    const pgbouncer = new PgBouncer(
        "pgbouncer",
        {
            namespace: namespace.name,
            postgres: { host: dataStores.endpoints.postgres.host, port: dataStores.endpoints.postgres.port },
            logins: databaseUsers.postgresLogins.map((l) => ({ ...l, pool: pools[l.user] })),
            maxClientConnections: cfg.postgres.maxClientConnections,
            checksumKey: secret.checksumKey,
            // The users exist with these passwords before PgBouncer logs in with them.
            dependsOn: [databaseUsers.jobs.postgres],
            image: cfg.thirdPartyImages.pgbouncer,
            placement: cfg.workloadPlacement.pgbouncer,
        },
        opts,
    );
    return { dataStores, databaseUsers, pgbouncer };
}

/** A metrics exporter per data store. */
export function buildDatabaseExporters(
    cfg: PlatformConfig,
    { namespace, secret }: Foundation,
    { dataStores, databaseUsers }: DataTier,
    opts: Opts,
) {
    return new DatabaseExporters(
        "database-exporters",
        {
            namespace: namespace.name,
            secretName: secret.secretName,
            secretValues: secret.values,
            checksumKey: secret.checksumKey,
            dataStores: dataStores.endpoints,
            // The monitoring users (and their Secrets) exist before an exporter logs in with them.
            dependsOn: Object.values(databaseUsers.jobs),
            monitorCredentials: Object.fromEntries(Object.entries(databaseUsers.monitorCredentials).map(([s, c]) => [s, c.values])),
            images: cfg.thirdPartyImages,
            placement: cfg.workloadPlacement,
        },
        opts,
    );
}

/** The apps' settings (`ultramarket-config`) and the file service's upload volume. */
export function buildAppSettingsAndStorage(cfg: PlatformConfig, { namespace }: Foundation, { dataStores }: DataTier, opts: Opts) {
    const settings = new PlatformConfigMap(
        "settings",
        {
            namespace: namespace.name,
            app: cfg.app,
            allowedOrigins: cfg.allowedOrigins,
            urls: {
                postgres: dataStores.endpoints.postgres.url,
                mongodb: dataStores.endpoints.mongodb.url,
                redis: dataStores.endpoints.redis.url,
                elasticsearch: dataStores.endpoints.elasticsearch.url,
            },
        },
        opts,
    );
    const storage = new FileUploadsVolume(
        "storage",
        {
            namespace: namespace.name,
            storageClass: cfg.storage.classes.fileUploads,
            size: cfg.storage.sizes.fileUploads,
            accessMode: cfg.storage.fileUploadsAccessMode,
            protect: cfg.protectData,
        },
        opts,
    );
    return { settings, storage };
}

/**
 * The services, and the backup their migrations wait for. Migrations change schemas: the databases are dumped first,
 * by a Job named after the migrating images. It is built once Applications knows the images, and before Applications
 * registers any migration Job that waits for it.
 */
export function buildApplications(
    cfg: PlatformConfig,
    { namespace, secret }: Foundation,
    { dataStores, databaseUsers, pgbouncer }: DataTier,
    { settings, storage }: { settings: PlatformConfigMap; storage: FileUploadsVolume },
    opts: Opts,
): { apps: Applications; backups: DatabaseBackups } {
    const backupArgs = {
        namespace: namespace.name,
        secretName: secret.secretName,
        storageClass: cfg.storage.classes.backups,
        size: cfg.storage.sizes.backups,
        retention: cfg.backups.retention,
        protect: cfg.protectData,
        stores: { postgres: dataStores.endpoints.postgres, mongodb: dataStores.endpoints.mongodb },
        backedUp: cfg.backups.stores,
        dataStores: cfg.backups.stores.map((s) => dataStores.statefulSets[s]),
        images: cfg.thirdPartyImages,
        placement: cfg.workloadPlacement["database-backup"],
    };
    const migrating = cfg.backups.beforeMigrations ? cfg.apps.filter((a) => a.migrations).map((a) => a.name) : [];
    let backups: DatabaseBackups | undefined;
    const apps = new Applications(
        "apps",
        {
            beforeMigrations: (images) => {
                backups = new DatabaseBackups(
                    "database-backups",
                    { ...backupArgs, migratingImages: Object.fromEntries(migrating.map((a) => [a, images[a]])) },
                    opts,
                );
                return backups.beforeMigrations;
            },
            namespace: namespace.name,
            apps: cfg.apps,
            placement: cfg.workloadPlacement,
            images: {
                registry: cfg.images.registry,
                tag: cfg.images.tag,
                perApp: cfg.images.perApp,
                pinned: cfg.images.pinned,
                sourceRoot: cfg.images.build ? cfg.images.sourceRoot : undefined,
                push: cfg.images.push,
            },
            secretName: secret.secretName,
            configMapName: settings.configMapName,
            configChecksum: settings.checksum,
            secretValues: secret.values,
            checksumKey: secret.checksumKey,
            fileUploads: storage.mount,
            dataStores: dataStores.statefulSets,
            databaseUsers: { credentials: databaseUsers.credentials, jobs: databaseUsers.jobs },
            postgresPooler: { url: pgbouncer.url, ready: pgbouncer.deployment },
        },
        opts,
    );
    return { apps, backups: backups! };
}

/** Default deny plus the catalog's edges, the exporters', the backup and restore pods' and the users Jobs'. */
export function buildNetworkPolicies(
    cfg: PlatformConfig,
    { namespace }: Foundation,
    { dataStores }: DataTier,
    opts: Opts,
): NetworkPolicies {
    return new NetworkPolicies(
        "network-policies",
        {
            namespace: namespace.name,
            apps: cfg.apps,
            dataStores: dataStores.endpoints,
            edgePeers: edgePeers(cfg),
            monitoringNamespace: cfg.monitoring.monitoringNamespace,
            exporters: EXPORTERS,
            dataStoreJobs: [
                { name: BACKUP_JOB, dataStores: [...cfg.backups.stores] },
                { name: RESTORE_JOB, dataStores: [...cfg.backups.stores], purpose: RESTORE_POLICY_PURPOSE },
            ],
            postgresPooler: PGBOUNCER,
            databaseUsersJobs: Object.fromEntries(DATABASES_WITH_USERS.map((s) => [s, databaseUsersJobName(s)])),
            dnsServerCidrs: cfg.dnsServerCidrs,
            acmeHttp01Solver: cfg.ingress.certManager,
        },
        opts,
    );
}

/** Alerts, ServiceMonitors and dashboards (or nothing, said why, without the Prometheus operator). */
export function buildMonitoring(cfg: PlatformConfig, { namespace }: Foundation, opts: Opts): Monitoring {
    return new Monitoring(
        "monitoring",
        {
            namespace: namespace.name,
            namespaceName: cfg.namespace,
            // Only apps that serve metrics are scraped, graphed and alerted on.
            apps: cfg.apps.filter((a) => a.metricsPath !== undefined),
            dataStores: DATA_STORE_NAMES,
            exporters: EXPORTERS,
            prometheusOperator: cfg.monitoring.prometheusOperator,
            release: cfg.monitoring.prometheusRelease,
            install: cfg.monitoring.installMonitoringStack,
            chart: cfg.monitoring.monitoringStackChart,
            monitoringNamespace: cfg.monitoring.monitoringNamespace,
            runbookBaseUrl: cfg.monitoring.runbookBaseUrl,
        },
        opts,
    );
}

/**
 * Post-deploy steps run after everything rolled out: the verification and the load test, for every update
 * `npm run deploy` starts (its update id), and otherwise whenever what was deployed changes.
 */
export function buildPostDeploySteps(
    cfg: PlatformConfig,
    { namespace, secret }: Foundation,
    { dataStores, databaseUsers, pgbouncer }: DataTier,
    { apps, exporters, edge }: { apps: Applications; exporters: DatabaseExporters; edge: PublicEdge },
    opts: Opts,
): { verification?: DeploymentVerification; loadTest?: PerformanceTest } {
    const readyResources: pulumi.Resource[] = [
        ...apps.readyResources,
        ...exporters.deployments,
        pgbouncer.deployment,
        ...Object.values(databaseUsers.jobs),
        ...edge.ready,
    ];
    const updateId = cfg.verification.updateId;
    const trigger = pulumi.all(apps.imageRefs).apply((images) =>
        deploymentFingerprint({
            images,
            apps: cfg.apps.map((a) => [a.name, a.replicas]),
            settings: cfg.app,
            hosts: cfg.hosts,
            edge: cfg.edge,
            updateId,
        }),
    );
    const verification = cfg.verification.verifyDeployment
        ? new DeploymentVerification(
              "verification",
              {
                  namespace: namespace.name,
                  secretName: secret.secretName,
                  dataStores: dataStores.endpoints,
                  plan: {
                      ...buildVerificationPlan({
                          hosts: cfg.hosts,
                          apps: cfg.apps,
                          rateLimit: rateLimitProbe(cfg),
                          securityHeaders: headerRules(Object.keys(SECURITY_HEADERS)),
                      }),
                      updateId,
                  },
                  migrationJobs: Object.fromEntries(
                      Object.entries(apps.services).flatMap(([n, s]) => (s.migration ? [[n, s.migration]] : [])),
                  ),
                  dependsOn: readyResources,
                  trigger,
                  images: cfg.thirdPartyImages,
              },
              opts,
          )
        : undefined;
    const loadTest =
        cfg.verification.loadTest === "off"
            ? undefined
            : new PerformanceTest(
                  "load-test",
                  {
                      profile: cfg.verification.loadTest,
                      baseUrl: `https://${cfg.hosts.api}`,
                      dependsOn: verification ? [verification.command] : readyResources,
                      trigger,
                  },
                  opts,
              );
    return { verification, loadTest };
}

/** Where the rate-limit check spends its budget: the Gateway's probe route, the API itself on ingress-nginx, nowhere without an edge. */
function rateLimitProbe(cfg: PlatformConfig): PlanInput["rateLimit"] {
    const { mode, apiRateLimitPerMinute } = cfg.edge;
    if (mode === "none") return undefined;
    return { perMinute: apiRateLimitPerMinute, path: mode === "ingress-nginx" ? undefined : RATE_LIMIT_PROBE_PATH };
}
