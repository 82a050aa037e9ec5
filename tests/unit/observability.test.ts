// Alerts, ServiceMonitors and dashboards: derived from the catalog, scoped to the platform, loadable
// by kube-prometheus-stack; and the switch that skips them when the operator is absent.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { AlertRule, alertRuleGroups, RecordingRule, RuleGroup } from "../../components/observability/alerts";
import { AppSpec, CATALOG } from "../../components/model/catalog";
import { dataStoresDashboard, platformOverviewDashboard } from "../../components/observability/dashboards";
import { DATA_STORE_NAMES } from "../../components/data/stores";
import { labels, selectorLabels } from "../../components/model/labels";
import { Monitoring, MonitoringArgs, OPERATOR_ABSENT_WARNING } from "../../components/observability/monitoring";
import { serviceMonitorSpec } from "../../components/observability/service-monitors";
import { BURN_RATE_ALERTS, PROBE_ROUTES, RECORDED, USER_REQUESTS } from "../../components/model/slo";
import { evaluateProduction } from "./support/platform";
import { byType, installMocks, Registration, settle } from "./support/harness";
import { promqlErrors } from "./support/promql";

const NS = "ultramarket-production";
const RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule";
const MONITOR = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor";
const CM = "kubernetes:core/v1:ConfigMap";
const RELEASE = "kubernetes:helm.sh/v3:Release";

const groups = alertRuleGroups({
    namespace: NS,
    services: ["api-gateway", "auth-service"],
    dataStores: DATA_STORE_NAMES,
    runbookBaseUrl: "https://docs.example/observability.md",
});
const alerts = groups.flatMap((g) => g.rules).filter((r): r is AlertRule => "alert" in r);
const recordings = groups.flatMap((g) => g.rules).filter((r): r is RecordingRule => "record" in r);
const alert = (name: string) => {
    const a = alerts.find((r) => r.alert === name);
    if (!a) throw new Error(`no alert ${name}`);
    return a;
};

