import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { AppSpec, DataStoreName, GATEWAY } from "./catalog";
import { selectorLabels } from "./labels";
import { migrationName } from "./microservice";

type Rule = k8s.types.input.networking.v1.NetworkPolicyIngressRule;
type EgressRule = k8s.types.input.networking.v1.NetworkPolicyEgressRule;
export type Peer = k8s.types.input.networking.v1.NetworkPolicyPeer;

export interface NetworkPoliciesArgs {
    namespace: pulumi.Input<string>;
    apps: AppSpec[];
    /** The data stores' ports (DataStores.endpoints). */
    dataStores: Record<DataStoreName, { port: number }>;
    /** Where the public edge's proxies run (edgePeers): the only peers that reach the public apps. */
    edgePeers: Peer[];
    monitoringNamespace: string;
    /** The data stores' exporters (exporters.ts): each reads its store and is scraped from the monitoring namespace. */
    exporters?: readonly { name: string; store: DataStoreName; port: number }[];
    /** Pods other than the apps that connect to data stores (the database backup and restore Jobs), by selector name. */
    dataStoreJobs?: { name: string; dataStores: DataStoreName[] }[];
}

export const inNamespace = (name: string): Peer => ({ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": name } } });
const pods = (name: string): Peer => ({ podSelector: { matchLabels: selectorLabels(name) } });
const tcp = (port: number) => ({ protocol: "TCP", port });
// Third-party APIs live on the internet: allow it, but never the cluster's or other private ranges.
const INTERNET: Peer = { ipBlock: { cidr: "0.0.0.0/0", except: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"] } };

/** Default deny plus the edges the catalog implies, and nothing else. */
export function networkRules(args: Pick<NetworkPoliciesArgs, "apps" | "dataStores" | "edgePeers" | "monitoringNamespace" | "exporters" | "dataStoreJobs">) {
    const { apps, dataStores } = args;
    const policies: { name: string; ingress: Rule[]; egress: EgressRule[] }[] = [];
    const gatewayRouted = apps.filter((a) => a.route.kind === "gateway");
    const storeEgress = (app: AppSpec): EgressRule[] => app.dataStores.map((d) => ({ to: [pods(d)], ports: [tcp(dataStores[d].port)] }));

    for (const app of apps) {
        const from: Rule[] = [];
        // An empty `from` would admit everyone: without an edge, the public apps admit no one from outside.
        if (app.route.kind !== "host") from.push({ from: [pods(GATEWAY)], ports: [tcp(app.port)] });
        else if (args.edgePeers.length) from.push({ from: args.edgePeers, ports: [tcp(app.port)] });
        // Prometheus scrapes the metrics path on the app port.
        if (app.metricsPath) from.push({ from: [inNamespace(args.monitoringNamespace)], ports: [tcp(app.port)] });
        const egress = storeEgress(app);
        if (app.name === GATEWAY) for (const target of gatewayRouted) egress.push({ to: [pods(target.name)], ports: [tcp(target.port)] });
        if (app.externalEgress) egress.push({ to: [INTERNET], ports: [tcp(443), tcp(587)] });
        policies.push({ name: app.name, ingress: from, egress });
        if (app.migrations) policies.push({ name: migrationName(app.name), ingress: [], egress: storeEgress(app) });
    }
    const exporters = args.exporters ?? [];
    for (const e of exporters) {
        policies.push({
            name: e.name,
            ingress: [{ from: [inNamespace(args.monitoringNamespace)], ports: [tcp(e.port)] }],
            egress: [{ to: [pods(e.store)], ports: [tcp(dataStores[e.store].port)] }],
        });
    }
    const jobs = args.dataStoreJobs ?? [];
    for (const job of jobs) policies.push({ name: job.name, ingress: [], egress: job.dataStores.map((d) => ({ to: [pods(d)], ports: [tcp(dataStores[d].port)] })) });
    for (const store of Object.keys(dataStores) as DataStoreName[]) {
        const clients = apps.filter((a) => a.dataStores.includes(store));
        const peers = clients.flatMap((a) => [pods(a.name), ...(a.migrations ? [pods(migrationName(a.name))] : [])]);
        peers.push(...exporters.filter((e) => e.store === store).map((e) => pods(e.name)));
        peers.push(...jobs.filter((j) => j.dataStores.includes(store)).map((j) => pods(j.name)));
        policies.push({ name: store, ingress: peers.length ? [{ from: peers, ports: [tcp(dataStores[store].port)] }] : [], egress: [] });
    }
    return policies;
}

/** NetworkPolicies derived from the catalog: default deny, DNS, and each edge the catalog lists. */
export class NetworkPolicies extends pulumi.ComponentResource {
    constructor(name: string, args: NetworkPoliciesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("ultramarket:network:NetworkPolicies", name, {}, opts);
        const policy = (policyName: string, spec: k8s.types.input.networking.v1.NetworkPolicySpec) =>
            new k8s.networking.v1.NetworkPolicy(
                policyName,
                { metadata: { name: policyName, namespace: args.namespace, labels: { "app.kubernetes.io/part-of": "ultramarket" } }, spec },
                { parent: this },
            );
        policy("default-deny-all", { podSelector: {}, policyTypes: ["Ingress", "Egress"] });
        policy("allow-dns", {
            podSelector: {},
            policyTypes: ["Egress"],
            egress: [
                {
                    to: [{ ...inNamespace("kube-system"), podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }],
                    ports: [{ protocol: "UDP", port: 53 }, tcp(53)],
                },
            ],
        });
        for (const rule of networkRules(args)) {
            policy(`allow-${rule.name}`, {
                podSelector: { matchLabels: selectorLabels(rule.name) },
                policyTypes: ["Ingress", "Egress"],
                ingress: rule.ingress,
                egress: rule.egress,
            });
        }
        this.registerOutputs({});
    }
}
