// What is on the database-backups volume, and the Jobs `npm run restore` starts to list and restore it. The pods
// come from components/data/backup-jobs.ts, the same code the program's backup Job is built from.
import { randomBytes } from "crypto";
import { BackedUpDatabase, PLATFORM_SECRET_NAME } from "../../components/model/catalog";
import { PodPlacement, podPlacementFields } from "../../components/model/placement";
import { ThirdPartyImages } from "../../components/model/third-party-images";
import {
    BACKED_UP_STORES,
    inBackupOrder,
    BACKUP_FILES,
    BACKUP_NAME,
    BACKUP_VOLUME,
    backupLabels,
    LIST_JOB,
    listPod,
    MANIFEST_STORE_PREFIX,
    manifestFile,
    RESTORE_JOB,
    RESTORE_STEPS,
    sequentialPod,
    StoreAddress,
} from "../../components/data/backup-jobs";
import type { JobManifest } from "./jobs";

export interface Backup {
    name: string;
    /** When it was taken (from its name). */
    takenAt: Date;
    /** Bytes of each store's file present. */
    files: Partial<Record<BackedUpDatabase, number>>;
    /** The migrating images it was taken before (its manifest); absent when the backup did not complete. */
    images?: string[];
    /** The stores its manifest says it holds; absent for a manifest written before backups named them (all stores). */
    stores?: BackedUpDatabase[];
}

/** The stores a backup holds (or was meant to hold, when it did not complete). */
export const storesOf = (b: Backup): BackedUpDatabase[] => b.stores ?? [...BACKED_UP_STORES];

/** A complete backup has its manifest (written last) and the file of every store the manifest names. */
export const isComplete = (b: Backup) => b.images !== undefined && storesOf(b).every((s) => b.files[s] !== undefined);

/** Parses the list Job's output (LIST_SCRIPT), newest first; files that are not a backup's are ignored. */
export function parseListing(output: string): Backup[] {
    const byName = new Map<string, Backup>();
    const entry = (name: string) => {
        if (!byName.has(name)) byName.set(name, { name, takenAt: takenAt(name), files: {} });
        return byName.get(name)!;
    };
    for (const line of output.split("\n")) {
        const [kind, file, value] = line.split("\t");
        const name = file?.split(".")[0] ?? "";
        if (!BACKUP_NAME.test(name)) continue;
        if (kind === "images" && file === manifestFile(name)) {
            const lines = (value ?? "").trim().split(/\s+/).filter(Boolean);
            const stores = lines.filter((l) => l.startsWith(MANIFEST_STORE_PREFIX)).map((l) => l.slice(MANIFEST_STORE_PREFIX.length));
            entry(name).images = lines.filter((l) => !l.startsWith(MANIFEST_STORE_PREFIX));
            if (stores.length) entry(name).stores = inBackupOrder(stores);
        }
        for (const store of BACKED_UP_STORES)
            if (kind === "file" && file === BACKUP_FILES[store](name)) entry(name).files[store] = Number(value);
    }
    return [...byName.values()].sort((a, b) => b.name.localeCompare(a.name));
}

function takenAt(name: string): Date {
    const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/.exec(name)!;
    return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
}

const suffix = () => randomBytes(3).toString("hex");

function job(namespace: string, name: string, labelName: string, spec: Record<string, unknown>): JobManifest {
    return { apiVersion: "batch/v1", kind: "Job", metadata: { name, namespace, labels: backupLabels(labelName) }, spec };
}

/**
 * Lists the volume, mounted read-only; the pod has no network (no NetworkPolicy admits it). It runs where the backup
 * Job may (`workloadPlacement["database-backup"]`): a volume bound on a dedicated or tainted node is reachable only there.
 */
export function listJob(namespace: string, images: ThirdPartyImages, placement?: PodPlacement): JobManifest {
    return job(namespace, `${LIST_JOB}-${suffix()}`, LIST_JOB, {
        backoffLimit: 0,
        activeDeadlineSeconds: 300,
        ttlSecondsAfterFinished: 600,
        template: {
            metadata: { labels: backupLabels(LIST_JOB) },
            spec: { ...listPod(BACKUP_VOLUME, images), ...podPlacementFields(placement) },
        },
    });
}

/**
 * Restores `stores` from `backup`, PostgreSQL first, with the stack's own images of the stores. Not retried
 * (backoffLimit 0): the operator sees the failure and re-runs, which is safe since both restores replace what they
 * restore. Kept a week for its logs.
 */
export function restoreJob(
    namespace: string,
    backup: string,
    stores: BackedUpDatabase[],
    addresses: Partial<Record<BackedUpDatabase, StoreAddress>>,
    images: ThirdPartyImages,
    placement?: PodPlacement,
): JobManifest {
    const ordered = inBackupOrder(stores);
    return job(namespace, `${RESTORE_JOB}-${suffix()}`, RESTORE_JOB, {
        backoffLimit: 0,
        activeDeadlineSeconds: 7200,
        ttlSecondsAfterFinished: 7 * 24 * 3600,
        template: {
            metadata: { labels: backupLabels(RESTORE_JOB) },
            spec: {
                ...sequentialPod(
                    ordered.map((s) => RESTORE_STEPS[s]),
                    {
                        secretName: PLATFORM_SECRET_NAME,
                        claimName: BACKUP_VOLUME,
                        stores: addresses,
                        env: [{ name: "BACKUP_NAME", value: backup }],
                        readOnly: true,
                        images,
                    },
                ),
                ...podPlacementFields(placement),
            },
        },
    });
}
