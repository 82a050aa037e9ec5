// Where pods may run: a nodeSelector and tolerations per data store (`ultramarket:dataStorePlacement`: the store's
// StatefulSet) and per workload (`ultramarket:workloadPlacement`: an app's Deployment and migration Job, or one of
// PLATFORM_WORKLOADS), validated in config/placement.ts. A pod without an entry keeps its spec as before.
import { DataStoreName } from "./catalog";

export const DATA_STORES: readonly DataStoreName[] = ["postgres", "mongodb", "redis", "elasticsearch"];

export const TOLERATION_OPERATORS = ["Equal", "Exists"] as const;
export const TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"] as const;

export interface Toleration {
    key: string;
    operator: (typeof TOLERATION_OPERATORS)[number];
    /** Only with `Equal` (an `Exists` toleration matches any value). */
    value?: string;
    /** Unset: every effect of that taint. */
    effect?: (typeof TAINT_EFFECTS)[number];
    /** Only with `NoExecute`: how long the pod stays bound after such a taint appears. */
    tolerationSeconds?: number;
}

export interface PodPlacement {
    /** Node label -> value; the pod runs only on nodes carrying every one. */
    nodeSelector?: Record<string, string>;
    tolerations?: Toleration[];
}

export type DataStorePlacement = Partial<Record<DataStoreName, PodPlacement>>;

/**
 * The workloads besides the apps that `ultramarket:workloadPlacement` may place, by their Kubernetes names: PgBouncer,
 * each store's exporter, the users Jobs (which run their store's image and client) and the backup Job (which runs
 * every store's image it dumps).
 */
export const PLATFORM_WORKLOADS = [
    "pgbouncer",
    "postgres-exporter",
    "mongodb-exporter",
    "redis-exporter",
    "elasticsearch-exporter",
    "database-users-postgres",
    "database-users-mongodb",
    "database-users-elasticsearch",
    "database-backup",
] as const;

/** Workload name (an app of the catalog or one of PLATFORM_WORKLOADS) -> its placement. */
export type WorkloadPlacement = Record<string, PodPlacement>;

/** The pod spec fields of a placement; none at all when it is empty, so an unplaced store renders as before. */
export function podPlacementFields(placement: PodPlacement | undefined): Pick<PodPlacement, "nodeSelector" | "tolerations"> {
    const fields: PodPlacement = {};
    if (placement?.nodeSelector && Object.keys(placement.nodeSelector).length) fields.nodeSelector = { ...placement.nodeSelector };
    if (placement?.tolerations?.length) fields.tolerations = placement.tolerations.map((t) => ({ ...t }));
    return fields;
}
