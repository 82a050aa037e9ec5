import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { DataStoreName } from "../model/catalog";
import { dataStoreAlerts } from "./datastore-alerts";
import { labels } from "../model/labels";
import {
    appRequests,
    BURN_RATE_ALERTS,
    BURN_RATE_WINDOWS,
    inNamespace,
    METRICS,
    RECORDED,
    SLO_OBJECTIVE,
    SUCCESS_CRITERIA,
} from "../model/slo";

export type Severity = "critical" | "warning";

export interface AlertRule {
    alert: string;
    expr: string;
    for: string;
    labels: { severity: Severity } & Record<string, string>;
    annotations: { summary: string; description: string; runbook_url: string };
}
export interface RecordingRule {
    record: string;
    expr: string;
}
export interface RuleGroup {
    name: string;
    rules: (AlertRule | RecordingRule)[];
}

export interface AlertRuleOptions {
    /** The platform namespace, as PromQL sees it (every expression is scoped to it). */
    namespace: string;
    /** The deployed apps' Service names: a service with no scrape target at all is down too. */
    services: readonly string[];
    dataStores: readonly DataStoreName[];
    /** Where the runbook lives; each alert links to `<base>#<alert name in lower case>`. */
    runbookBaseUrl: string;
    /** The data stores' exporters (exporters.ts): alerts on each store's own metrics; they are not app services. */
    exporters?: readonly { name: string; store: DataStoreName }[];
}

const pct = (ratio: number) => `${+(ratio * 100).toFixed(3)} %`;

