import { PodPlacement, podPlacementFields } from "../model/placement";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { AppSpec, FILE_UPLOADS, resourceRequirements, SecretKey, secretKeysFor } from "../model/catalog";
import { appLabels, labels, selectorLabels } from "../model/labels";
import { AWAITED_THROUGH_ITS_DEPLOYMENT, REPLACE_UNREADY, rolloutAnnotations, secretChecksum } from "../model/rollout";
import { restrictedContainerSecurity, restrictedPodSecurity } from "../model/security";
import { FileUploadsMount, onTheUploadsNode, UPLOADS_MOUNT_LABEL } from "../data/file-uploads";

type Container = k8s.types.input.core.v1.Container;
type PodSpec = k8s.types.input.core.v1.PodSpec;

export interface MicroserviceArgs {
    /** Where its pods (the Deployment's and the migration Job's) may run (`ultramarket:workloadPlacement`). */
    placement?: PodPlacement;
    spec: AppSpec;
    namespace: pulumi.Input<string>;
    image: pulumi.Input<string>;
    secretName: pulumi.Input<string>;
    configMapName: pulumi.Input<string>;
    /** Digest of the ConfigMap's values (the app reads all of them): its pods roll when it changes. */
    configChecksum: pulumi.Input<string>;
    /** The platform Secret's values (Pulumi secrets): the pods roll when a key this app reads changes. */
    secretValues: Partial<Record<SecretKey, pulumi.Output<string>>>;
    /** The stack's key of the secret checksums (PlatformSecret.checksumKey; model/rollout.ts secretChecksum). */
    checksumKey: pulumi.Input<string>;
    /** The app's own database user: its Secret (POSTGRES_USER/POSTGRES_PASSWORD, MONGODB_USER/MONGODB_PASSWORD) and values. */
    databaseCredentials?: { secretName: pulumi.Input<string>; values: Record<string, pulumi.Output<string>> };
    /** Where the app's pods reach PostgreSQL (PgBouncer) and the pool each opens; its migrations use POSTGRES_URL of the ConfigMap. */
    postgresPooler?: { url: pulumi.Input<string>; poolMax: number };
    /** The file service's upload claim, mounted only into that app. */
    fileUploads?: FileUploadsMount;
    /** What must be ready before this app (its data stores, or the apps it fronts). */
    dependsOn: pulumi.Resource[];
    /** What must also complete before its migrations run (the database backup). */
    migrationDependsOn?: pulumi.Resource[];
    /** What the app's pods (not its migrations) need besides: PgBouncer, for the apps that connect through it. */
    deploymentDependsOn?: pulumi.Resource[];
}

/** The migration Job's HOME: `npm run migrate` writes its cache and logs there, and the root filesystem is read-only. */
export const MIGRATION_HOME = { path: "/home/migrate", size: "256Mi" } as const;

/** Labels of an app's migration pods: distinct, so the app's Service never routes to them. */
export const migrationName = (app: string) => `${app}-migrate`;

/** One app of the catalog: ServiceAccount, migrations, Deployment, Service, HPA and PodDisruptionBudget. */
export class Microservice extends pulumi.ComponentResource {
    public readonly deployment: k8s.apps.v1.Deployment;
    public readonly service: k8s.core.v1.Service;
    public readonly migration?: k8s.batch.v1.Job;
    public readonly serviceName: pulumi.Output<string>;

