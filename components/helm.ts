import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

export interface ChartSource {
    repo: string;
    version: string;
}

/** An optional cluster add-on installed from a pinned chart, released under the chart's own name unless told otherwise. */
export function chartRelease(
    name: string,
    args: { chart: string; source: ChartSource; namespace: string; values: pulumi.Input<Record<string, unknown>>; releaseName?: string },
    opts: pulumi.CustomResourceOptions,
): k8s.helm.v3.Release {
    return new k8s.helm.v3.Release(
        name,
        {
            name: args.releaseName ?? args.chart,
            chart: args.chart,
            version: args.source.version,
            repositoryOpts: { repo: args.source.repo },
            namespace: args.namespace,
            createNamespace: true,
            values: args.values,
        },
        opts,
    );
}
