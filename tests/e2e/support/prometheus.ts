// The monitoring loop of the e2e suite: a real Prometheus (the toolchain's `prometheus` piece, Prometheus 3.16.0 from its
// Go module, image ultramarket.local/prometheus) on the real node, in the monitoring namespace the platform's
// NetworkPolicies admit, scraping what the deployed ServiceMonitors select and evaluating the deployed PrometheusRules.
//
// The Prometheus operator itself is not run: the Prometheus it creates discovers targets through the Kubernetes API
// from a pod, and the local API server listens on 127.0.0.1 only (docs/local-engine.md). In its place prometheusConfig()
// turns the cluster's ServiceMonitors, Services, EndpointSlices and Pods into the scrape configs the operator would
// generate: one job per ServiceMonitor endpoint (`serviceMonitor/<namespace>/<name>/<i>`), every address of the
// selected Services' EndpointSlices on the named port, labelled namespace, service, pod, container, endpoint and job
// (the Service's name), with the endpoint's path, interval and timeout. The rules are the PrometheusRules' own groups,
// unchanged. Both are selected as kube-prometheus-stack selects them: by the `release` label.
import { kubectl, kubectlJson } from "./env";
import { plainSchema } from "../../../config/schema";

/** Where the platform's NetworkPolicies let Prometheus scrape from (ultramarket:monitoringNamespace's default). */
export const MONITORING_NAMESPACE: string = plainSchema.shape.monitoringNamespace.parse(undefined);
export const PROMETHEUS_IMAGE = "ultramarket.local/prometheus:3.16.0";
const POD = "prometheus";
const PORT = 9090;
/** The operator's defaults for a Prometheus without its own (spec.scrapeInterval, spec.evaluationInterval). */
export const EVALUATION_INTERVAL_SECONDS = 30;
const SCRAPE_INTERVAL = "30s";

interface Meta {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
}
export interface KubeObject {
    metadata: Meta;
    spec?: any;
}
export interface EndpointSlice {
    metadata: Meta;
    ports?: { name?: string; port?: number }[];
    endpoints?: { addresses: string[]; targetRef?: { kind: string; name: string } }[];
}
export interface ScrapeConfig {
    job_name: string;
    metrics_path: string;
    scrape_interval: string;
    scrape_timeout: string;
    static_configs: { targets: string[]; labels: Record<string, string> }[];
}

/** Whether a label selector selects these labels (a ServiceMonitor's selects its Services, and their pods carry the same). */
export const selects = (
    selector: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] },
    labels: Record<string, string> = {},
) => {
    // The program's ServiceMonitors select by matchLabels only; anything else would be translated wrong, so it is refused.
    if (selector.matchExpressions?.length) throw new Error("prometheusConfig: matchExpressions are not translated");
    return Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
};

/** The scrape configs the operator would generate for these ServiceMonitors (see the file's head). */
export function prometheusConfig(
    monitors: KubeObject[],
    services: KubeObject[],
    slices: EndpointSlice[],
    pods: KubeObject[],
): { scrapeConfigs: ScrapeConfig[] } {
    const scrapeConfigs: ScrapeConfig[] = [];
    for (const sm of [...monitors].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))) {
        const ns = sm.metadata.namespace!;
        if (sm.spec.namespaceSelector) throw new Error(`prometheusConfig: ${sm.metadata.name}: namespaceSelector is not translated`);
        const selected = services.filter((s) => s.metadata.namespace === ns && selects(sm.spec.selector ?? {}, s.metadata.labels));
        (sm.spec.endpoints as any[]).forEach((ep, i) => {
            const groups: ScrapeConfig["static_configs"] = [];
            for (const svc of selected) {
                const ofService = slices.filter(
                    (e) => e.metadata.namespace === ns && e.metadata.labels?.["kubernetes.io/service-name"] === svc.metadata.name,
                );
                for (const slice of ofService) {
                    const port = slice.ports?.find((p) => p.name === ep.port);
                    if (!port?.port) continue;
                    for (const endpoint of slice.endpoints ?? []) {
                        const podName = endpoint.targetRef?.kind === "Pod" ? endpoint.targetRef.name : undefined;
                        const pod = pods.find((p) => p.metadata.namespace === ns && p.metadata.name === podName);
                        const container = (pod?.spec?.containers ?? []).find((c: any) =>
                            (c.ports ?? []).some((p: any) => p.containerPort === port.port),
                        );
                        for (const address of endpoint.addresses)
                            groups.push({
                                targets: [`${address}:${port.port}`],
                                labels: {
                                    namespace: ns,
                                    service: svc.metadata.name,
                                    endpoint: ep.port,
                                    job: svc.metadata.name,
                                    ...(podName ? { pod: podName } : {}),
                                    ...(container ? { container: container.name } : {}),
                                },
                            });
                    }
                }
            }
            scrapeConfigs.push({
                job_name: `serviceMonitor/${ns}/${sm.metadata.name}/${i}`,
                metrics_path: ep.path ?? "/metrics",
                scrape_interval: ep.interval ?? SCRAPE_INTERVAL,
                scrape_timeout: ep.scrapeTimeout ?? "10s",
                static_configs: groups,
            });
        });
    }
    return { scrapeConfigs };
}

