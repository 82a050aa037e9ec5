import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { chartRelease } from "../foundation/helm";
import * as random from "@pulumi/random";
import { AppSpec, DataStoreName } from "../model/catalog";
import { AlertRules } from "./alerts";
import { Dashboards } from "./dashboards";
import { ExporterSpec } from "./exporters";
import { ServiceMonitors } from "./service-monitors";

export interface MonitoringArgs {
    /** The platform namespace as an output (objects wait for it) and as PromQL sees it. */
    namespace: pulumi.Input<string>;
    namespaceName: string;
    apps: readonly AppSpec[];
    dataStores: readonly DataStoreName[];
    /** The data stores' exporters (exporters.ts): scraped, alerted on and graphed with their stores. */
    exporters?: readonly ExporterSpec[];
    /** The cluster already runs the Prometheus Operator (its CRDs exist). */
    prometheusOperator: boolean;
    /** kube-prometheus-stack's Helm release name: its rule and monitor selectors match `release: <name>`. */
    release: string;
    /** Install kube-prometheus-stack from this chart into monitoringNamespace. */
    install: boolean;
    chart: { repo: string; version: string };
    monitoringNamespace: string;
    runbookBaseUrl: string;
}

/** What is said when monitoring objects are skipped; names the keys that change it. */
export const OPERATOR_ABSENT_WARNING =
    "Monitoring is skipped: ultramarket:prometheusOperator is false and ultramarket:installMonitoringStack is false, so no " +
    "PrometheusRule, ServiceMonitor or Grafana dashboard is created (their CRDs would be missing). Install the Prometheus " +
    "Operator and run `pulumi config set prometheusOperator true`, or let this program install kube-prometheus-stack: " +
    "`pulumi config set installMonitoringStack true`.";

/**
 * Alerts, scraping and dashboards for the platform, and optionally kube-prometheus-stack itself.
 * The operator's objects are created only when its CRDs can exist; otherwise the program says so.
 */
export class Monitoring extends pulumi.ComponentResource {
    public readonly enabled: boolean;
    public readonly warnings: string[] = [];
    public readonly stack?: k8s.helm.v3.Release;
    public readonly alertRules?: AlertRules;
    public readonly serviceMonitors?: ServiceMonitors;
    public readonly dashboards?: Dashboards;

    constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
        super("ultramarket:monitoring:Monitoring", name, {}, opts);
        this.enabled = args.prometheusOperator || args.install;
        if (!this.enabled) {
            this.warnings.push(OPERATOR_ABSENT_WARNING);
            void pulumi.log.warn(OPERATOR_ABSENT_WARNING, this);
            this.registerOutputs({ enabled: false });
            return;
        }

        if (args.install) {
            // kube-prometheus-stack's Grafana otherwise starts with the chart's well-known admin password.
            const grafanaAdmin = new random.RandomPassword("grafana-admin-password", { length: 32, special: false }, { parent: this });
            this.stack = chartRelease(
                "monitoring-stack",
                {
                    chart: "kube-prometheus-stack",
                    releaseName: args.release,
                    source: args.chart,
                    namespace: args.monitoringNamespace,
                    values: {
                        grafana: {
                            adminPassword: grafanaAdmin.result,
                            // Our dashboards live in the platform namespace, next to what they show.
                            sidecar: {
                                dashboards: {
                                    enabled: true,
                                    label: "grafana_dashboard",
                                    labelValue: "1",
                                    searchNamespace: "ALL",
                                    folderAnnotation: "grafana_folder",
                                    provider: { foldersFromFilesStructure: true },
                                },
                            },
                        },
                    },
                },
                { parent: this },
            );
        }

        // With the install on, the CRDs arrive with the chart: the operator's objects wait for it.
        const dependsOn = this.stack ? [this.stack] : [];
        const child: pulumi.ComponentResourceOptions = { parent: this };
        this.alertRules = new AlertRules(
            "alert-rules",
            {
                objectNamespace: args.namespace,
                namespace: args.namespaceName,
                services: args.apps.map((a) => a.name),
                dataStores: args.dataStores,
                exporters: args.exporters,
                runbookBaseUrl: args.runbookBaseUrl,
                release: args.release,
                dependsOn,
            },
            child,
        );
        this.serviceMonitors = new ServiceMonitors(
            "service-monitors",
            { namespace: args.namespace, apps: args.apps, exporters: args.exporters, release: args.release, dependsOn },
            child,
        );
        this.dashboards = new Dashboards(
            "dashboards",
            {
                objectNamespace: args.namespace,
                namespace: args.namespaceName,
                apps: args.apps,
                dataStores: args.dataStores,
                exporterMetrics: (args.exporters ?? []).length > 0,
                dependsOn,
            },
            child,
        );
        this.registerOutputs({ enabled: true });
    }
}
