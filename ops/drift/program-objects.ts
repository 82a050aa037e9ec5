// The Kubernetes objects a stack owns, from its exported state (`stack.exportStack()`): each resource's outputs
// carry the live object's apiVersion, kind, metadata.name/namespace and Pulumi's field manager (`__fieldManager`);
// its inputs are the manifest the program applies.

/** Where an object lives in the cluster. */
export interface ObjectRef {
    apiVersion: string;
    kind: string;
    name: string;
    namespace?: string;
}

export interface ProgramObject extends ObjectRef {
    urn: string;
    /** The Pulumi type token, e.g. kubernetes:apps/v1:Deployment. */
    type: string;
    /** Pulumi's server-side apply field manager for this object (`pulumi-kubernetes-<random>`). */
    fieldManager?: string;
    /** The manifest the program applies (the resource's inputs; secret values stay encrypted). */
    manifest?: Record<string, unknown>;
}

interface StateResource {
    urn?: string;
    type?: string;
    custom?: boolean;
    external?: boolean;
    delete?: boolean;
    inputs?: Record<string, unknown>;
    outputs?: Record<string, unknown>;
}

/** The custom Kubernetes resources of an exported deployment that are real objects (not Helm releases or providers). */
export function programObjects(exported: { deployment?: unknown }): { objects: ProgramObject[]; unreadable: string[] } {
    const resources = (exported.deployment as { resources?: StateResource[] } | undefined)?.resources ?? [];
    const objects: ProgramObject[] = [];
    const unreadable: string[] = [];
    for (const r of resources) {
        if (!r.urn || !r.type?.startsWith("kubernetes:") || r.custom === false || r.external || r.delete) continue;
        if (r.type.startsWith("kubernetes:helm.sh/")) continue; // a Helm release is not one object; its objects belong to Helm
        const out = r.outputs ?? {};
        const meta = (out.metadata ?? {}) as Record<string, unknown>;
        if (typeof out.apiVersion !== "string" || typeof out.kind !== "string" || typeof meta.name !== "string") {
            unreadable.push(r.urn);
            continue;
        }
        objects.push({
            urn: r.urn,
            type: r.type,
            apiVersion: out.apiVersion,
            kind: out.kind,
            name: meta.name,
            namespace: typeof meta.namespace === "string" && meta.namespace !== "" ? meta.namespace : undefined,
            fieldManager: typeof out.__fieldManager === "string" ? out.__fieldManager : undefined,
            manifest: r.inputs ?? (out.__inputs as Record<string, unknown> | undefined),
        });
    }
    return { objects, unreadable };
}

/** `Kind namespace/name` for reports. */
export function describeObject(o: ObjectRef): string {
    return `${o.kind} ${o.namespace ? `${o.namespace}/` : ""}${o.name}`;
}

/** A stable key for an object: group, kind, namespace and name (the version may differ between state and cluster). */
export function objectKey(o: ObjectRef): string {
    const group = o.apiVersion.includes("/") ? o.apiVersion.split("/")[0] : "";
    return `${group}/${o.kind}/${o.namespace ?? ""}/${o.name}`;
}

/** Keys of the objects the program's HorizontalPodAutoscalers scale (their `spec.replicas` is the HPA's). */
export function hpaTargets(objects: readonly ProgramObject[]): Set<string> {
    const targets = new Set<string>();
    for (const o of objects) {
        if (o.kind !== "HorizontalPodAutoscaler") continue;
        const ref = ((o.manifest?.spec ?? {}) as { scaleTargetRef?: { apiVersion?: string; kind?: string; name?: string } }).scaleTargetRef;
        if (ref?.kind && ref.name)
            targets.add(objectKey({ apiVersion: ref.apiVersion ?? "apps/v1", kind: ref.kind, name: ref.name, namespace: o.namespace }));
    }
    return targets;
}
