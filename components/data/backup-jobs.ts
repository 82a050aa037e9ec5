// The database backups as plain data: the volume's layout, the file names, and the pods that dump, list and
// restore them. Shared by the backup Job the program runs before migrations (backups.ts) and the Jobs
// `npm run restore` starts (ops/restore/), so both read and write the same files the same way.
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { DATA_STORE_PASSWORD_KEY, BACKED_UP_DATABASES, BackedUpDatabase, resourceRequirements, Resources } from "../model/catalog";
import { DATA_STORE_SPECS, printFromEnv } from "./stores";
import { labels } from "../model/labels";
import { AWAIT_POSTGRES } from "./user-scripts";
import { literalArgument, restrictedContainerSecurity, restrictedPodSecurity } from "../model/security";
import { ThirdPartyImages } from "../model/third-party-images";

type Container = k8s.types.input.core.v1.Container;
type EnvVar = k8s.types.input.core.v1.EnvVar;
type PodSpec = k8s.types.input.core.v1.PodSpec;

/** The retained volume every backup is written to, and where the pods mount it. */
export const BACKUP_VOLUME = "database-backups";
export const BACKUP_DIR = "/backups";
/** The ConfigMap holding the retention (read at run time, so changing it never re-runs a backup). */
export const BACKUP_SETTINGS = "database-backups";

/**
 * The databases a backup can hold: PostgreSQL's and MongoDB's `ultramarket` database, taken together in one pod.
 * Which of them a stack backs up is `ultramarket:backupStores` (all of them unless a stack names fewer; production
 * must keep every store its apps use), and each backup's manifest records the ones it holds.
 */
export const BACKED_UP_STORES: readonly BackedUpDatabase[] = BACKED_UP_DATABASES;
/** The stores of a list in the order a backup dumps and restores them (BACKED_UP_STORES'), whatever order it came in. */
export const inBackupOrder = (stores: readonly string[]): BackedUpDatabase[] => BACKED_UP_STORES.filter((s) => stores.includes(s));
export const DATABASE = "ultramarket";
/** A manifest line naming a store the backup holds (the other lines are `<app>=<image>`). */
export const MANIFEST_STORE_PREFIX = "store:";

/** Pod names (and selector labels): the NetworkPolicies let exactly these reach the stores. */
export const BACKUP_JOB = "database-backup";
export const RESTORE_JOB = "database-restore";
/**
 * Why `allow-database-restore` exists in every stack although its pods exist only while `npm run restore` runs: the
 * restore must work when things are already wrong, so it needs no right to create NetworkPolicies and leaves no
 * object Pulumi does not know (a policy created by ops would be drift, or lost with a killed restore); and a
 * NetworkPolicy that selects no pod grants nothing. Put on the object as an annotation.
 */
export const RESTORE_POLICY_PURPOSE =
    "Selects only the pods of `npm run restore` (Jobs database-restore-<suffix>, ops/restore), which exist while a restore runs; " +
    "at other times it selects nothing and so grants nothing. It stays in the stack so a restore needs no right to create " +
    "NetworkPolicies and leaves no object outside Pulumi's state (README: Backups and restore).";
/** Lists the volume; it needs no network at all, so default-deny leaves it none. */
export const LIST_JOB = "database-backups-list";

/** `<UTC timestamp>-<trigger digest>`: sorts by time, and names what the backup was taken before. */
export const BACKUP_NAME = /^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{10}$/;
/** Each store's file of a backup; the `.images` manifest is written last and marks the backup complete. */
export const BACKUP_FILES: Record<BackedUpDatabase, (name: string) => string> = {
    postgres: (name) => `${name}.postgres.dump`,
    mongodb: (name) => `${name}.mongodb.archive.gz`,
};
export const manifestFile = (name: string) => `${name}.images`;

/** Where a store is reached: its Service's host and port. */
export type StoreAddress = { host: pulumi.Input<string>; port: pulumi.Input<string> };

export interface BackupPodArgs {
    secretName: pulumi.Input<string>;
    claimName: pulumi.Input<string>;
    /** The address of each store a step connects to. */
    stores: Partial<Record<BackedUpDatabase, StoreAddress>>;
    /** The third-party images by logical name: each step runs its store's. */
    images: ThirdPartyImages;
}