    constructor(name: string, args: MicroserviceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("ultramarket:apps:Microservice", name, {}, opts);
        const { spec } = args;
        const meta = appLabels(spec);
        const ns = args.namespace;

        const serviceAccount = new k8s.core.v1.ServiceAccount(
            spec.name,
            { metadata: { name: spec.name, namespace: ns, labels: meta }, automountServiceAccountToken: false },
            { parent: this },
        );

        const env = [
            { name: "PORT", value: String(spec.port) },
            { name: "SERVICE_NAME", value: spec.name },
            ...secretKeysFor(spec).map((key) => ({ name: key, valueFrom: { secretKeyRef: { name: args.secretName, key } } })),
            // Its own database user, never the superuser: the same env names, from the app's own Secret.
            ...Object.keys(args.databaseCredentials?.values ?? {}).map((key) => ({
                name: key,
                valueFrom: { secretKeyRef: { name: args.databaseCredentials!.secretName, key } },
            })),
        ];
        // Explicit env wins over the ConfigMap's envFrom: the app's pods go through PgBouncer, its migrations straight to PostgreSQL.
        const poolerEnv = args.postgresPooler
            ? [
                  { name: "POSTGRES_URL", value: args.postgresPooler.url },
                  { name: "POSTGRES_POOL_MAX", value: String(args.postgresPooler.poolMax) },
              ]
            : [];
        const credentialKeys = Object.keys(args.databaseCredentials?.values ?? {}).map((k) => `database/${k}`);
        const readSecrets: Partial<Record<string, pulumi.Output<string>>> = {
            ...args.secretValues,
            ...Object.fromEntries(Object.entries(args.databaseCredentials?.values ?? {}).map(([k, v]) => [`database/${k}`, v])),
        };
        const scratch = spec.writablePaths.map((p, i) => ({ name: `scratch-${i}`, mountPath: p }));
        const uploads = spec.name === FILE_UPLOADS.app ? args.fileUploads : undefined;
        const onOneNode = uploads?.accessMode === "ReadWriteOnce";
        const mountLabels = onOneNode ? UPLOADS_MOUNT_LABEL : {};
        const volumeMounts = [...scratch, ...(uploads ? [{ name: "uploads", mountPath: FILE_UPLOADS.mountPath }] : [])];
        const podVolumes = [
            ...scratch.map((s) => ({ name: s.name, emptyDir: { sizeLimit: spec.scratchSize } })),
            ...(uploads ? [{ name: "uploads", persistentVolumeClaim: { claimName: uploads.claim } }] : []),
        ];
        const container: Container = {
            name: spec.name,
            image: args.image,
            envFrom: [{ configMapRef: { name: args.configMapName } }],
            env,
            securityContext: restrictedContainerSecurity(),
            resources: resourceRequirements(spec.resources),
            volumeMounts,
        };
        const podSpec = (extra: Partial<PodSpec> & Pick<PodSpec, "containers">): PodSpec => ({
            serviceAccountName: serviceAccount.metadata.name,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: restrictedPodSecurity(spec.runAsUser),
            volumes: podVolumes,
            ...podPlacementFields(args.placement),
            ...(onOneNode ? { affinity: onTheUploadsNode() } : {}),
            ...extra,
        });

        const dependsOn = [...args.dependsOn, ...(args.deploymentDependsOn ?? [])];
        if (spec.migrations) {
            // Runs `npm run migrate` with the new image; Pulumi waits for completion before the rollout.
            // Auto-named, so a new image replaces it with a fresh Job (create before delete); a Job that
            // failed is replaced on the next `up` (replaceUnready) instead of being awaited again, and one
            // that succeeded is left alone until what it runs changes (no checksum: a setting does not re-run it).
            this.migration = new k8s.batch.v1.Job(
                migrationName(spec.name),
                {
                    metadata: { namespace: ns, labels: labels(migrationName(spec.name), "migration"), annotations: REPLACE_UNREADY },
                    spec: {
                        backoffLimit: 3,
                        activeDeadlineSeconds: 600,
                        template: {
                            metadata: { labels: { ...labels(migrationName(spec.name), "migration"), ...mountLabels } },
                            spec: podSpec({
                                restartPolicy: "Never",
                                containers: [
                                    {
                                        ...container,
                                        name: "migrate",
                                        command: ["npm", "run", "migrate"],
                                        env: [...env, { name: "HOME", value: MIGRATION_HOME.path }],
                                        volumeMounts: [...volumeMounts, { name: "home", mountPath: MIGRATION_HOME.path }],
                                    },
                                ],
                                volumes: [...podVolumes, { name: "home", emptyDir: { sizeLimit: MIGRATION_HOME.size } }],
                            }),
                        },
                    },
                },
                { parent: this, dependsOn: [...args.dependsOn, ...(args.migrationDependsOn ?? [])] },
            );
            dependsOn.push(this.migration);
        }

        // Readiness checks dependencies (`/health`); liveness only that the process serves (see AppSpec.livenessPath).
        const ready = { httpGet: { path: spec.healthPath, port: "http" } };
        const alive = spec.livenessPath ? { httpGet: { path: spec.livenessPath, port: "http" } } : { tcpSocket: { port: "http" } };
        const timing = (period: number) => ({ periodSeconds: period, timeoutSeconds: 3, failureThreshold: 3 });
        this.deployment = new k8s.apps.v1.Deployment(
            spec.name,
            {
                metadata: { name: spec.name, namespace: ns, labels: meta },
                spec: {
                    replicas: spec.replicas,
                    selector: { matchLabels: selectorLabels(spec.name) },
                    // Full capacity throughout a rollout: a new pod must be ready before an old one goes.
                    strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: "25%" } },
                    template: {
                        // What the pods read, as digests: a setting or secret change rolls exactly its readers.
                        metadata: {
                            labels: { ...meta, ...mountLabels },
                            annotations: rolloutAnnotations({
                                config: args.configChecksum,
                                secret: secretChecksum(args.checksumKey, readSecrets, [...secretKeysFor(spec), ...credentialKeys]),
                            }),
                        },
                        spec: podSpec({
                            containers: [
                                {
                                    ...container,
                                    env: [...env, ...poolerEnv],
                                    ports: [{ name: "http", containerPort: spec.port }],
                                    startupProbe: { ...alive, ...timing(5), failureThreshold: 24 },
                                    readinessProbe: { ...ready, ...timing(10) },
                                    livenessProbe: { ...alive, ...timing(20) },
                                },
                            ],
                            topologySpreadConstraints: ["topology.kubernetes.io/zone", "kubernetes.io/hostname"].map((topologyKey) => ({
                                maxSkew: 1,
                                topologyKey,
                                whenUnsatisfiable: "ScheduleAnyway",
                                labelSelector: { matchLabels: selectorLabels(spec.name) },
                            })),
                        }),
                    },
                },
            },
            // The autoscaler owns the replica count once the Deployment exists.
            { parent: this, dependsOn, ignoreChanges: ["spec.replicas"] },
        );

        this.service = new k8s.core.v1.Service(
            spec.name,
            {
                metadata: { name: spec.name, namespace: ns, labels: meta, annotations: AWAITED_THROUGH_ITS_DEPLOYMENT },
                spec: {
                    type: "ClusterIP",
                    selector: selectorLabels(spec.name),
                    ports: [{ name: "http", port: spec.port, targetPort: "http" }],
                },
            },
            // Created once its pods are ready (see AWAITED_THROUGH_ITS_DEPLOYMENT).
            { parent: this, dependsOn: [this.deployment] },
        );
        this.serviceName = this.service.metadata.name;

        new k8s.autoscaling.v2.HorizontalPodAutoscaler(
            spec.name,
            {
                metadata: { name: spec.name, namespace: ns, labels: meta },
                spec: {
                    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: this.deployment.metadata.name },
                    minReplicas: spec.replicas,
                    maxReplicas: Math.max(spec.maxReplicas, spec.replicas),
                    metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } }],
                },
            },
            { parent: this },
        );

        new k8s.policy.v1.PodDisruptionBudget(
            spec.name,
            {
                metadata: { name: spec.name, namespace: ns, labels: meta },
                spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(spec.name) } },
            },
            { parent: this },
        );

        this.registerOutputs({ serviceName: this.serviceName });
    }
}
