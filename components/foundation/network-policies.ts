import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { AppSpec, DataStoreName, GATEWAY } from "../model/catalog";
import { selectorLabels } from "../model/labels";
import { migrationName } from "../apps/microservice";

type Rule = k8s.types.input.networking.v1.NetworkPolicyIngressRule;
type EgressRule = k8s.types.input.networking.v1.NetworkPolicyEgressRule;
export type Peer = k8s.types.input.networking.v1.NetworkPolicyPeer;

export interface NetworkPoliciesArgs {
    /** DNS servers pods may reach on port 53 besides the kube-dns pods (`ultramarket:dnsServerCidrs`). */
    dnsServerCidrs?: string[];
    namespace: pulumi.Input<string>;
    apps: AppSpec[];
    /** The data stores' ports (DataStores.endpoints). */
    dataStores: Record<DataStoreName, { port: number }>;
    /** Where the public edge's proxies run (edgePeers): the only peers that reach the public apps. */
    edgePeers: Peer[];
    monitoringNamespace: string;
    /** The data stores' exporters (exporters.ts): each reads its store and is scraped from the monitoring namespace. */
    exporters?: readonly { name: string; store: DataStoreName; port: number }[];
    /**
     * Pods other than the apps that connect to data stores (the database backup and restore Jobs), by selector name;
     * `purpose` is put on the policy as an annotation, for one whose pods are not always there (the restore's).
     */
    dataStoreJobs?: { name: string; dataStores: DataStoreName[]; purpose?: string }[];
    /** PgBouncer: apps that use PostgreSQL reach it instead of PostgreSQL, which admits it (and migrations) only. */
    postgresPooler?: { name: string; port: number };
    /** The users Job of each store (its pods' name label): it reaches that store. */
    databaseUsersJobs?: Partial<Record<DataStoreName, string>>;
    /** cert-manager issues the edge's certificates: its HTTP-01 solver pods answer the edge's proxies (ACME_HTTP01_SOLVER). */
    acmeHttp01Solver?: boolean;
}

/**
 * cert-manager's HTTP-01 solver (cert-manager pkg/issuer/acme/http/pod.go): a pod per challenge, in the Certificate's
 * namespace (ours), labelled `acme.cert-manager.io/http01-solver: "true"`, serving the token on 8089; the Gateway's
 * HTTPRoute sends `/.well-known/acme-challenge/...` to it. Under default-deny nothing else may reach it, and it reaches
 * nothing.
 */
export const ACME_HTTP01_SOLVER = { labels: { "acme.cert-manager.io/http01-solver": "true" }, port: 8089 } as const;

/** Why a policy exists when that is not plain from what it selects (e.g. the restore's, whose pods come and go). */
export const PURPOSE_ANNOTATION = "ultramarket.uz/purpose";