// Dumps are readable by the pod's group (the volume's fsGroup) and nobody else: they hold every row.
const STRICT = "set -eu; umask 027";
const WORK = "/run/backup";
const NAME_FILE = `${WORK}/name`;
/** mongodump/mongorestore read the password from this file (`--config`, 0600), never from argv. */
const MONGO_CONFIG = `${WORK}/mongo.yaml`;
const STEP_RESOURCES: Resources = {
    cpuRequest: "250m",
    cpuLimit: "1",
    memoryRequest: "256Mi",
    memoryLimit: "512Mi",
    ephemeralStorageRequest: "64Mi",
    ephemeralStorageLimit: "256Mi",
};
const SCRATCH = { work: { path: WORK, size: "16Mi" }, tmp: { path: "/tmp", size: "64Mi" } };

/** Names this run's backup once: every step of the pod reads the same name. */
const NAMED = `[ -s ${NAME_FILE} ] || echo "$(date -u +%Y%m%dT%H%M%SZ)-$BACKUP_TRIGGER" > ${NAME_FILE}; name=$(cat ${NAME_FILE})`;
/** Writes to a hidden temporary name, then renames: a file under its real name is always whole. */
const atomically = (file: string, write: (partial: string) => string) =>
    `partial="${BACKUP_DIR}/.${file}.partial"; ${write('"$partial"')}; sync; mv "$partial" "${BACKUP_DIR}/${file}"`;
const mongoConfig = `(umask 077 && ${printFromEnv("MONGODB_PASSWORD", 'password: "%s"')} > ${MONGO_CONFIG})`;
const mongoConnection = `--host "$MONGODB_HOST" --port "$MONGODB_PORT" --username root --authenticationDatabase admin --config ${MONGO_CONFIG}`;

/** One step of a backup or restore pod: a shell script run with a store's own image and its client tools. */
export interface Step {
    name: string;
    /** Whose image (and user) runs it. */
    store: BackedUpDatabase;
    script: string;
    /** Connects to the store as its superuser (gets the address and the password); false for file-only steps. */
    connects: boolean;
}

const DUMP_STEPS: Record<BackedUpDatabase, Step> = {
    postgres: {
        name: "dump-postgres",
        store: "postgres",
        connects: true,
        // Custom format (-Fc): compressed, and pg_restore can clean and restore it in one transaction.
        script: `${STRICT}; ${AWAIT_POSTGRES}; ${NAMED}; rm -f ${BACKUP_DIR}/.*.postgres.dump.partial; ${atomically(BACKUP_FILES.postgres("$name"), (p) => `pg_dump -Fc -d ${DATABASE} -f ${p}`)}; echo "postgres: database ${DATABASE} dumped to ${BACKUP_FILES.postgres("$name")}"`,
    },
    mongodb: {
        name: "dump-mongodb",
        store: "mongodb",
        connects: true,
        // The application database only: users live in admin and are managed by the program, never restored.
        script: `${STRICT}; ${NAMED}; ${mongoConfig}; rm -f ${BACKUP_DIR}/.*.mongodb.archive.gz.partial; ${atomically(BACKUP_FILES.mongodb("$name"), (p) => `mongodump ${mongoConnection} --db ${DATABASE} --archive=${p} --gzip`)}; echo "mongodb: database ${DATABASE} dumped to ${BACKUP_FILES.mongodb("$name")}"`,
    },
};

const FINISH_STEP: Step = {
    name: "finish",
    store: "postgres",
    connects: false,
    // The manifest (the images this backup was taken before, and the stores it holds) marks it complete; then the
    // newest BACKUP_RETENTION complete backups are kept, and leftovers of failed runs go (this one supersedes them).
    script: [
        `${STRICT}; ${NAMED}; cd ${BACKUP_DIR}`,
        atomically(
            manifestFile("$name"),
            (p) => `{ echo "$BACKUP_IMAGES" | tr ' ' '\\n'; for s in $BACKUP_STORES; do echo "${MANIFEST_STORE_PREFIX}$s"; done; } > ${p}`,
        ),
        `ls -1 | sed -n 's/\\.images$//p' | sort -r | tail -n +$((BACKUP_RETENTION + 1)) | while read -r old; do rm -f "$old".*; echo "pruned backup $old"; done`,
        `for f in *.postgres.dump *.mongodb.archive.gz; do [ -e "$f" ] || continue; [ -e "\${f%%.*}.images" ] || { rm -f "$f"; echo "removed $f of a backup that did not complete"; }; done`,
        `echo "backup $name complete; backups kept (newest first):"; ls -1 | sed -n 's/\\.images$//p' | sort -r`,
    ].join("; "),
};