/** The cluster's ServiceMonitors and PrometheusRules of `namespace` that carry `release: <release>`, as Prometheus files. */
export function prometheusFiles(namespace: string, release: string): { files: Record<string, string>; monitors: KubeObject[] } {
    const get = <T>(kind: string, ns = namespace) => kubectlJson<{ items: T[] }>(["get", kind, "-n", ns]).items;
    const monitors = get<KubeObject>("servicemonitors").filter((m) => m.metadata.labels?.release === release);
    const rules = get<KubeObject>("prometheusrules").filter((r) => r.metadata.labels?.release === release);
    const { scrapeConfigs } = prometheusConfig(
        monitors,
        get<KubeObject>("services"),
        get<EndpointSlice>("endpointslices.discovery.k8s.io"),
        get<KubeObject>("pods"),
    );
    const ruleFiles = Object.fromEntries(rules.map((r) => [`rules-${r.metadata.name}.yaml`, JSON.stringify({ groups: r.spec.groups })]));
    const config = {
        global: { scrape_interval: SCRAPE_INTERVAL, evaluation_interval: `${EVALUATION_INTERVAL_SECONDS}s` },
        rule_files: Object.keys(ruleFiles).map((f) => `/etc/prometheus/${f}`),
        scrape_configs: scrapeConfigs,
    };
    // JSON is YAML: Prometheus reads both files as they are.
    return { files: { "prometheus.yml": JSON.stringify(config, null, 1), ...ruleFiles }, monitors };
}

/** Runs Prometheus with these files on the node `nodeSelector` picks (restricted, read-only root), and waits until it is Ready. */
export function startPrometheus(
    files: Record<string, string>,
    placement: { nodeSelector: Record<string, string>; tolerations: unknown[] },
) {
    const objects = [
        { apiVersion: "v1", kind: "Namespace", metadata: { name: MONITORING_NAMESPACE } },
        { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "prometheus", namespace: MONITORING_NAMESPACE }, data: files },
        {
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name: POD, namespace: MONITORING_NAMESPACE, labels: { "app.kubernetes.io/name": "prometheus" } },
            spec: {
                ...placement,
                automountServiceAccountToken: false,
                securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: { type: "RuntimeDefault" } },
                containers: [
                    {
                        name: "prometheus",
                        image: PROMETHEUS_IMAGE,
                        imagePullPolicy: "Never",
                        args: [
                            "--config.file=/etc/prometheus/prometheus.yml",
                            "--storage.tsdb.path=/prometheus",
                            `--web.listen-address=:${PORT}`,
                        ],
                        ports: [{ name: "web", containerPort: PORT }],
                        readinessProbe: { httpGet: { path: "/-/ready", port: PORT }, periodSeconds: 2 },
                        securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
                        resources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { memory: "512Mi" } },
                        volumeMounts: [
                            { name: "config", mountPath: "/etc/prometheus" },
                            { name: "data", mountPath: "/prometheus" },
                        ],
                    },
                ],
                volumes: [
                    { name: "config", configMap: { name: "prometheus" } },
                    { name: "data", emptyDir: {} },
                ],
            },
        },
    ];
    // A new pod every time: it reads its files once, and its data (an emptyDir) starts empty.
    kubectl(["delete", "pod", POD, "-n", MONITORING_NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=60s"]);
    kubectl(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }));
    kubectl(["wait", "--for=condition=Ready", `pod/${POD}`, "-n", MONITORING_NAMESPACE, "--timeout=120s"]);
}

export function stopPrometheus(): void {
    kubectl(["delete", "namespace", MONITORING_NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=120s"]);
}

/** GET from Prometheus's HTTP API, through the API server's pod proxy. */
export function prometheusApi<T>(pathAndQuery: string): T {
    const body = JSON.parse(
        kubectl(["get", "--raw", `/api/v1/namespaces/${MONITORING_NAMESPACE}/pods/${POD}:${PORT}/proxy${pathAndQuery}`]),
    );
    if (body.status !== "success") throw new Error(`Prometheus ${pathAndQuery}: ${JSON.stringify(body)}`);
    return body.data as T;
}

export interface ActiveTarget {
    labels: Record<string, string>;
    scrapePool: string;
    health: "up" | "down" | "unknown";
    lastError: string;
}
export const activeTargets = () => prometheusApi<{ activeTargets: ActiveTarget[] }>("/api/v1/targets?state=active").activeTargets;

export interface Alert {
    labels: Record<string, string>;
    annotations: Record<string, string>;
    state: "pending" | "firing";
    activeAt: string;
    value: string;
}
export const alerts = () => prometheusApi<{ alerts: Alert[] }>("/api/v1/alerts").alerts;