describe("alert rules (PrometheusRule)", () => {
    it("keeps the runbook's HighErrorRate: 5xx rate of users' requests (the probed routes left out) above 0.1/s for 2 minutes, critical", () => {
        const a = alert("HighErrorRate");
        assert.equal(
            a.expr,
            `sum by (namespace, service) (rate(http_requests_total{namespace="${NS}",route!~"/health",status=~"5.."}[5m])) > 0.1`,
        );
        assert.equal(a.for, "2m");
        assert.equal(a.labels.severity, "critical");
        assert.match(a.annotations.description, /\{\{ \$value/);
    });

    it("keeps the runbook's ServiceDown: up == 0 for 1 minute, critical, per service, also when a service has no target", () => {
        const a = alert("ServiceDown");
        assert.equal(
            a.expr,
            `sum by (namespace, service) (up{namespace="${NS}"}) == 0 or absent(up{namespace="${NS}",service="api-gateway"}) or absent(up{namespace="${NS}",service="auth-service"})`,
        );
        assert.equal(a.for, "1m");
        assert.equal(a.labels.severity, "critical");
        assert.match(a.annotations.description, /\{\{ \$labels\.service \}\}/);
    });

    it("leaves every path the kubelet probes on a rendered app out of the request and latency expressions", async () => {
        // The probes' answers are not users' requests: a store outage fails /health on every app using it (503s that
        // fired HighErrorRate with no user traffic on the real node), and their 200s dilute the SLO's error ratio.
        const { registrations } = await evaluateProduction();
        const appNames = new Set(CATALOG.map((a) => a.name));
        const probed = new Set<string>();
        for (const d of registrations.filter((r) => r.type === "kubernetes:apps/v1:Deployment" && appNames.has(r.inputs.metadata.name)))
            for (const c of d.inputs.spec.template.spec.containers)
                for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe])
                    if (probe?.httpGet?.path) probed.add(probe.httpGet.path);
        assert.ok(probed.size > 0, "no app renders an HTTP probe");
        assert.deepEqual([...probed].sort(), [...PROBE_ROUTES]);
        const regex = new RegExp(`^(?:${/!~"(.*)"$/.exec(USER_REQUESTS)![1].replace(/\\\\/g, "\\")})$`);
        for (const path of probed) assert.ok(regex.test(path), `${path} is counted as a user's request`);
        for (const record of [RECORDED.requestRate, RECORDED.errorRatio("5m"), RECORDED.latencyP95])
            assert.ok(recordings.find((r) => r.record === record)!.expr.includes(USER_REQUESTS), record);
        assert.ok(alert("HighErrorRate").expr.includes(USER_REQUESTS));
        assert.ok(!regex.test("/orders"), "a user's route is left out too");
    });

    it("alerts when p95 latency exceeds the 200 ms criterion", () => {
        const a = alert("HighLatencyP95");
        assert.equal(a.expr, `${RECORDED.latencyP95}{namespace="${NS}"} > 0.2`);
        const p95 = recordings.find((r) => r.record === RECORDED.latencyP95)!;
        assert.match(
            p95.expr,
            /^histogram_quantile\(0\.95, sum by \(namespace, service, le\) \(rate\(http_request_duration_seconds_bucket\{namespace="ultramarket-production",route!~"\/health"\}\[5m\]\)\)\)$/,
        );
    });

    it("pages at 14.4x over 1h and 5m, pages at 6x over 6h and 30m, tickets at 1x over 3d and 6h (99.9 % SLO)", () => {
        const expected = [
            ["ErrorBudgetBurnFast", "1h", "5m", "14.4", "critical"],
            ["ErrorBudgetBurnSlow", "6h", "30m", "6", "critical"],
            ["ErrorBudgetBurnTicket", "3d", "6h", "1", "warning"],
        ];
        for (const [name, long, short, factor, severity] of expected) {
            const a = alert(name);
            const threshold = `(${factor} * 0.001)`;
            assert.equal(
                a.expr,
                `${RECORDED.errorRatio(long)}{namespace="${NS}"} > ${threshold} and ${RECORDED.errorRatio(short)}{namespace="${NS}"} > ${threshold}`,
            );
            assert.equal(a.labels.severity, severity);
            // Both windows must be recorded, as the 5xx share of all requests over that window.
            for (const w of [long, short]) {
                const rec = recordings.find((r) => r.record === RECORDED.errorRatio(w));
                assert.ok(rec, `error ratio over ${w} is recorded`);
                assert.equal(
                    rec.expr,
                    `sum by (namespace, service) (rate(http_requests_total{namespace="${NS}",route!~"/health",status=~"5.."}[${w}])) / sum by (namespace, service) (rate(http_requests_total{namespace="${NS}",route!~"/health"}[${w}]))`,
                );
            }
        }
        assert.equal(BURN_RATE_ALERTS.length, 3);
    });

    it("warns when throughput falls below half of last week's, only where last week had traffic", () => {
        const a = alert("ThroughputDrop");
        assert.match(
            a.expr,
            /< 0\.5 \* sum by \(namespace\) \(ultramarket:http_requests:rate5m\{namespace="ultramarket-production"\} offset 1w\)/,
        );
        assert.match(a.expr, / and sum by \(namespace\) \(ultramarket:http_requests:rate5m\{[^}]*\} offset 1w\) > 1$/);
    });

    it("watches crash-looping pods, data stores with no ready replica and filling volumes (kube-state-metrics, kubelet)", () => {
        assert.match(
            alert("PodCrashLooping").expr,
            /kube_pod_container_status_waiting_reason\{namespace="ultramarket-production",reason="CrashLoopBackOff"\}/,
        );
        assert.equal(
            alert("DataStoreDown").expr,
            `kube_statefulset_status_replicas_ready{namespace="${NS}",statefulset=~"postgres|mongodb|redis|elasticsearch"} == 0`,
        );
        assert.equal(alert("DataStoreDown").labels.severity, "critical");
        assert.match(
            alert("VolumeFillingUp").expr,
            /kubelet_volume_stats_available_bytes\{namespace="ultramarket-production"\} \/ kubelet_volume_stats_capacity_bytes\{namespace="ultramarket-production"\} < 0\.15 and predict_linear\(/,
        );
        assert.match(alert("VolumeAlmostFull").expr, /< 0\.03$/);
    });

    it("gives every alert a severity, a duration, a summary, a description and a runbook link to its own section", () => {
        assert.equal(alerts.length, 11);
        for (const a of alerts) {
            assert.ok(["critical", "warning"].includes(a.labels.severity), a.alert);
            assert.match(a.for, /^\d+[smh]$/, a.alert);
            assert.ok(a.annotations.summary.length > 5 && a.annotations.description.length > 20, a.alert);
            assert.equal(a.annotations.runbook_url, `https://docs.example/observability.md#${a.alert.toLowerCase()}`);
        }
    });

    it("scopes every expression to the platform namespace", () => {
        for (const r of [...alerts, ...recordings]) {
            const selectors = r.expr.match(/[a-z_:]+\{[^}]*\}/g) ?? [];
            assert.ok(selectors.length > 0, "expr" in r ? ((r as any).alert ?? (r as any).record) : "");
            for (const s of selectors) assert.match(s, /namespace="ultramarket-production"/, s);
        }
    });

    it("documents every alert in docs/observability.md under the anchor its runbook_url names", () => {
        const doc = fs.readFileSync(path.join(__dirname, "../../docs/observability.md"), "utf8");
        for (const a of alerts) assert.match(doc, new RegExp(`^### ${a.alert}$`, "m"), a.alert);
    });
});