/** The backup pod's steps: a dump of each store backed up (in BACKED_UP_STORES' order), then the manifest and pruning. */
export function backupSteps(stores: readonly BackedUpDatabase[]): Step[] {
    return [...inBackupOrder(stores).map((s) => DUMP_STEPS[s]), FINISH_STEP];
}

/** Prints one line per file of the volume: `file<TAB>name<TAB>bytes`, and `images<TAB>name<TAB>manifest` for manifests. */
export const LIST_SCRIPT = `set -eu; cd ${BACKUP_DIR}; for f in *; do [ -f "$f" ] || continue; case "$f" in *.images) printf 'images\\t%s\\t%s\\n' "$f" "$(tr '\\n' ' ' < "$f")";; *) printf 'file\\t%s\\t%s\\n' "$f" "$(stat -c %s "$f")";; esac; done`;

/**
 * PostgreSQL's restore, all or nothing (one transaction: a failure leaves the database as it was). First each schema
 * the dump holds is dropped with everything in it, then the dump is restored with --clean for the rest (public's
 * objects). pg_restore's own --clean drops a schema without CASCADE, which fails for exactly the case a restore is for:
 * a migration since the backup added a table to the app's schema ("cannot drop schema ... because other objects
 * depend on it", seen on the real node). The schema names come from the dump's table of contents and must be ones the
 * users Job creates (lower-case identifiers); public is never dropped. Should pg_restore fail halfway through writing
 * the SQL, the last statement raises, so psql (ON_ERROR_STOP) rolls back instead of committing a partial restore.
 */
const PG_DUMP_FILE = `${BACKUP_DIR}/${BACKUP_FILES.postgres("$BACKUP_NAME")}`;
const RESTORE_POSTGRES = [
    `${STRICT}; ${AWAIT_POSTGRES}; dump="${PG_DUMP_FILE}"`,
    `schemas=$(pg_restore -l "$dump" | sed -n 's/^[0-9]*; [0-9]* [0-9]* SCHEMA - \\([^ ]*\\) .*$/\\1/p' | grep -vx public || true)`,
    `for s in $schemas; do case "$s" in *[!a-z0-9_]* | [!a-z_]*) echo "postgres: the dump names schema '$s', which the program never creates; nothing was restored" >&2; exit 1;; esac; done`,
    `{ for s in $schemas; do echo "DROP SCHEMA IF EXISTS $s CASCADE;"; done; pg_restore --clean --if-exists -f - "$dump" || echo "DO 'BEGIN RAISE EXCEPTION ''pg_restore could not read the dump''; END';"; } | psql -X -q -v ON_ERROR_STOP=1 --single-transaction -d ${DATABASE} > /dev/null`,
    `echo "postgres: database ${DATABASE} restored from $BACKUP_NAME"`,
].join("; ");

/** Restores one store from the backup named in $BACKUP_NAME (validated against the volume's listing first). */
export const RESTORE_STEPS: Record<BackedUpDatabase, Step> = {
    postgres: {
        name: "restore-postgres",
        store: "postgres",
        connects: true,
        script: RESTORE_POSTGRES,
    },
    mongodb: {
        name: "restore-mongodb",
        store: "mongodb",
        connects: true,
        // Drops each collection of the archive before restoring it; nothing outside the application database.
        script: `${STRICT}; ${mongoConfig}; mongorestore ${mongoConnection} --nsInclude '${DATABASE}.*' --drop --archive="${BACKUP_DIR}/${BACKUP_FILES.mongodb("$BACKUP_NAME")}" --gzip; echo "mongodb: database ${DATABASE} restored from $BACKUP_NAME"`,
    },
};

