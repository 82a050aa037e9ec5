// Shared view of Kubernetes objects as CrossGuard sees them: which resource types carry a pod
// template, how to reach it, and how to name an object in a violation message.
import * as k8s from "@pulumi/kubernetes";
import type { Unwrap } from "@pulumi/pulumi";
import type { PolicyResource, ResourceValidationArgs } from "@pulumi/policy";

export type PodSpec = Unwrap<k8s.types.input.core.v1.PodSpec>;
export type Container = Unwrap<k8s.types.input.core.v1.Container>;
export type SecurityContext = Unwrap<k8s.types.input.core.v1.SecurityContext>;
export type ObjectMeta = Unwrap<k8s.types.input.meta.v1.ObjectMeta>;
export type LabelSelector = Unwrap<k8s.types.input.meta.v1.LabelSelector>;
export type ResourceRequirements = Unwrap<k8s.types.input.core.v1.ResourceRequirements>;

/** Anything with a Pulumi type token (a resource class), e.g. `k8s.apps.v1.Deployment`. */
export interface ResourceClass {
    new (...rest: any[]): any;
}

/** How to find the pod template of each kind that runs pods. */
interface PodCarrier {
    cls: ResourceClass;
    kind: string;
    /** Long-running pods get probes and spread rules; Jobs and CronJobs run to completion. */
    longRunning: boolean;
    podSpec(props: any): PodSpec | undefined;
    podLabels(props: any): Record<string, string>;
}

const template = (props: any) => props?.spec?.template;

const POD_CARRIERS: PodCarrier[] = [
    {
        cls: k8s.apps.v1.Deployment,
        kind: "Deployment",
        longRunning: true,
        podSpec: (p) => template(p)?.spec,
        podLabels: (p) => template(p)?.metadata?.labels ?? {},
    },
    {
        cls: k8s.apps.v1.StatefulSet,
        kind: "StatefulSet",
        longRunning: true,
        podSpec: (p) => template(p)?.spec,
        podLabels: (p) => template(p)?.metadata?.labels ?? {},
    },
    {
        cls: k8s.apps.v1.DaemonSet,
        kind: "DaemonSet",
        longRunning: true,
        podSpec: (p) => template(p)?.spec,
        podLabels: (p) => template(p)?.metadata?.labels ?? {},
    },
    {
        cls: k8s.apps.v1.ReplicaSet,
        kind: "ReplicaSet",
        longRunning: true,
        podSpec: (p) => template(p)?.spec,
        podLabels: (p) => template(p)?.metadata?.labels ?? {},
    },
    { cls: k8s.core.v1.Pod, kind: "Pod", longRunning: true, podSpec: (p) => p?.spec, podLabels: (p) => p?.metadata?.labels ?? {} },
    {
        cls: k8s.batch.v1.Job,
        kind: "Job",
        longRunning: false,
        podSpec: (p) => template(p)?.spec,
        podLabels: (p) => template(p)?.metadata?.labels ?? {},
    },
    {
        cls: k8s.batch.v1.CronJob,
        kind: "CronJob",
        longRunning: false,
        podSpec: (p) => p?.spec?.jobTemplate?.spec?.template?.spec,
        podLabels: (p) => p?.spec?.jobTemplate?.spec?.template?.metadata?.labels ?? {},
    },
];

/** A resource that runs pods, reduced to what the policies look at. */
export interface Workload {
    kind: string;
    /** `Kind/namespace/name`, the way violation messages name the object. */
    ref: string;
    namespace: string;
    name: string;
    longRunning: boolean;
    metadata: ObjectMeta;
    podSpec: PodSpec;
    podLabels: Record<string, string>;
    /** The full props (inputs for resource policies, outputs for stack policies). */
    props: any;
}

/** Something typed like a Pulumi resource: resource-policy args or a stack-policy resource. */
type Typed = Pick<ResourceValidationArgs, "isType" | "props" | "name"> | Pick<PolicyResource, "isType" | "props" | "name">;

/** The namespace an object lands in when metadata.namespace is unset (the provider's default). */
export const DEFAULT_NAMESPACE = "default";

export function namespaceOf(props: any): string {
    return props?.metadata?.namespace || DEFAULT_NAMESPACE;
}

/** metadata.name, or the Pulumi resource name when the object is auto-named. */
export function nameOf(props: any, pulumiName: string): string {
    return props?.metadata?.name || pulumiName;
}

/** `Kind/namespace/name`: how every violation message names the object. */
export function refOf(kind: string, props: any, pulumiName: string): string {
    return `${kind}/${namespaceOf(props)}/${nameOf(props, pulumiName)}`;
}

/** Returns the workload view of a resource, or undefined when it does not run pods. */
export function asWorkload(resource: Typed): Workload | undefined {
    const carrier = POD_CARRIERS.find((c) => resource.isType(c.cls));
    if (!carrier) {
        return undefined;
    }
    const props = resource.props;
    return {
        kind: carrier.kind,
        ref: refOf(carrier.kind, props, resource.name),
        namespace: namespaceOf(props),
        name: nameOf(props, resource.name),
        longRunning: carrier.longRunning,
        metadata: props?.metadata ?? {},
        podSpec: carrier.podSpec(props) ?? ({} as PodSpec),
        podLabels: carrier.podLabels(props),
        props,
    };
}

export const WORKLOAD_KINDS = POD_CARRIERS.map((c) => c.kind);

/** A container of a pod spec with how to name it in a message. */
export interface NamedContainer {
    container: Container;
    /** e.g. `container "api"` or `init container "migrate"`. */
    label: string;
    init: boolean;
}

/** Regular and init containers (ephemeral debug containers are not part of a manifest we ship). */
export function containersOf(spec: PodSpec, opts: { includeInit?: boolean } = {}): NamedContainer[] {
    const includeInit = opts.includeInit ?? true;
    const init = includeInit
        ? (spec.initContainers ?? []).map((c) => ({ container: c, label: `init container "${c.name}"`, init: true }))
        : [];
    const main = (spec.containers ?? []).map((c) => ({ container: c, label: `container "${c.name}"`, init: false }));
    return [...init, ...main];
}

/** True when `selector` selects pods carrying `labels` (matchLabels and matchExpressions). */
export function selectorMatches(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
    if (!selector) {
        return false;
    }
    const matchLabels = selector.matchLabels ?? {};
    const expressions = selector.matchExpressions ?? [];
    if (Object.keys(matchLabels).length === 0 && expressions.length === 0) {
        return true; // the empty selector selects every pod
    }
    for (const [k, v] of Object.entries(matchLabels)) {
        if (labels[k] !== v) {
            return false;
        }
    }
    for (const e of expressions) {
        const has = Object.prototype.hasOwnProperty.call(labels, e.key);
        const values = e.values ?? [];
        switch (e.operator) {
            case "In":
                if (!has || !values.includes(labels[e.key])) {
                    return false;
                }
                break;
            case "NotIn":
                if (has && values.includes(labels[e.key])) {
                    return false;
                }
                break;
            case "Exists":
                if (!has) {
                    return false;
                }
                break;
            case "DoesNotExist":
                if (has) {
                    return false;
                }
                break;
            default:
                return false;
        }
    }
    return true;
}

/** `a=b, c=d` for messages. */
export function formatLabels(labels: Record<string, string>): string {
    const entries = Object.entries(labels);
    return entries.length === 0 ? "(no labels)" : entries.map(([k, v]) => `${k}=${v}`).join(", ");
}
