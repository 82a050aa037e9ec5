import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { AppSpec } from "../model/catalog";
import { EXPORTER_PORT_NAME, ExporterSpec } from "./exporters";
import { appLabels, labels, selectorLabels } from "../model/labels";

/** The port name every app's Service exposes (health and metrics are served on it). */
export const METRICS_PORT_NAME = "http";

export interface ServiceMonitorsArgs {
    namespace: pulumi.Input<string>;
    apps: readonly AppSpec[];
    /** The data stores' exporters: each Service scraped on its metrics port (exporters.ts). */
    exporters?: readonly ExporterSpec[];
    /** kube-prometheus-stack selects ServiceMonitors labelled `release: <its Helm release name>`. */
    release: string;
    /** How often Prometheus scrapes each app. */
    interval?: string;
    /** What must exist first (the chart that installs the CRDs). */
    dependsOn?: pulumi.Resource[];
}

/** The ServiceMonitor spec for one app: its Service (by the shared selector labels), port "http", the catalog's metrics path. */
export function serviceMonitorSpec(app: AppSpec, interval = "30s") {
    return {
        selector: { matchLabels: selectorLabels(app.name) },
        endpoints: [{ port: METRICS_PORT_NAME, path: app.metricsPath, interval, scrapeTimeout: "10s" }],
    };
}

/** The ServiceMonitor spec for a data store's exporter: its Service, the metrics port, /metrics. */
export function exporterMonitorSpec(exporter: ExporterSpec, interval = "30s") {
    return {
        selector: { matchLabels: selectorLabels(exporter.name) },
        endpoints: [{ port: EXPORTER_PORT_NAME, path: "/metrics", interval, scrapeTimeout: "10s" }],
    };
}

/** One ServiceMonitor per app of the catalog, so Prometheus scrapes every app's metrics path. */
export class ServiceMonitors extends pulumi.ComponentResource {
    public readonly names: string[];

    constructor(name: string, args: ServiceMonitorsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("ultramarket:monitoring:ServiceMonitors", name, {}, opts);
        this.names = [];
        for (const app of args.apps) {
            new k8s.apiextensions.CustomResource(
                `${app.name}-monitor`,
                {
                    apiVersion: "monitoring.coreos.com/v1",
                    kind: "ServiceMonitor",
                    metadata: {
                        name: app.name,
                        namespace: args.namespace,
                        labels: { ...appLabels(app), release: args.release },
                    },
                    spec: serviceMonitorSpec(app, args.interval),
                },
                { parent: this, dependsOn: args.dependsOn },
            );
            this.names.push(app.name);
        }
        for (const exporter of args.exporters ?? []) {
            new k8s.apiextensions.CustomResource(
                `${exporter.name}-monitor`,
                {
                    apiVersion: "monitoring.coreos.com/v1",
                    kind: "ServiceMonitor",
                    metadata: {
                        name: exporter.name,
                        namespace: args.namespace,
                        labels: { ...labels(exporter.name, "monitoring"), release: args.release },
                    },
                    spec: exporterMonitorSpec(exporter, args.interval),
                },
                { parent: this, dependsOn: args.dependsOn },
            );
            this.names.push(exporter.name);
        }
        this.registerOutputs({ names: this.names });
    }
}
