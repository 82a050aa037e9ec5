import { PodPlacement, podPlacementFields } from "../model/placement";
import { createHash } from "crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { BackedUpDatabase } from "../model/catalog";
import { labels } from "../model/labels";
import { REPLACE_UNREADY } from "../model/rollout";
import { ThirdPartyImages } from "../model/third-party-images";
import {
    BACKUP_JOB,
    BACKUP_SETTINGS,
    backupSteps,
    BACKUP_VOLUME,
    backupEnv,
    backupLabels,
    inBackupOrder,
    sequentialPod,
} from "./backup-jobs";

/** Pod-template annotation of the backup Job: the digest of the migrating images it was taken before. */
export const BACKUP_TRIGGER_ANNOTATION = "ultramarket.uz/backup-trigger";

export interface DatabaseBackupsArgs {
    namespace: pulumi.Input<string>;
    secretName: pulumi.Input<string>;
    storageClass?: string;
    size: string;
    /** Newest complete backups kept on the volume. */
    retention: number;
    /** Pulumi `protect` on the volume, as on the stores' data. */
    protect: boolean;
    stores: Record<BackedUpDatabase, { host: pulumi.Input<string>; port: number }>;
    /** The stores each backup dumps (`ultramarket:backupStores`). */
    backedUp: readonly BackedUpDatabase[];
    /** The stores' readiness (their StatefulSets): a backup needs them up. */
    dataStores: pulumi.Resource[];
    /** Image of each app that runs migrations; a backup is taken whenever one changes. Empty or absent: no backup Job. */
    migratingImages?: Record<string, pulumi.Input<string>>;
    /** The third-party images by logical name: each step runs its store's client tools. */
    images: ThirdPartyImages;
    /** Where the backup Job's pod may run (`ultramarket:workloadPlacement["database-backup"]`). */
    placement?: PodPlacement;
}

/** The digest naming a backup: of the migrating apps' images, so it changes exactly when a migration will run. */
export function backupTrigger(images: Record<string, string>): string {
    const pairs = Object.keys(images)
        .sort()
        .map((app) => [app, images[app]]);
    return createHash("sha256").update(JSON.stringify(pairs)).digest("hex").slice(0, 10);
}

/**
 * Backups of PostgreSQL and MongoDB: the retained `database-backups` volume, its retention, and the Job that dumps
 * both databases onto it before the migrations run (every migration Job depends on `beforeMigrations`).
 */
export class DatabaseBackups extends pulumi.ComponentResource {
    public readonly claimName: pulumi.Output<string>;
    /** The backup Job, when apps migrate: a failed backup stops the migrations and the rollout. */
    public readonly job?: k8s.batch.v1.Job;
    /** What every migration Job waits for. */
    public readonly beforeMigrations: pulumi.Resource[];

    constructor(name: string, args: DatabaseBackupsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("ultramarket:data:DatabaseBackups", name, {}, opts);
        // The one copy of the data taken before a schema change: kept like the stores' volumes, and kept in the
        // cluster even if Pulumi ever deletes it.
        const pvc = new k8s.core.v1.PersistentVolumeClaim(
            BACKUP_VOLUME,
            {
                metadata: {
                    name: BACKUP_VOLUME,
                    namespace: args.namespace,
                    labels: labels(BACKUP_VOLUME, "storage"),
                    // A WaitForFirstConsumer class binds only once the backup Job mounts it; that Job is what we await.
                    annotations: { "pulumi.com/skipAwait": "true" },
                },
                spec: {
                    accessModes: ["ReadWriteOnce"],
                    storageClassName: args.storageClass,
                    resources: { requests: { storage: args.size } },
                },
            },
            { parent: this, protect: args.protect, retainOnDelete: args.protect },
        );
        this.claimName = pvc.metadata.name;
        // Read by the pod when it runs, so a retention change never re-runs a backup.
        const settings = new k8s.core.v1.ConfigMap(
            BACKUP_SETTINGS,
            {
                metadata: { name: BACKUP_SETTINGS, namespace: args.namespace, labels: labels(BACKUP_VOLUME, "storage") },
                data: { retention: String(args.retention) },
            },
            { parent: this },
        );

        const images = args.migratingImages ?? {};
        if (Object.keys(images).length > 0) {
            const resolved = pulumi.all(images);
            const trigger = resolved.apply(backupTrigger);
            const manifest = resolved.apply((refs) =>
                Object.keys(refs)
                    .sort()
                    .map((app) => `${app}=${refs[app]}`)
                    .join(" "),
            );
            const stores = Object.fromEntries(
                inBackupOrder(args.backedUp).map((s) => [s, { host: args.stores[s].host, port: String(args.stores[s].port) }]),
            ) as Partial<Record<BackedUpDatabase, { host: pulumi.Input<string>; port: string }>>;
            const meta = backupLabels(BACKUP_JOB);
            // Auto-named, its template carrying the trigger: a migrating image change replaces the Job, so the backup
            // runs again right before the new migrations; settings and secrets are not in the template, so they never
            // re-run it. A backup that failed is replaced on the next `up` (replaceUnready) rather than awaited again.
            this.job = new k8s.batch.v1.Job(
                BACKUP_JOB,
                {
                    metadata: { namespace: args.namespace, labels: meta, annotations: REPLACE_UNREADY },
                    spec: {
                        backoffLimit: 2,
                        // A dump of a large database takes a while; the await below outlasts this deadline.
                        activeDeadlineSeconds: 3600,
                        template: {
                            metadata: { labels: meta, annotations: { [BACKUP_TRIGGER_ANNOTATION]: trigger } },
                            spec: {
                                ...sequentialPod(backupSteps(args.backedUp), {
                                    secretName: args.secretName,
                                    claimName: this.claimName,
                                    stores,
                                    env: backupEnv(trigger, manifest, args.backedUp),
                                    readOnly: false,
                                    images: args.images,
                                }),
                                ...podPlacementFields(args.placement),
                            },
                        },
                    },
                },
                { parent: this, dependsOn: [...args.dataStores, pvc, settings], customTimeouts: { create: "65m", update: "65m" } },
            );
        }
        this.beforeMigrations = this.job ? [this.job] : [];
        this.registerOutputs({ claimName: this.claimName });
    }
}