describe("ServiceMonitors", () => {
    it("scrape each app's Service by its shared selector labels, on port http and the catalog's metrics path", () => {
        const app: AppSpec = { ...CATALOG[0], name: "wishlist-service", metricsPath: "/internal/metrics" };
        const spec = serviceMonitorSpec(app);
        assert.deepEqual(spec.selector.matchLabels, selectorLabels("wishlist-service"));
        // The Service's labels (labels(app, "api")) must contain the selector.
        for (const [k, v] of Object.entries(spec.selector.matchLabels)) assert.equal(labels("wishlist-service", "api")[k], v);
        assert.deepEqual(
            spec.endpoints.map((e) => [e.port, e.path]),
            [["http", "/internal/metrics"]],
        );
    });
});

const ids = (panels: any[]) => panels.map((p) => p.id);

describe("PromQL syntax (Prometheus's lezer grammar)", () => {
    it("finds errors in a broken expression (the check itself works)", () => {
        assert.notDeepEqual(promqlErrors('sum by (service) (rate(http_requests_total{status=~"5.."}[5m]) > 0.1 and'), []);
        assert.notDeepEqual(promqlErrors("rate(http_requests_total[5m]"), []);
    });

    it("parses every alerting and recording expression", () => {
        for (const r of [...alerts, ...recordings]) assert.deepEqual(promqlErrors(r.expr), [], r.expr);
    });

    it("parses every dashboard query", () => {
        for (const d of [platformOverviewDashboard(NS, CATALOG), dataStoresDashboard(NS, DATA_STORE_NAMES)]) {
            for (const p of d.panels) for (const t of p.targets ?? []) assert.deepEqual(promqlErrors(t.expr), [], `${p.title}: ${t.expr}`);
        }
    });
});

describe("Grafana dashboards", () => {
    const overview = platformOverviewDashboard(NS, CATALOG);

    it("round-trips through JSON with unique panel ids and a Prometheus data source variable", () => {
        for (const d of [overview, dataStoresDashboard(NS, DATA_STORE_NAMES)]) {
            assert.deepEqual(JSON.parse(JSON.stringify(d)), d);
            assert.equal(new Set(ids(d.panels)).size, d.panels.length);
            assert.equal(d.templating.list[0].type, "datasource");
            for (const p of d.panels.filter((x: any) => x.type !== "row")) {
                assert.ok(p.targets.length > 0, p.title);
                assert.ok(p.gridPos.x + p.gridPos.w <= 24, p.title);
            }
        }
    });

    it("shows rate, errors and duration for every app of the catalog", () => {
        for (const app of CATALOG) {
            const panels = overview.panels.filter((p: any) => p.title.startsWith(`${app.name}: `));
            assert.deepEqual(
                panels.map((p: any) => p.title.slice(app.name.length + 2)),
                ["requests/s", "error ratio", "duration"],
                app.name,
            );
            for (const p of panels) for (const t of p.targets) assert.match(t.expr, new RegExp(`service="${app.name}"`));
        }
    });

    it("adds panels when a catalog entry is added", () => {
        const extra: AppSpec = { ...CATALOG[0], name: "wishlist-service", group: "business" };
        const bigger = platformOverviewDashboard(NS, [...CATALOG, extra]);
        assert.equal(bigger.panels.length, overview.panels.length + 3);
        assert.ok(bigger.panels.some((p: any) => p.title === "wishlist-service: duration"));
    });

    it("marks the success criteria on the platform panels (p95 200 ms, 0.1 % errors)", () => {
        const byTitle = (t: string) => overview.panels.find((p: any) => p.title === t);
        const steps = (t: string) => byTitle(t).fieldConfig.defaults.thresholds.steps;
        assert.deepEqual(steps("p95 latency")[1], { color: "red", value: 0.2 });
        assert.deepEqual(steps("Error ratio (5xx)")[1], { color: "red", value: 0.001 });
    });

    it("shows readiness, restarts, CPU, memory and volume use for each data store", () => {
        const d = dataStoresDashboard(NS, DATA_STORE_NAMES);
        for (const store of DATA_STORE_NAMES) {
            const titles = d.panels.filter((p: any) => p.title.startsWith(`${store}: `)).map((p: any) => p.title);
            assert.deepEqual(
                titles,
                ["ready replicas", "restarts (1h)", "CPU", "memory", "volume used"].map((t) => `${store}: ${t}`),
            );
        }
    });
});

