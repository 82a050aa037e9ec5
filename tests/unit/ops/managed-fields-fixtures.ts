// Live objects shaped like `kubectl get -o json` on the local control plane: metadata.managedFields as the API
// server records them after `pulumi up`, the controllers, and the drifts of the drift tests.
import type { LiveObject } from "../../../ops/drift/cluster";
import type { FieldSet, ManagedFieldsEntry } from "../../../ops/drift/managed-fields";

export const NS = "ultramarket-production";
export const PULUMI_MANAGER = "pulumi-kubernetes-4f2a1c9e";
const T0 = "2026-11-20T10:00:00Z";
const T1 = "2026-11-21T08:15:42Z";

const urn = (type: string, name: string) => `urn:pulumi:production::ultramarket::ultramarket:apps:Microservice$${type}::${name}`;

export function entry(manager: string, fieldsV1: FieldSet, extra: Partial<ManagedFieldsEntry> = {}): ManagedFieldsEntry {
    return { manager, operation: "Update", apiVersion: "apps/v1", time: T1, fieldsType: "FieldsV1", fieldsV1, ...extra };
}

const leaf = {};
const containerFields = (...extra: string[]): FieldSet =>
    Object.fromEntries([".", "f:image", "f:name", "f:resources", ...extra].map((k) => [k, leaf]));

/** The program's Deployment manifest for order-service (the resource's inputs in the state). */
export function orderServiceManifest(): Record<string, unknown> {
    return {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "order-service", namespace: NS, labels: { app: "order-service" } },
        spec: {
            replicas: 2,
            selector: { matchLabels: { app: "order-service" } },
            template: {
                metadata: { labels: { app: "order-service" } },
                spec: {
                    containers: [
                        {
                            name: "order-service",
                            image: "ultramarket/order-service:1.0.0",
                            env: [{ name: "NODE_ENV", value: "production" }],
                            ports: [{ name: "http", containerPort: 3007, protocol: "TCP" }],
                            resources: { requests: { cpu: "100m" } },
                            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
                        },
                    ],
                },
            },
        },
    };
}

/** Pulumi's server-side apply of the manifest above. */
export function pulumiApply(): ManagedFieldsEntry {
    return entry(
        PULUMI_MANAGER,
        {
            "f:metadata": { "f:labels": { "f:app": leaf } },
            "f:spec": {
                "f:replicas": leaf,
                "f:selector": leaf,
                "f:template": {
                    "f:metadata": { "f:labels": { "f:app": leaf } },
                    "f:spec": {
                        "f:containers": {
                            'k:{"name":"order-service"}': {
                                ...containerFields(),
                                "f:env": { 'k:{"name":"NODE_ENV"}': { ".": leaf, "f:name": leaf, "f:value": leaf } },
                                "f:ports": {
                                    'k:{"containerPort":3007,"protocol":"TCP"}': {
                                        ".": leaf,
                                        "f:containerPort": leaf,
                                        "f:name": leaf,
                                        "f:protocol": leaf,
                                    },
                                },
                                "f:securityContext": { "f:allowPrivilegeEscalation": leaf, "f:capabilities": { "f:drop": leaf } },
                            },
                        },
                    },
                },
            },
        },
        { operation: "Apply", time: T0 },
    );
}

/** What Kubernetes itself writes: the deployment controller's revision annotation and status. */
export function controllerWrites(): ManagedFieldsEntry[] {
    return [
        entry(
            "kube-controller-manager",
            { "f:metadata": { "f:annotations": { ".": leaf, "f:deployment.kubernetes.io/revision": leaf } } },
            { time: T0 },
        ),
        entry(
            "kube-controller-manager",
            {
                "f:status": {
                    "f:availableReplicas": leaf,
                    "f:conditions": { ".": leaf, 'k:{"type":"Available"}': { ".": leaf, "f:status": leaf } },
                    "f:replicas": leaf,
                },
            },
            { subresource: "status", time: T0 },
        ),
    ];
}

/** `kubectl set env deploy/order-service DEBUG_BACKDOOR=1` */
export const setEnvBackdoor = (): ManagedFieldsEntry =>
    entry("kubectl-set", {
        "f:spec": {
            "f:template": {
                "f:spec": {
                    "f:containers": {
                        'k:{"name":"order-service"}': {
                            "f:env": { 'k:{"name":"DEBUG_BACKDOOR"}': { ".": leaf, "f:name": leaf, "f:value": leaf } },
                        },
                    },
                },
            },
        },
    });

/** `kubectl patch` adding container port 9999. */
export const patchPort = (): ManagedFieldsEntry =>
    entry("kubectl-patch", {
        "f:spec": {
            "f:template": {
                "f:spec": {
                    "f:containers": {
                        'k:{"name":"order-service"}': {
                            "f:ports": {
                                'k:{"containerPort":9999,"protocol":"TCP"}': { ".": leaf, "f:containerPort": leaf, "f:protocol": leaf },
                            },
                        },
                    },
                },
            },
        },
    });