/** The alerting and recording rules, as plain data (what the PrometheusRule's spec.groups holds). */
export function alertRuleGroups(o: AlertRuleOptions): RuleGroup[] {
    const ns = o.namespace;
    const runbook = (alert: string) => `${o.runbookBaseUrl}#${alert.toLowerCase()}`;
    const rule = (
        alert: string,
        severity: Severity,
        expr: string,
        forDuration: string,
        summary: string,
        description: string,
        extra: Record<string, string> = {},
    ): AlertRule => ({
        alert,
        expr,
        for: forDuration,
        labels: { severity, ...extra },
        annotations: { summary, description, runbook_url: runbook(alert) },
    });
    const requests = (...m: string[]) => `${METRICS.requests}${appRequests(ns, ...m)}`;
    const errors5xx = `${METRICS.status}=~"5.."`;
    const bySvc = "sum by (namespace, service)";
    const stores = o.dataStores.join("|");
    const exporters = o.exporters ?? [];
    // An exporter is not an app: DataStoreExporterDown watches it, at its own severity.
    const appTargets = exporters.length ? [`service!~"${exporters.map((e) => e.name).join("|")}"`] : [];

    const recording: RuleGroup = {
        name: "ultramarket.recording",
        rules: [
            { record: RECORDED.requestRate, expr: `${bySvc} (rate(${requests()}[5m]))` },
            ...BURN_RATE_WINDOWS.map((w) => ({
                record: RECORDED.errorRatio(w),
                expr: `${bySvc} (rate(${requests(errors5xx)}[${w}])) / ${bySvc} (rate(${requests()}[${w}]))`,
            })),
            {
                record: RECORDED.latencyP95,
                expr: `histogram_quantile(0.95, sum by (namespace, service, le) (rate(${METRICS.duration}_bucket${appRequests(ns)}[5m])))`,
            },
        ],
    };

    const latencyS = SUCCESS_CRITERIA.latencyP95Ms / 1000;
    const service: RuleGroup = {
        // The runbook's group name; its two alerts keep their thresholds, scoped to the platform and per service.
        name: "ultramarket-alerts",
        rules: [
            rule(
                "HighErrorRate",
                "critical",
                `${bySvc} (rate(${requests(errors5xx)}[5m])) > 0.1`,
                "2m",
                "High error rate detected",
                // printf, not humanize: humanize writes 0.2/s as "200m", which reads as 200 million.
                '{{ $labels.service }} answers {{ $value | printf "%.2f" }} 5xx responses per second (runbook threshold: 0.1/s for 2 minutes).',
            ),
            rule(
                "ServiceDown",
                "critical",
                // Down = no target of the service answers, or it has no target left (absent() keeps the service label).
                [
                    `sum by (namespace, service) (up${inNamespace(ns, ...appTargets)}) == 0`,
                    ...o.services.map((s) => `absent(up${inNamespace(ns, `service="${s}"`)})`),
                ].join(" or "),
                "1m",
                "Service is down",
                "Service {{ $labels.service }} is down: Prometheus has scraped none of its pods for 1 minute.",
            ),
            rule(
                "HighLatencyP95",
                "warning",
                `${RECORDED.latencyP95}${inNamespace(ns)} > ${latencyS}`,
                "5m",
                `p95 latency above ${SUCCESS_CRITERIA.latencyP95Ms} ms`,
                `{{ $labels.service }} answers 95 % of requests in {{ $value | humanizeDuration }}; the success criterion is < ${SUCCESS_CRITERIA.latencyP95Ms} ms.`,
            ),
            rule(
                "ThroughputDrop",
                "warning",
                // Only against a week ago with real traffic, so quiet nights and new installs stay silent.
                `sum by (namespace) (${RECORDED.requestRate}${inNamespace(ns)}) < 0.5 * sum by (namespace) (${RECORDED.requestRate}${inNamespace(ns)} offset 1w)` +
                    ` and sum by (namespace) (${RECORDED.requestRate}${inNamespace(ns)} offset 1w) > 1`,
                "15m",
                "Platform throughput dropped by more than half",
                "The platform serves {{ $value | humanize }} req/s, less than half of the same time last week: check the gateway, the ingress and upstream traffic.",
            ),
        ],
    };

    const slo: RuleGroup = {
        name: "ultramarket-slo",
        rules: BURN_RATE_ALERTS.map((b) => {
            const threshold = `(${b.factor} * ${SUCCESS_CRITERIA.errorBudget})`;
            return rule(
                b.alert,
                b.severity,
                `${RECORDED.errorRatio(b.long)}${inNamespace(ns)} > ${threshold} and ${RECORDED.errorRatio(b.short)}${inNamespace(ns)} > ${threshold}`,
                b.for,
                `{{ $labels.service }} is burning its error budget ${b.factor}x too fast`,
                `{{ $labels.service }} fails {{ $value | humanizePercentage }} of requests over ${b.long} (and over ${b.short}); at this rate it spends ${b.budgetSpent} of its ${pct(SLO_OBJECTIVE)} availability SLO (${b.action}).`,
                { slo: "availability", window: `${b.long}/${b.short}` },
            );
        }),
    };

    const infrastructure: RuleGroup = {
        name: "ultramarket-infrastructure",
        rules: [
            rule(
                "PodCrashLooping",
                "warning",
                `max_over_time(kube_pod_container_status_waiting_reason${inNamespace(ns, 'reason="CrashLoopBackOff"')}[5m]) >= 1`,
                "15m",
                "Pod is crash looping",
                "Container {{ $labels.container }} of pod {{ $labels.pod }} has been in CrashLoopBackOff for 15 minutes: check its logs (kubectl logs --previous).",
            ),
            rule(
                "DataStoreDown",
                "critical",
                `kube_statefulset_status_replicas_ready${inNamespace(ns, `statefulset=~"${stores}"`)} == 0`,
                "2m",
                "Data store is down",
                "No replica of {{ $labels.statefulset }} has been ready for 2 minutes (its readiness probe is the runbook's connection check): the services using it fail.",
            ),
            rule(
                "VolumeFillingUp",
                "warning",
                `kubelet_volume_stats_available_bytes${inNamespace(ns)} / kubelet_volume_stats_capacity_bytes${inNamespace(ns)} < 0.15` +
                    ` and predict_linear(kubelet_volume_stats_available_bytes${inNamespace(ns)}[6h], 4 * 24 * 3600) < 0`,
                "1h",
                "Volume is filling up",
                "Volume {{ $labels.persistentvolumeclaim }} has {{ $value | humanizePercentage }} free and will be full within 4 days at the current rate.",
            ),
            rule(
                "VolumeAlmostFull",
                "critical",
                `kubelet_volume_stats_available_bytes${inNamespace(ns)} / kubelet_volume_stats_capacity_bytes${inNamespace(ns)} < 0.03`,
                "5m",
                "Volume is almost full",
                "Volume {{ $labels.persistentvolumeclaim }} has only {{ $value | humanizePercentage }} free: expand it now.",
            ),
        ],
    };

    const dataStores: RuleGroup = {
        name: "ultramarket-data-stores",
        rules: dataStoreAlerts(
            ns,
            exporters.map((e) => e.store),
        ).map((a) =>
            rule(a.alert, a.severity, a.expr, a.for, a.summary, a.description, { store: a.stores.length === 1 ? a.stores[0] : "any" }),
        ),
    };

    return [recording, service, slo, infrastructure, ...(exporters.length ? [dataStores] : [])];
}

export interface AlertRulesArgs extends AlertRuleOptions {
    /** The namespace the PrometheusRule object lives in (an output, so it waits for the namespace). */
    objectNamespace: pulumi.Input<string>;
    /** kube-prometheus-stack loads rules labelled `release: <its Helm release name>`. */
    release: string;
    /** What must exist first (the chart that installs the CRDs); a component's dependsOn does not reach its children. */
    dependsOn?: pulumi.Resource[];
}

/** The platform's alerting and recording rules as one PrometheusRule (monitoring.coreos.com/v1). */
export class AlertRules extends pulumi.ComponentResource {
    public readonly groups: RuleGroup[];

    constructor(name: string, args: AlertRulesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("ultramarket:monitoring:AlertRules", name, {}, opts);
        this.groups = alertRuleGroups(args);
        new k8s.apiextensions.CustomResource(
            "ultramarket-alerts",
            {
                apiVersion: "monitoring.coreos.com/v1",
                kind: "PrometheusRule",
                metadata: {
                    name: "ultramarket-alerts",
                    namespace: args.objectNamespace,
                    labels: { ...labels("ultramarket-alerts", "monitoring"), release: args.release },
                },
                spec: { groups: this.groups },
            },
            { parent: this, dependsOn: args.dependsOn },
        );
        this.registerOutputs({});
    }
}