/** The superuser's password reaches a step only as an environment variable from the platform Secret. */
function storeEnv(store: BackedUpDatabase, args: BackupPodArgs): EnvVar[] {
    const password = { secretKeyRef: { name: args.secretName, key: DATA_STORE_PASSWORD_KEY[store] } };
    const address = args.stores[store];
    if (!address) throw new Error(`a ${store} step needs ${store}'s address, and none was given`);
    const { host, port } = address;
    if (store === "postgres") {
        // libpq reads the connection and the password from its environment.
        return [
            { name: "PGHOST", value: host },
            { name: "PGPORT", value: port },
            { name: "PGUSER", value: "postgres" },
            { name: "PGPASSWORD", valueFrom: password },
        ];
    }
    return [
        { name: "MONGODB_HOST", value: host },
        { name: "MONGODB_PORT", value: port },
        { name: "MONGODB_PASSWORD", valueFrom: password },
    ];
}

/**
 * A pod running the steps one after another (init containers, the last one as the container), each with its store's
 * image and as that image's user; the volume group is PostgreSQL's, so every step can write the files of the others.
 */
export function sequentialPod(steps: Step[], args: BackupPodArgs & { env?: EnvVar[]; readOnly: boolean }): PodSpec {
    const containers: Container[] = steps.map((step) => ({
        name: step.name,
        image: args.images[DATA_STORE_SPECS[step.store].image],
        command: ["sh", "-c", literalArgument(step.script)],
        env: [...(args.env ?? []), ...(step.connects ? storeEnv(step.store, args) : []), { name: "HOME", value: "/tmp" }],
        securityContext: { ...restrictedContainerSecurity(), runAsUser: DATA_STORE_SPECS[step.store].uid },
        resources: resourceRequirements(STEP_RESOURCES),
        volumeMounts: [
            { name: "backups", mountPath: BACKUP_DIR, readOnly: args.readOnly },
            ...Object.entries(SCRATCH).map(([name, { path }]) => ({ name, mountPath: path })),
        ],
    }));
    return {
        restartPolicy: "Never",
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        securityContext: restrictedPodSecurity(DATA_STORE_SPECS.postgres.uid),
        initContainers: containers.slice(0, -1),
        containers: containers.slice(-1),
        volumes: [
            { name: "backups", persistentVolumeClaim: { claimName: args.claimName, readOnly: args.readOnly } },
            ...Object.entries(SCRATCH).map(([name, { size }]) => ({ name, emptyDir: { sizeLimit: size } })),
        ],
    };
}

/** Labels of a backup, list or restore pod (its name selects it in the NetworkPolicies). */
export const backupLabels = (name: string) => labels(name, "backup");

/**
 * The settings a backup pod reads besides the Secret: what triggered it, the stores it dumps (for its manifest), and
 * the retention from the settings ConfigMap.
 */
export function backupEnv(trigger: pulumi.Input<string>, images: pulumi.Input<string>, stores: readonly BackedUpDatabase[]): EnvVar[] {
    return [
        { name: "BACKUP_TRIGGER", value: trigger },
        { name: "BACKUP_IMAGES", value: images },
        { name: "BACKUP_STORES", value: inBackupOrder(stores).join(" ") },
        { name: "BACKUP_RETENTION", valueFrom: { configMapKeyRef: { name: BACKUP_SETTINGS, key: "retention" } } },
    ];
}

/** The list pod: reads the volume only, runs as PostgreSQL's user with busybox's tools. */
export function listPod(claimName: string, images: ThirdPartyImages): PodSpec {
    const spec = DATA_STORE_SPECS.postgres;
    return {
        restartPolicy: "Never",
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        securityContext: restrictedPodSecurity(spec.uid),
        containers: [
            {
                name: "list",
                image: images[spec.image],
                command: ["sh", "-c", LIST_SCRIPT],
                securityContext: restrictedContainerSecurity(),
                resources: resourceRequirements({
                    ...STEP_RESOURCES,
                    cpuRequest: "50m",
                    cpuLimit: "200m",
                    memoryRequest: "32Mi",
                    memoryLimit: "64Mi",
                }),
                volumeMounts: [{ name: "backups", mountPath: BACKUP_DIR, readOnly: true }],
            },
        ],
        volumes: [{ name: "backups", persistentVolumeClaim: { claimName, readOnly: true } }],
    };
}
