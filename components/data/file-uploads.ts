import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { labels } from "../model/labels";

export type FileUploadsAccessMode = "ReadWriteMany" | "ReadWriteOnce";

export interface FileUploadsVolumeArgs {
    namespace: pulumi.Input<string>;
    /** A ReadWriteMany claim always names its class (config/rules.ts refuses the cluster default's). */
    storageClass?: string;
    size: string;
    accessMode: FileUploadsAccessMode;
    protect: boolean;
}

/** The upload claim as the file service mounts it. */
export interface FileUploadsMount {
    claim: pulumi.Input<string>;
    /** ReadWriteOnce: the volume attaches to one node, so every pod that mounts it is placed on that node. */
    accessMode: FileUploadsAccessMode;
}

/** The pod label of every pod that mounts a ReadWriteOnce upload volume (file-service's, and a migration's if it had one). */
export const UPLOADS_MOUNT_LABEL = { "ultramarket.uz/uploads-volume": "mounted" } as const;

/**
 * A ReadWriteOnce volume attaches to one node at a time: a second pod elsewhere never starts (Multi-Attach), and a
 * rolling update with maxUnavailable 0 would wait for it forever. So each pod that mounts it must run where the others
 * already do (the first one, matching its own term, may go anywhere): replicas and rollouts share the volume's node.
 */
export function onTheUploadsNode() {
    return {
        podAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: [
                { topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: { ...UPLOADS_MOUNT_LABEL } } },
            ],
        },
    };
}

/** The runbook's phase 2.2 storage the StatefulSets don't cover: the file service's upload volume. */
export class FileUploadsVolume extends pulumi.ComponentResource {
    public readonly fileUploadsClaim: pulumi.Output<string>;
    public readonly mount: FileUploadsMount;

    constructor(name: string, args: FileUploadsVolumeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("ultramarket:data:SharedStorage", name, {}, opts);
        const pvc = new k8s.core.v1.PersistentVolumeClaim(
            "file-uploads",
            {
                metadata: {
                    name: "file-uploads",
                    namespace: args.namespace,
                    labels: labels("file-uploads", "storage"),
                    // A WaitForFirstConsumer class binds only once file-service mounts it; its rollout is what we await.
                    annotations: { "pulumi.com/skipAwait": "true" },
                },
                spec: {
                    accessModes: [args.accessMode],
                    storageClassName: args.storageClass,
                    resources: { requests: { storage: args.size } },
                },
            },
            { parent: this, protect: args.protect },
        );
        this.fileUploadsClaim = pvc.metadata.name;
        this.mount = { claim: this.fileUploadsClaim, accessMode: args.accessMode };
        this.registerOutputs({ fileUploadsClaim: this.fileUploadsClaim });
    }
}
