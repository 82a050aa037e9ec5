// Rules that span resources (replicas vs HPA, PDB per Deployment, ServiceAccount tokens) and the
// production stack's data-safety rule for data stores.
import * as k8s from "@pulumi/kubernetes";
import { PolicyResource, ResourceValidationPolicy, StackValidationPolicy, validateResourceOfType } from "@pulumi/policy";
import { PolicyContext, productionStacksSchema, requireProductionStack } from "./lib/context";
import { asWorkload, formatLabels, namespaceOf, refOf, ResourceClass, selectorMatches, Workload } from "./lib/objects";

export const DEFAULT_MIN_REPLICAS = 2;
/**
 * A Deployment annotated with this (and a non-empty reason) runs one replica on purpose: e.g. a metrics exporter,
 * where a second replica would be a duplicate scrape target. It still needs its PodDisruptionBudget.
 */
export const SINGLE_REPLICA_ANNOTATION = "ultramarket.uz/single-replica";

/** Labels that mark a data-store StatefulSet (set by the program's labels helper). */
export const DATASTORE_LABEL = "app.kubernetes.io/component";
export const DATASTORE_VALUE = "datastore";

export interface MinReplicasConfig {
    minReplicas?: number;
}
export interface DataStoreConfig {
    datastoreLabel?: string;
    datastoreValue?: string;
}

const HPA_CLASSES: ResourceClass[] = [k8s.autoscaling.v2.HorizontalPodAutoscaler, k8s.autoscaling.v1.HorizontalPodAutoscaler];

function deploymentsOf(resources: PolicyResource[]): { resource: PolicyResource; workload: Workload }[] {
    return resources
        .map((resource) => ({ resource, workload: asWorkload(resource) }))
        .filter((d): d is { resource: PolicyResource; workload: Workload } => d.workload?.kind === "Deployment");
}

/** The HPA scaling this Deployment (same namespace, scaleTargetRef kind Deployment and name). */
function hpaFor(resources: PolicyResource[], d: Workload): PolicyResource | undefined {
    return resources.find(
        (r) =>
            HPA_CLASSES.some((c) => r.isType(c)) &&
            namespaceOf(r.props) === d.namespace &&
            r.props?.spec?.scaleTargetRef?.kind === "Deployment" &&
            r.props?.spec?.scaleTargetRef?.name === d.name,
    );
}

