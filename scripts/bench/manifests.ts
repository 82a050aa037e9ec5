// The objects both sides of the benchmark deploy: the program evaluated on Pulumi's mock monitor (the unit
// harness) with the benchmark stack's config, so kubectl applies exactly what `pulumi up` registers.
import * as crypto from "crypto";
import { APP_NAMES } from "../../components/model/catalog";
import { DATA_STORE_NAMES } from "../../components/data/stores";
import { PGBOUNCER } from "../../components/data/pgbouncer";
import { BACKUP_VOLUME } from "../../components/data/backup-jobs";
import { Registration, runProgram } from "../../tests/unit/support/harness";

export interface KubeObject {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
    [k: string]: unknown;
}

/** The Kubernetes objects among registrations, as applied (Helm releases are the charts' own business). */
export function kubeObjects(registrations: Registration[]): { name: string; object: KubeObject }[] {
    return registrations
        .filter((r) => r.custom && r.type.startsWith("kubernetes:") && !r.type.startsWith("kubernetes:helm.sh/"))
        .map((r) => ({ name: r.name, object: r.inputs as KubeObject }));
}

/**
 * The program's Kubernetes objects for `ultramarket:` config values (secret ones included, as the Secret needs them),
 * every registration, and how long the evaluation on the mock monitor took.
 */
export async function renderObjects(
    config: Record<string, string>,
    secretKeys: string[],
): Promise<{ objects: KubeObject[]; registrations: Registration[]; seconds: number }> {
    const start = process.hrtime.bigint();
    const { registrations, error } = await runProgram("bench", config, secretKeys);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (error) throw error instanceof Error ? error : new Error(JSON.stringify(error));
    const objects = kubeObjects(registrations).map(({ name, object: o }) => {
        // Auto-named by Pulumi (the migration Jobs): the same shape of name, `<resource name>-<random>`.
        return o.metadata.name ? o : { ...o, metadata: { ...o.metadata, name: `${name}-${crypto.randomBytes(4).toString("hex")}` } };
    });
    return { objects, registrations, seconds };
}

/** One step of the runbook: objects applied with one `kubectl apply`, then what it waits for before going on. */
export interface RunbookStep {
    title: string;
    objects: KubeObject[];
    /** `kubectl rollout status` / `wait` targets run one after another after the apply, as the runbook does. */
    waits: KubeObject[];
}

/** The app or data store an object belongs to: its `app` label, or the one that label starts with (`auth-service-migration`). */
function ownerOf(o: KubeObject, owners: readonly string[]): string | undefined {
    const app = o.metadata.labels?.app;
    if (!app) return undefined;
    return owners.includes(app) ? app : [...owners].sort((a, b) => b.length - a.length).find((n) => app.startsWith(`${n}-`));
}
/** The condition `pulumi up` waits for on a custom resource (`pulumi.com/waitFor: condition=<type>`), if any. */
export function waitedCondition(o: KubeObject): string | undefined {
    const w = (o.metadata.annotations as Record<string, string> | undefined)?.["pulumi.com/waitFor"];
    return w?.startsWith("condition=") ? w.slice("condition=".length) : undefined;
}

/** What `pulumi up` awaits: the workloads, and the custom resources with a waitFor condition (Gateway, Certificates). */
export const awaited = (o: KubeObject) => ["Deployment", "StatefulSet", "Job"].includes(o.kind) || waitedCondition(o) !== undefined;

/**
 * The runbook's order (../shared/seed action plan, phases 1–3): namespace; secrets and config maps; the data stores,
 * waiting for each (with its exporter, whose `app` label starts with the store's name); the users Jobs and PgBouncer;
 * the backup the migrations wait for; storage; network policies; the edge; then each service in catalog order (then the synthetic apps, if any); finally the rollout
 * status of every Deployment and Job, and the monitoring objects.
 */
export function runbookSteps(objects: KubeObject[], apps: readonly string[] = APP_NAMES): RunbookStep[] {
    const taken = new Set<KubeObject>();
    const take = (pick: (o: KubeObject) => boolean) => objects.filter((o) => !taken.has(o) && pick(o)).map((o) => (taken.add(o), o));
    const steps: RunbookStep[] = [];
    const step = (title: string, picked: KubeObject[], waits: KubeObject[] = []) =>
        (picked.length || waits.length) && steps.push({ title, objects: picked, waits });

    step(
        "1.1 namespace",
        take((o) => o.kind === "Namespace"),
    );
    // The platform's own Secret and ConfigMap (every store and app reads them), not a component's.
    const platformWide = (o: KubeObject) => !o.metadata.labels?.app || o.metadata.labels["app.kubernetes.io/component"] === "platform";
    step(
        "1.2 secrets",
        take((o) => o.kind === "Secret" && platformWide(o)),
    );
    step(
        "1.3 config maps",
        take((o) => o.kind === "ConfigMap" && platformWide(o)),
    );
    for (const store of DATA_STORE_NAMES) {
        const picked = take((o) => ownerOf(o, DATA_STORE_NAMES) === store);
        step(`2.1 ${store}`, picked, picked.filter(awaited));
    }
    // The users Jobs and PgBouncer: after the stores, before any service that logs in as its own user.
    // Each user's password Secret goes with them: the users Jobs read every one (an app's is also its own).
    const dataAccess = take(
        (o) =>
            o.metadata.labels?.app?.startsWith("database-users-") === true ||
            o.metadata.labels?.app === PGBOUNCER.name ||
            (o.kind === "Secret" && o.metadata.labels?.["app.kubernetes.io/component"] === "database-users"),
    );
    step("2.1 database users and PgBouncer", dataAccess, dataAccess.filter(awaited));
    // The backup before the migrations (its settings, volume and Job; its NetworkPolicy goes with the others).
    const backup = take(
        (o) =>
            o.kind !== "NetworkPolicy" &&
            (o.metadata.labels?.["app.kubernetes.io/component"] === "backup" || o.metadata.labels?.app === BACKUP_VOLUME),
    );
    step("2.2 backup before the migrations", backup, backup.filter(awaited));
    step(
        "2.2 storage",
        take((o) => o.kind === "PersistentVolumeClaim"),
    );
    step(
        "2.3 network policies",
        take((o) => o.kind === "NetworkPolicy"),
    );
    step(
        "2.3 ingress",
        take((o) => o.kind === "Ingress"),
    );
    const services: KubeObject[] = [];
    for (const app of apps) {
        const picked = take((o) => ownerOf(o, apps) === app);
        step(`3 ${app}`, picked);
        services.push(...picked.filter(awaited));
    }
    step("3.5 rollout status", [], services);
    const rest = take(() => true);
    step("5 monitoring and the rest", rest, rest.filter(awaited));
    return steps;
}
