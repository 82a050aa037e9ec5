import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { labels } from "../model/labels";

export interface FileUploadsVolumeArgs {
    namespace: pulumi.Input<string>;
    storageClass?: string;
    size: string;
    accessMode: "ReadWriteMany" | "ReadWriteOnce";
    protect: boolean;
}

/** The runbook's phase 2.2 storage the StatefulSets don't cover: the file service's upload volume. */
export class FileUploadsVolume extends pulumi.ComponentResource {
    public readonly fileUploadsClaim: pulumi.Output<string>;

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
        this.registerOutputs({ fileUploadsClaim: this.fileUploadsClaim });
    }
}
