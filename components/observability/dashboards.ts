// The dashboards as Grafana ConfigMaps. Their JSON: platform-dashboard.ts and datastore-dashboard.ts (panel layout in
// dashboard-panels.ts), generated from the catalog: adding an app adds its panels.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { AppSpec, DataStoreName } from "../model/catalog";
import { labels } from "../model/labels";
import { dataStoresDashboard } from "./datastore-dashboard";
import { platformOverviewDashboard } from "./platform-dashboard";

export { dataStoresDashboard, platformOverviewDashboard };

export interface DashboardsArgs {
    /** Namespace of the ConfigMaps (the Grafana sidecar must search it: searchNamespace ALL or this one). */
    objectNamespace: pulumi.Input<string>;
    /** The platform namespace, as PromQL sees it. */
    namespace: string;
    apps: readonly AppSpec[];
    dataStores: readonly DataStoreName[];
    /** Show each store's own metrics (its exporter is scraped). */
    exporterMetrics?: boolean;
    /** What must exist first (the chart whose Grafana loads them). */
    dependsOn?: pulumi.Resource[];
}

/** The dashboards as ConfigMaps labelled `grafana_dashboard: "1"`, which Grafana's sidecar loads. */
export class Dashboards extends pulumi.ComponentResource {
    /** Dashboard uid -> its JSON, as stored in the ConfigMap. */
    public readonly json: Record<string, string> = {};

    constructor(name: string, args: DashboardsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("ultramarket:monitoring:Dashboards", name, {}, opts);
        for (const d of [
            platformOverviewDashboard(args.namespace, args.apps),
            dataStoresDashboard(args.namespace, args.dataStores, args.exporterMetrics),
        ]) {
            const json = JSON.stringify(d);
            this.json[d.uid] = json;
            new k8s.core.v1.ConfigMap(
                d.uid,
                {
                    metadata: {
                        name: `${d.uid}-dashboard`,
                        namespace: args.objectNamespace,
                        labels: { ...labels(d.uid, "monitoring"), grafana_dashboard: "1" },
                        annotations: { grafana_folder: "UltraMarket" },
                    },
                    data: { [`${d.uid}.json`]: json },
                },
                { parent: this, dependsOn: args.dependsOn },
            );
        }
        this.registerOutputs({});
    }
}
