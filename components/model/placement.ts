// Where a data store's pods may run: a nodeSelector and tolerations per store (`ultramarket:dataStorePlacement`,
// validated in config/placement.ts), applied to that store's StatefulSet pod template and to nothing else.
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

/** The pod spec fields of a placement; none at all when it is empty, so an unplaced store renders as before. */
export function podPlacementFields(placement: PodPlacement | undefined): Pick<PodPlacement, "nodeSelector" | "tolerations"> {
    const fields: PodPlacement = {};
    if (placement?.nodeSelector && Object.keys(placement.nodeSelector).length) fields.nodeSelector = { ...placement.nodeSelector };
    if (placement?.tolerations?.length) fields.tolerations = placement.tolerations.map((t) => ({ ...t }));
    return fields;
}