export const inNamespace = (name: string): Peer => ({ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": name } } });
const pods = (name: string): Peer => ({ podSelector: { matchLabels: selectorLabels(name) } });
const tcp = (port: number) => ({ protocol: "TCP", port });
// Third-party APIs live on the internet: allow it, but never the cluster's or other private ranges.
const INTERNET: Peer = { ipBlock: { cidr: "0.0.0.0/0", except: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"] } };

/** Default deny plus the edges the catalog implies, and nothing else. */
export function networkRules(
    args: Pick<
        NetworkPoliciesArgs,
        "apps" | "dataStores" | "edgePeers" | "monitoringNamespace" | "exporters" | "dataStoreJobs" | "postgresPooler" | "databaseUsersJobs"
    >,
) {
    const { apps, dataStores, postgresPooler: pooler } = args;
    const policies: { name: string; ingress: Rule[]; egress: EgressRule[]; purpose?: string }[] = [];
    const gatewayRouted = apps.filter((a) => a.route.kind === "gateway");
    const direct = (d: DataStoreName): EgressRule => ({ to: [pods(d)], ports: [tcp(dataStores[d].port)] });
    const pooled = (app: AppSpec, d: DataStoreName) => pooler !== undefined && d === "postgres" && app.postgresPool !== undefined;
    // An app's pods reach PostgreSQL through PgBouncer; its migrations (DDL, session features) reach it directly.
    const storeEgress = (app: AppSpec): EgressRule[] =>
        app.dataStores.map((d) => (pooled(app, d) ? { to: [pods(pooler!.name)], ports: [tcp(pooler!.port)] } : direct(d)));
    const migrationEgress = (app: AppSpec): EgressRule[] => app.dataStores.map(direct);

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
        if (app.migrations) policies.push({ name: migrationName(app.name), ingress: [], egress: migrationEgress(app) });
    }
    const exporters = args.exporters ?? [];
    for (const e of exporters) {
        policies.push({
            name: e.name,
            ingress: [{ from: [inNamespace(args.monitoringNamespace)], ports: [tcp(e.port)] }],
            egress: [direct(e.store)],
        });
    }
    const jobs = args.dataStoreJobs ?? [];
    for (const job of jobs) policies.push({ name: job.name, ingress: [], egress: job.dataStores.map(direct), purpose: job.purpose });
    const pooledApps = apps.filter((a) => pooled(a, "postgres"));
    if (pooler && pooledApps.length) {
        policies.push({
            name: pooler.name,
            ingress: [{ from: pooledApps.map((a) => pods(a.name)), ports: [tcp(pooler.port)] }],
            egress: [direct("postgres")],
        });
    }
    const usersJobs = args.databaseUsersJobs ?? {};
    for (const [store, job] of Object.entries(usersJobs) as [DataStoreName, string][])
        policies.push({ name: job, ingress: [], egress: [direct(store)] });
    for (const store of Object.keys(dataStores) as DataStoreName[]) {
        const clients = apps.filter((a) => a.dataStores.includes(store));
        const peers = [
            ...clients.flatMap((a) => [
                ...(pooled(a, store) ? [] : [pods(a.name)]),
                ...(a.migrations ? [pods(migrationName(a.name))] : []),
            ]),
            ...(store === "postgres" && pooler && pooledApps.length ? [pods(pooler.name)] : []),
            ...(usersJobs[store] ? [pods(usersJobs[store])] : []),
            ...exporters.filter((e) => e.store === store).map((e) => pods(e.name)),
            ...jobs.filter((j) => j.dataStores.includes(store)).map((j) => pods(j.name)),
        ];
        policies.push({ name: store, ingress: peers.length ? [{ from: peers, ports: [tcp(dataStores[store].port)] }] : [], egress: [] });
    }
    return policies;
}

/** NetworkPolicies derived from the catalog: default deny, DNS, and each edge the catalog lists. */
export class NetworkPolicies extends pulumi.ComponentResource {
    constructor(name: string, args: NetworkPoliciesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("ultramarket:network:NetworkPolicies", name, {}, opts);
        const policy = (policyName: string, spec: k8s.types.input.networking.v1.NetworkPolicySpec, purpose?: string) =>
            new k8s.networking.v1.NetworkPolicy(
                policyName,
                {
                    metadata: {
                        name: policyName,
                        namespace: args.namespace,
                        labels: { "app.kubernetes.io/part-of": "ultramarket" },
                        ...(purpose ? { annotations: { [PURPOSE_ANNOTATION]: purpose } } : {}),
                    },
                    spec,
                },
                { parent: this },
            );
        policy("default-deny-all", { podSelector: {}, policyTypes: ["Ingress", "Egress"] });
        policy("allow-dns", {
            podSelector: {},
            policyTypes: ["Egress"],
            egress: [
                {
                    // A DNS server outside the pod network (NodeLocal DNSCache, a host-network CoreDNS) is no pod a
                    // selector matches: its addresses come from `ultramarket:dnsServerCidrs`.
                    to: [
                        { ...inNamespace("kube-system"), podSelector: { matchLabels: { "k8s-app": "kube-dns" } } },
                        ...(args.dnsServerCidrs ?? []).map((cidr) => ({ ipBlock: { cidr } })),
                    ],
                    ports: [{ protocol: "UDP", port: 53 }, tcp(53)],
                },
            ],
        });
        if (args.acmeHttp01Solver && args.edgePeers.length)
            policy(
                "allow-acme-http01-solver",
                {
                    podSelector: { matchLabels: { ...ACME_HTTP01_SOLVER.labels } },
                    policyTypes: ["Ingress", "Egress"],
                    ingress: [{ from: args.edgePeers, ports: [tcp(ACME_HTTP01_SOLVER.port)] }],
                    egress: [],
                },
                "cert-manager's HTTP-01 solver pods, which exist only while a certificate is issued: the edge's proxies reach them on 8089",
            );
        for (const rule of networkRules(args)) {
            policy(
                `allow-${rule.name}`,
                {
                    podSelector: { matchLabels: selectorLabels(rule.name) },
                    policyTypes: ["Ingress", "Egress"],
                    ingress: rule.ingress,
                    egress: rule.egress,
                },
                rule.purpose,
            );
        }
        this.registerOutputs({});
    }
}
