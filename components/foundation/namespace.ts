import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

export interface PlatformNamespaceArgs {
    name: string;
    /** Protect the namespace from deletion: deleting it deletes every data store inside. */
    protect: boolean;
}

/** The platform namespace, admitting only pods that meet the Pod Security Standard "restricted". */
export class PlatformNamespace extends pulumi.ComponentResource {
    public readonly name: pulumi.Output<string>;

    constructor(name: string, args: PlatformNamespaceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("ultramarket:platform:PlatformNamespace", name, {}, opts);
        const ns = new k8s.core.v1.Namespace(
            name,
            {
                metadata: {
                    name: args.name,
                    labels: {
                        "app.kubernetes.io/part-of": "ultramarket",
                        "app.kubernetes.io/managed-by": "pulumi",
                        "pod-security.kubernetes.io/enforce": "restricted",
                        "pod-security.kubernetes.io/enforce-version": "latest",
                        "pod-security.kubernetes.io/audit": "restricted",
                        "pod-security.kubernetes.io/warn": "restricted",
                    },
                },
            },
            { parent: this, protect: args.protect },
        );
        this.name = ns.metadata.name;
        this.registerOutputs({ name: this.name });
    }
}
