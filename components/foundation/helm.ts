import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

export interface ChartSource {
    /** An https:// chart repository, or an oci:// registry path the chart sits under. */
    repo: string;
    version: string;
}

/** An optional cluster add-on installed from a pinned chart, released under the chart's own name unless told otherwise. */
export function chartRelease(
    name: string,
    args: { chart: string; source: ChartSource; namespace: string; values: pulumi.Input<Record<string, unknown>>; releaseName?: string },
    opts: pulumi.CustomResourceOptions,
): k8s.helm.v3.Release {
    // helm.v3.Release pulls OCI charts by full reference (pulumi-kubernetes#1892); repositoryOpts is for https repositories.
    const oci = args.source.repo.startsWith("oci://");
    return new k8s.helm.v3.Release(
        name,
        {
            name: args.releaseName ?? args.chart,
            chart: oci ? `${args.source.repo.replace(/\/+$/, "")}/${args.chart}` : args.chart,
            version: args.source.version,
            repositoryOpts: oci ? undefined : { repo: args.source.repo },
            namespace: args.namespace,
            createNamespace: true,
            values: args.values,
        },
        opts,
    );
}