async function evaluateMonitoring(overrides: Partial<MonitoringArgs>): Promise<{ regs: Registration[]; monitoring: Monitoring }> {
    const regs = installMocks("production");
    const monitoring = new Monitoring("monitoring", {
        namespace: NS,
        namespaceName: NS,
        apps: CATALOG.filter((a) => a.enabledByDefault),
        dataStores: DATA_STORE_NAMES,
        prometheusOperator: true,
        release: "kps",
        install: false,
        chart: { repo: "https://prometheus-community.github.io/helm-charts", version: "65.1.1" },
        monitoringNamespace: "ultramarket-monitoring",
        runbookBaseUrl: "docs/observability.md",
        ...overrides,
    });
    await settle(regs);
    return { regs, monitoring };
}

describe("Monitoring component on the mock monitor", () => {
    it("creates one PrometheusRule labelled for kube-prometheus-stack's ruleSelector, with the rule groups", async () => {
        const { regs } = await evaluateMonitoring({});
        const [rule] = byType(regs, RULE);
        assert.equal(rule.inputs.metadata.labels.release, "kps");
        assert.equal(rule.inputs.metadata.namespace, NS);
        assert.deepEqual(
            rule.inputs.spec.groups.map((g: RuleGroup) => g.name),
            ["ultramarket.recording", "ultramarket-alerts", "ultramarket-slo", "ultramarket-infrastructure"],
        );
        const serviceDown = rule.inputs.spec.groups.flatMap((g: RuleGroup) => g.rules).find((r: any) => r.alert === "ServiceDown");
        for (const app of CATALOG.filter((a) => a.enabledByDefault))
            assert.ok(serviceDown.expr.includes(`service="${app.name}"`), `ServiceDown covers ${app.name}`);
    });

    it("creates a ServiceMonitor per deployed app, labelled release: <prometheusRelease>", async () => {
        const { regs } = await evaluateMonitoring({});
        const monitors = byType(regs, MONITOR);
        const deployed = CATALOG.filter((a) => a.enabledByDefault).map((a) => a.name);
        assert.deepEqual(monitors.map((m) => m.inputs.metadata.name).sort(), [...deployed].sort());
        for (const m of monitors) assert.equal(m.inputs.metadata.labels.release, "kps");
    });

    it('stores the dashboards in ConfigMaps labelled grafana_dashboard: "1", as valid JSON', async () => {
        const { regs } = await evaluateMonitoring({});
        const cms = byType(regs, CM).filter((c) => c.inputs.metadata.labels?.grafana_dashboard === "1");
        assert.deepEqual(cms.map((c) => c.inputs.metadata.name).sort(), [
            "ultramarket-data-stores-dashboard",
            "ultramarket-overview-dashboard",
        ]);
        for (const cm of cms) for (const json of Object.values<string>(cm.inputs.data)) assert.ok(JSON.parse(json).panels.length > 0);
    });

    it("installs no chart by default", async () => {
        const { regs } = await evaluateMonitoring({});
        assert.equal(byType(regs, RELEASE).length, 0);
    });

    it("with installMonitoringStack, installs kube-prometheus-stack under the release name and creates the rules after it", async () => {
        const { regs } = await evaluateMonitoring({ install: true, prometheusOperator: false });
        const [release] = byType(regs, RELEASE);
        assert.equal(release.inputs.name, "kps");
        assert.equal(release.inputs.chart, "kube-prometheus-stack");
        assert.equal(release.inputs.version, "65.1.1");
        assert.equal(release.inputs.namespace, "ultramarket-monitoring");
        assert.equal(release.inputs.values.grafana.sidecar.dashboards.searchNamespace, "ALL");
        assert.notEqual(release.inputs.values.grafana.adminPassword, "prom-operator");
        const children = [...byType(regs, RULE), ...byType(regs, MONITOR), ...byType(regs, CM)];
        assert.equal(children.length, 1 + CATALOG.filter((a) => a.enabledByDefault).length + 2);
        for (const r of children) assert.ok(r.dependencies.includes(release.urn), `${r.type} ${r.name} waits for the chart's CRDs`);
    });

    it("without the operator and without the install, creates no CRD objects and says which keys to set", async () => {
        const { regs, monitoring } = await evaluateMonitoring({ prometheusOperator: false, install: false });
        assert.equal(byType(regs, RULE).length + byType(regs, MONITOR).length, 0);
        assert.equal(monitoring.enabled, false);
        assert.deepEqual(monitoring.warnings, [OPERATOR_ABSENT_WARNING]);
        assert.match(OPERATOR_ABSENT_WARNING, /pulumi config set prometheusOperator true/);
        assert.match(OPERATOR_ABSENT_WARNING, /pulumi config set installMonitoringStack true/);
    });
});