export function productionPolicies(ctx: PolicyContext): (ResourceValidationPolicy | StackValidationPolicy)[] {
    return [
        {
            name: "production-min-replicas",
            description: `In the production stack every Deployment runs at least 2 replicas, or is scaled by an HPA whose minReplicas is at least 2, unless its ${SINGLE_REPLICA_ANNOTATION} annotation says why it runs one.`,
            enforcementLevel: "mandatory",
            configSchema: {
                properties: {
                    ...productionStacksSchema,
                    minReplicas: { type: "integer", default: DEFAULT_MIN_REPLICAS, description: "Smallest allowed replica count." },
                },
            },
            validateStack: (args, report) => {
                requireProductionStack(args, ctx);
                const min = args.getConfig<MinReplicasConfig>().minReplicas ?? DEFAULT_MIN_REPLICAS;
                for (const { resource, workload: d } of deploymentsOf(args.resources)) {
                    if (String(d.props?.metadata?.annotations?.[SINGLE_REPLICA_ANNOTATION] ?? "").trim() !== "") {
                        continue;
                    }
                    const hpa = hpaFor(args.resources, d);
                    if (hpa) {
                        const hpaMin = hpa.props?.spec?.minReplicas ?? 1;
                        if (hpaMin < min) {
                            report(
                                `${d.ref}: its HorizontalPodAutoscaler ${refOf("HorizontalPodAutoscaler", hpa.props, hpa.name)} has minReplicas ${hpaMin}; production needs at least ${min} (set minReplicas: ${min}).`,
                                resource.urn,
                            );
                        }
                        continue;
                    }
                    const replicas = d.props?.spec?.replicas ?? 1;
                    if (replicas < min) {
                        report(
                            `${d.ref}: runs ${replicas} replica(s) and no HorizontalPodAutoscaler targets it; production needs at least ${min} (set spec.replicas: ${min} or add an HPA with minReplicas: ${min}).`,
                            resource.urn,
                        );
                    }
                }
            },
        },
        {
            name: "production-pdb-per-deployment",
            description: "In the production stack every Deployment has a PodDisruptionBudget selecting its pods.",
            enforcementLevel: "mandatory",
            configSchema: { properties: { ...productionStacksSchema } },
            validateStack: (args, report) => {
                requireProductionStack(args, ctx);
                const pdbs = args.resources.filter((r) => r.isType(k8s.policy.v1.PodDisruptionBudget));
                for (const { resource, workload: d } of deploymentsOf(args.resources)) {
                    const covered = pdbs.some(
                        (p) => namespaceOf(p.props) === d.namespace && selectorMatches(p.props?.spec?.selector, d.podLabels),
                    );
                    if (!covered) {
                        report(
                            `${d.ref}: no PodDisruptionBudget selects its pods (${formatLabels(d.podLabels)}); add a policy/v1 PodDisruptionBudget in ${d.namespace} with that selector and maxUnavailable: 1.`,
                            resource.urn,
                        );
                    }
                }
            },
        },
        {
            name: "production-protected-datastores",
            description: `In the production stack data-store StatefulSets (labelled ${DATASTORE_LABEL}=${DATASTORE_VALUE}) are protected from deletion: Pulumi protect, persistent volumes, PVC retention policy Retain.`,
            enforcementLevel: "mandatory",
            configSchema: {
                properties: {
                    ...productionStacksSchema,
                    datastoreLabel: { type: "string", default: DATASTORE_LABEL, description: "Label key marking a data store." },
                    datastoreValue: { type: "string", default: DATASTORE_VALUE, description: "Value of that label." },
                },
            },
            validateResource: validateResourceOfType(k8s.apps.v1.StatefulSet, (sts, args, report) => {
                requireProductionStack(args, ctx);
                const cfg = args.getConfig<DataStoreConfig>();
                const label = cfg.datastoreLabel ?? DATASTORE_LABEL;
                const value = cfg.datastoreValue ?? DATASTORE_VALUE;
                const labels = { ...(sts.spec?.template?.metadata?.labels ?? {}), ...(sts.metadata?.labels ?? {}) };
                if (labels[label] !== value) {
                    return args.notApplicable(`not a data store (no ${label}=${value} label)`);
                }
                const ref = refOf("StatefulSet", sts, args.name);
                if (args.opts?.protect !== true) {
                    report(`${ref}: the data store is not protected; create it with the Pulumi resource option protect: true.`);
                }
                const retention = sts.spec?.persistentVolumeClaimRetentionPolicy ?? {};
                for (const field of ["whenDeleted", "whenScaled"] as const) {
                    // Unset means Retain (the API default); only Delete throws data away.
                    if (retention[field] === "Delete") {
                        report(
                            `${ref}: persistentVolumeClaimRetentionPolicy.${field} is Delete; set it to Retain so the volumes outlive the StatefulSet.`,
                        );
                    }
                }
                const hasClaims =
                    (sts.spec?.volumeClaimTemplates ?? []).length > 0 ||
                    (sts.spec?.template?.spec?.volumes ?? []).some((v) => v.persistentVolumeClaim !== undefined);
                if (!hasClaims) {
                    report(`${ref}: the data store keeps its data on no persistent volume; add spec.volumeClaimTemplates.`);
                }
            }),
        },
        {
            name: "no-service-account-token-automount",
            description:
                "Pods should not mount a ServiceAccount token unless they call the Kubernetes API (automountServiceAccountToken: false on the pod or its ServiceAccount).",
            enforcementLevel: "advisory",
            validateStack: (args, report) => {
                const accounts = args.resources.filter((r) => r.isType(k8s.core.v1.ServiceAccount));
                for (const r of args.resources) {
                    const w = asWorkload(r);
                    if (!w) {
                        continue;
                    }
                    const saName = w.podSpec.serviceAccountName ?? w.podSpec.serviceAccount ?? "default";
                    const sa = accounts.find((a) => namespaceOf(a.props) === w.namespace && (a.props?.metadata?.name ?? a.name) === saName);
                    const mounted = w.podSpec.automountServiceAccountToken ?? sa?.props?.automountServiceAccountToken ?? true;
                    if (mounted !== false) {
                        report(
                            `${w.ref}: pods mount the token of ServiceAccount ${w.namespace}/${saName}; set automountServiceAccountToken: false on the pod spec (or on the ServiceAccount) unless it calls the Kubernetes API.`,
                            r.urn,
                        );
                    }
                }
            },
        },
    ];
}
