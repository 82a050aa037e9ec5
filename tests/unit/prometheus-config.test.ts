// The e2e monitoring loop runs a real Prometheus without the operator (tests/e2e/support/prometheus.ts): its scrape
// configs come from prometheusConfig(), which must select and label the targets as the operator's generated config
// does, since the rules (and their promtool tests) read those labels: job and service = the Service's name, namespace,
// pod, container, endpoint = the port's name.
import * as assert from "assert";
import { CATALOG } from "../../components/model/catalog";
import { selectorLabels } from "../../components/model/labels";
import { EXPORTER_PORT_NAME } from "../../components/observability/exporters";
import { exporterMonitorSpec, serviceMonitorSpec } from "../../components/observability/service-monitors";
import { EndpointSlice, KubeObject, prometheusConfig } from "../e2e/support/prometheus";

const NS = "ultramarket-local";
const auth = CATALOG.find((a) => a.name === "auth-service")!;
const monitor = (name: string, spec: any): KubeObject => ({ metadata: { name, namespace: NS }, spec });
const service = (name: string, namespace = NS): KubeObject => ({ metadata: { name, namespace, labels: selectorLabels(name) } });
const slice = (svc: string, port: { name: string; port: number }, pods: [string, string][], namespace = NS): EndpointSlice => ({
    metadata: { name: `${svc}-abcde`, namespace, labels: { "kubernetes.io/service-name": svc } },
    ports: [port],
    endpoints: pods.map(([pod, ip]) => ({ addresses: [ip], targetRef: { kind: "Pod", name: pod } })),
});
const pod = (name: string, container: string, port: number): KubeObject => ({
    metadata: { name, namespace: NS },
    spec: {
        containers: [
            { name: "sidecar", ports: [] },
            { name: container, ports: [{ containerPort: port }] },
        ],
    },
});

describe("the e2e Prometheus's scrape configs (the operator's, for the program's ServiceMonitors)", () => {
    it("scrapes every address of the selected Service on the monitor's port, labelled as the operator labels it", () => {
        const { scrapeConfigs } = prometheusConfig(
            [
                monitor("auth-service", serviceMonitorSpec(auth)),
                monitor("redis-exporter", exporterMonitorSpec({ name: "redis-exporter" } as any)),
            ],
            [service("auth-service"), service("redis-exporter"), service("auth-service", "elsewhere")],
            [
                slice("auth-service", { name: "http", port: auth.port }, [
                    ["auth-service-a", "198.18.1.10"],
                    ["auth-service-b", "198.18.1.11"],
                ]),
                slice("redis-exporter", { name: EXPORTER_PORT_NAME, port: 9121 }, [["redis-exporter-a", "198.18.1.12"]]),
                // The same Service name in another namespace: not this monitor's.
                slice("auth-service", { name: "http", port: auth.port }, [["other", "198.18.1.99"]], "elsewhere"),
            ],
            [pod("auth-service-a", "auth-service", auth.port), pod("auth-service-b", "auth-service", auth.port)],
        );
        assert.deepEqual(
            scrapeConfigs.map((c) => c.job_name),
            [`serviceMonitor/${NS}/auth-service/0`, `serviceMonitor/${NS}/redis-exporter/0`],
        );
        const [app, exporter] = scrapeConfigs;
        assert.equal(app.metrics_path, auth.metricsPath);
        assert.equal(app.scrape_interval, "30s");
        assert.deepEqual(app.static_configs, [
            {
                targets: [`198.18.1.10:${auth.port}`],
                labels: {
                    namespace: NS,
                    service: "auth-service",
                    endpoint: "http",
                    job: "auth-service",
                    pod: "auth-service-a",
                    container: "auth-service",
                },
            },
            {
                targets: [`198.18.1.11:${auth.port}`],
                labels: {
                    namespace: NS,
                    service: "auth-service",
                    endpoint: "http",
                    job: "auth-service",
                    pod: "auth-service-b",
                    container: "auth-service",
                },
            },
        ]);
        assert.deepEqual(exporter.static_configs, [
            {
                targets: ["198.18.1.12:9121"],
                labels: {
                    namespace: NS,
                    service: "redis-exporter",
                    endpoint: EXPORTER_PORT_NAME,
                    job: "redis-exporter",
                    pod: "redis-exporter-a",
                },
            },
        ]);
    });

    it("scrapes nothing of a Service whose port has another name, and refuses a selector it cannot translate", () => {
        const { scrapeConfigs } = prometheusConfig(
            [monitor("auth-service", serviceMonitorSpec(auth))],
            [service("auth-service")],
            [slice("auth-service", { name: "grpc", port: 9000 }, [["auth-service-a", "198.18.1.10"]])],
            [],
        );
        assert.deepEqual(scrapeConfigs[0].static_configs, []);
        assert.throws(
            () =>
                prometheusConfig(
                    [monitor("x", { selector: { matchExpressions: [{ key: "a", operator: "Exists" }] }, endpoints: [{ port: "http" }] })],
                    [service("x")],
                    [],
                    [],
                ),
            /matchExpressions are not translated/,
        );
    });
});