/** `kubectl patch` adding a sidecar, a hostPath volume mounted into the app, and the NET_ADMIN capability. */
export const patchSidecarVolumeCapability = (): ManagedFieldsEntry =>
    entry("kubectl-patch", {
        "f:spec": {
            "f:template": {
                "f:spec": {
                    "f:containers": {
                        'k:{"name":"debug-sidecar"}': containerFields("f:command"),
                        'k:{"name":"order-service"}': {
                            "f:securityContext": { "f:capabilities": { "f:add": leaf } },
                            "f:volumeMounts": { ".": leaf, 'k:{"mountPath":"/host"}': { ".": leaf, "f:mountPath": leaf, "f:name": leaf } },
                        },
                    },
                    "f:volumes": {
                        ".": leaf,
                        'k:{"name":"host-root"}': {
                            ".": leaf,
                            "f:hostPath": { ".": leaf, "f:path": leaf, "f:type": leaf },
                            "f:name": leaf,
                        },
                    },
                },
            },
        },
    });

/** `kubectl set image`: the image Pulumi set now belongs to kubectl-set. */
export const setImage = (): ManagedFieldsEntry =>
    entry("kubectl-set", {
        "f:spec": { "f:template": { "f:spec": { "f:containers": { 'k:{"name":"order-service"}': { "f:image": leaf } } } } },
    });

/** `kubectl scale --replicas=5` (what the HPA does through the scale subresource). */
export const scale = (manager = "kubectl"): ManagedFieldsEntry =>
    entry(manager, { "f:spec": { "f:replicas": leaf } }, { subresource: "scale" });

/** The order-service Deployment as read from the cluster, with the given drifts applied. */
export function liveOrderService(
    drifts: { backdoor?: boolean; port?: boolean; sidecar?: boolean; image?: boolean; replicas?: number } = {},
): LiveObject {
    const manifest = orderServiceManifest() as any;
    const container = manifest.spec.template.spec.containers[0];
    const managedFields = [pulumiApply(), ...controllerWrites()];
    if (drifts.backdoor) {
        container.env.push({ name: "DEBUG_BACKDOOR", value: "1" });
        managedFields.push(setEnvBackdoor());
    }
    if (drifts.port) {
        container.ports.push({ containerPort: 9999, protocol: "TCP" });
        managedFields.push(patchPort());
    }
    if (drifts.sidecar) {
        manifest.spec.template.spec.containers.unshift({
            name: "debug-sidecar",
            image: "busybox",
            command: ["sleep", "1d"],
            resources: {},
        });
        container.securityContext.capabilities.add = ["NET_ADMIN"];
        container.volumeMounts = [{ name: "host-root", mountPath: "/host" }];
        manifest.spec.template.spec.volumes = [{ name: "host-root", hostPath: { path: "/", type: "Directory" } }];
        managedFields.push(patchSidecarVolumeCapability());
    }
    if (drifts.image) {
        container.image = "evil/order-service:latest";
        managedFields[0] = pulumiApply();
        delete (managedFields[0].fieldsV1 as any)["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"order-service"}'][
            "f:image"
        ];
        managedFields.push(setImage());
    }
    if (drifts.replicas !== undefined) {
        manifest.spec.replicas = drifts.replicas;
        delete (managedFields[0].fieldsV1 as any)["f:spec"]["f:replicas"];
        managedFields.push(scale());
    }
    manifest.metadata.uid = "6b1f0c2e-0000-4000-8000-000000000001";
    manifest.metadata.annotations = { "deployment.kubernetes.io/revision": "1" };
    manifest.metadata.managedFields = managedFields;
    manifest.status = { replicas: manifest.spec.replicas, availableReplicas: manifest.spec.replicas };
    return manifest as LiveObject;
}

/** ultramarket-secrets after `kubectl edit`: one value changed, one key added. */
export function liveEditedSecret(): LiveObject {
    return {
        apiVersion: "v1",
        kind: "Secret",
        type: "Opaque",
        metadata: {
            name: "ultramarket-secrets",
            namespace: NS,
            managedFields: [
                entry(
                    PULUMI_MANAGER,
                    { "f:data": { ".": leaf, "f:JWT_SECRET": leaf, "f:POSTGRES_PASSWORD": leaf }, "f:type": leaf },
                    { operation: "Apply", apiVersion: "v1", time: T0 },
                ),
                entry("kubectl-edit", { "f:data": { "f:JWT_SECRET": leaf, "f:STOLEN_TOKEN": leaf } }, { apiVersion: "v1" }),
            ],
        },
        data: { JWT_SECRET: "c3VwZXItc2VjcmV0LWNoYW5nZWQ=", POSTGRES_PASSWORD: "cGFzc3dvcmQ=", STOLEN_TOKEN: "dG9rZW4=" },
    };
}

/** A resource of the stack's exported state for a live object (outputs as pulumi-kubernetes checkpoints them). */
export function stateResource(
    type: string,
    live: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } },
    inputs?: Record<string, unknown>,
) {
    return {
        urn: urn(type, live.metadata.name),
        type,
        custom: true,
        inputs: inputs ?? {
            apiVersion: live.apiVersion,
            kind: live.kind,
            metadata: { name: live.metadata.name, namespace: live.metadata.namespace },
        },
        outputs: {
            apiVersion: live.apiVersion,
            kind: live.kind,
            metadata: { name: live.metadata.name, namespace: live.metadata.namespace },
            __fieldManager: PULUMI_MANAGER,
        },
    };
}

export function orderServiceHpa(): Record<string, unknown> {
    return {
        apiVersion: "autoscaling/v2",
        kind: "HorizontalPodAutoscaler",
        metadata: { name: "order-service", namespace: NS },
        spec: { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "order-service" }, minReplicas: 2, maxReplicas: 10 },
    };
}

export { urn as stateUrn };
