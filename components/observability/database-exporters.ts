import { podPlacementFields, WorkloadPlacement } from "../model/placement";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { DataStoreName, resourceRequirements, SecretKey } from "../model/catalog";
import {
    CredentialRef,
    EXPORTER_PORT_NAME,
    EXPORTER_UID,
    exporterSecretName,
    ExporterSpec,
    EXPORTERS,
    platformSecretKeys,
} from "./exporters";
import { labels, selectorLabels } from "../model/labels";
import { AWAITED_THROUGH_ITS_DEPLOYMENT, rolloutAnnotations, secretChecksum } from "../model/rollout";
import { restrictedContainerSecurity, restrictedPodSecurity } from "../model/security";
import { ThirdPartyImages } from "../model/third-party-images";

/** Marks a Deployment that runs one replica on purpose (the production-min-replicas policy honours it). */
export const SINGLE_REPLICA_ANNOTATION = "ultramarket.uz/single-replica";

export interface DatabaseExportersArgs {
    namespace: pulumi.Input<string>;
    /** The platform Secret (Redis and Elasticsearch passwords). */
    secretName: pulumi.Input<string>;
    /** The platform Secret's values: an exporter rolls when a key it reads changes. */
    secretValues: Partial<Record<SecretKey, pulumi.Output<string>>>;
    /** The stack's key of the secret checksums (PlatformSecret.checksumKey; model/rollout.ts secretChecksum). */
    checksumKey: pulumi.Input<string>;
    /** The stores' Services (DataStores.endpoints). */
    dataStores: Record<DataStoreName, { host: pulumi.Input<string>; port: number }>;
    /** What must exist first: whatever creates the monitoring users' Secrets (EXPORTER_CREDENTIALS). */
    dependsOn?: pulumi.Input<pulumi.Resource>[];
    /** The third-party images by logical name (each exporter runs its own). */
    images: ThirdPartyImages;
    /**
     * Store -> its monitoring user's Secret values (user and password): an exporter reads them only on start, so it
     * rolls when they change (a rotation through `databasePasswordVersions`).
     */
    monitorCredentials?: Partial<Record<DataStoreName, Record<string, pulumi.Output<string>>>>;
    /** Where each exporter's pod may run, by its name (`ultramarket:workloadPlacement`). */
    placement?: WorkloadPlacement;
}

/**
 * One Prometheus exporter per data store, each its own single-replica Deployment and Service. One replica: two
 * would be two scrape targets of the same store, doubling every sum and the store's monitoring load; a gap while
 * the pod moves costs a few scrapes, which every alert's `for` outlasts.
 */
export class DatabaseExporters extends pulumi.ComponentResource {
    /** Exporter name -> its Service's name. */
    public readonly serviceNames: Record<string, pulumi.Output<string>> = {};
    /** The Deployments: what waits for the exporters to be ready depends on these. */
    public readonly deployments: k8s.apps.v1.Deployment[] = [];

    constructor(name: string, args: DatabaseExportersArgs, opts?: pulumi.ComponentResourceOptions) {
        super("ultramarket:data:DatabaseExporters", name, {}, opts);
        for (const spec of EXPORTERS) this.serviceNames[spec.name] = this.exporter(spec, args);
        this.registerOutputs({ serviceNames: this.serviceNames });
    }

    /** The digest of every secret value the exporter reads: platform Secret keys and its monitoring user's Secret. */
    private secretChecksum(spec: ExporterSpec, args: DatabaseExportersArgs): pulumi.Output<string> | undefined {
        const own = Object.entries(args.monitorCredentials?.[spec.store] ?? {}).map(([k, v]) => [`monitor:${k}`, v] as const);
        const values = { ...args.secretValues, ...Object.fromEntries(own) };
        return secretChecksum(args.checksumKey, values, [...platformSecretKeys(spec), ...own.map(([k]) => k)]);
    }

    private exporter(spec: ExporterSpec, args: DatabaseExportersArgs): pulumi.Output<string> {
        const meta = labels(spec.name, "monitoring");
        const store = args.dataStores[spec.store];
        const secretRef = (c: CredentialRef) =>
            c.kind === "exporterSecret"
                ? { secretKeyRef: { name: exporterSecretName(spec.store), key: c.key } }
                : { secretKeyRef: { name: args.secretName, key: c.key } };
        const hostPort = pulumi.output(store.host);
        // A TCP connect on the metrics port: an HTTP probe of /metrics would query the store, and restart the exporter
        // while the store is down, exactly when its metrics (and `<store>_up` = 0) matter.
        const probe = (period: number) => ({
            tcpSocket: { port: EXPORTER_PORT_NAME },
            periodSeconds: period,
            timeoutSeconds: 3,
            failureThreshold: 3,
        });
        const deployment = new k8s.apps.v1.Deployment(
            spec.name,
            {
                metadata: {
                    name: spec.name,
                    namespace: args.namespace,
                    labels: meta,
                    annotations: { [SINGLE_REPLICA_ANNOTATION]: "one scrape target per store" },
                },
                spec: {
                    replicas: 1,
                    selector: { matchLabels: selectorLabels(spec.name) },
                    template: {
                        metadata: {
                            labels: meta,
                            annotations: rolloutAnnotations({ secret: this.secretChecksum(spec, args) }),
                        },
                        spec: {
                            automountServiceAccountToken: false,
                            enableServiceLinks: false,
                            securityContext: restrictedPodSecurity(EXPORTER_UID),
                            ...podPlacementFields(args.placement?.[spec.name]),
                            containers: [
                                {
                                    name: spec.name,
                                    image: args.images[spec.image],
                                    args: hostPort.apply((h) => spec.args(h, store.port)),
                                    ports: [{ name: EXPORTER_PORT_NAME, containerPort: spec.port }],
                                    env: hostPort.apply((h) => [
                                        ...Object.entries(spec.env(h, store.port)).map(([n, value]) => ({ name: n, value })),
                                        ...Object.entries(spec.credentials).map(([n, c]) => ({ name: n, valueFrom: secretRef(c) })),
                                    ]),
                                    securityContext: restrictedContainerSecurity(),
                                    resources: resourceRequirements(spec.resources),
                                    readinessProbe: probe(10),
                                    livenessProbe: probe(20),
                                },
                            ],
                        },
                    },
                },
            },
            { parent: this, dependsOn: args.dependsOn },
        );
        this.deployments.push(deployment);
        // Lets a node drain evict the single pod (production-pdb-per-deployment), never blocks it.
        new k8s.policy.v1.PodDisruptionBudget(
            spec.name,
            {
                metadata: { name: spec.name, namespace: args.namespace, labels: meta },
                spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(spec.name) } },
            },
            { parent: this },
        );
        const service = new k8s.core.v1.Service(
            `${spec.name}-service`,
            {
                metadata: { name: spec.name, namespace: args.namespace, labels: meta, annotations: AWAITED_THROUGH_ITS_DEPLOYMENT },
                spec: {
                    selector: selectorLabels(spec.name),
                    ports: [{ name: EXPORTER_PORT_NAME, port: spec.port, targetPort: EXPORTER_PORT_NAME }],
                },
            },
            { parent: this, dependsOn: [deployment] },
        );
        return service.metadata.name;
    }
}
