import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PlatformConfig } from "../config";
import { cpuScaleTransformations } from "./model/cpu-scale";
import { Applications } from "./apps/applications";
import { DatabaseExporters } from "./observability/database-exporters";
import { DATA_STORE_NAMES, DataStores } from "./data/stores";
import { DatabaseBackups } from "./data/backups";
import { DatabaseUsers } from "./data/database-users";
import { PgBouncer } from "./data/pgbouncer";
import { buildEdge, PublicEdge } from "./edge";
import { PerformanceTest } from "./verification/load-test";
import { Monitoring } from "./observability/monitoring";
import { DeploymentVerification } from "./verification/deployment-verification";
import { PlatformNamespace } from "./foundation/namespace";
import { PlatformSecret } from "./foundation/platform-secret";
import { PlatformConfigMap } from "./foundation/platform-config-map";
import { FileUploadsVolume } from "./data/file-uploads";
import {
    buildAppSettingsAndStorage,
    buildApplications,
    buildDatabaseExporters,
    buildDataTier,
    buildFoundation,
    buildMonitoring,
    buildNetworkPolicies,
    buildPostDeploySteps,
    clusterProvider,
} from "./platform-parts";

/** The platform's objects, for what needs them beyond the stack outputs (tests, tooling). */
export type PlatformParts = Pick<
    Platform,
    | "provider"
    | "monitoring"
    | "verification"
    | "loadTest"
    | "apps"
    | "edge"
    | "namespace"
    | "secret"
    | "settings"
    | "dataStores"
    | "storage"
    | "backups"
    | "databaseUsers"
    | "pgbouncer"
>;

/**
 * The root of the platform: every component is its child, so the tree `pulumi stack --show-urns` prints
 * is the architecture. Components that were created at the top level before this root existed carry an
 * alias to their old parent (the stack), so live stacks move under it without a replacement.
 */
export class Platform extends pulumi.ComponentResource {
    public readonly provider: k8s.Provider;
    public readonly monitoring: Monitoring;
    public readonly verification?: DeploymentVerification;
    public readonly loadTest?: PerformanceTest;
    public readonly apps: Applications;
    public readonly edge: PublicEdge;
    public readonly namespace: PlatformNamespace;
    public readonly secret: PlatformSecret;
    public readonly settings: PlatformConfigMap;
    public readonly dataStores: DataStores;
    public readonly storage: FileUploadsVolume;
    public readonly exporters: DatabaseExporters;
    public readonly backups: DatabaseBackups;
    public readonly databaseUsers: DatabaseUsers;
    public readonly pgbouncer: PgBouncer;
    /** What index.ts exports. */
    public readonly outputs: ReturnType<typeof platformOutputs>;

    constructor(name: string, cfg: PlatformConfig, rootOpts?: pulumi.ComponentResourceOptions) {
        super("ultramarket:index:Platform", name, {}, rootOpts);
        // Created at the top level before the root component existed (see the URN snapshot test).
        const movedFromStack = { parent: this, aliases: [{ parent: pulumi.rootStackResource }] };
        // One named step per part, in dependency order (platform-parts.ts); each gets what it depends on.
        const provider = clusterProvider(cfg, movedFromStack);
        const opts: pulumi.ComponentResourceOptions = { ...movedFromStack, providers: [provider] };
        const foundation = buildFoundation(cfg, opts);
        const data = buildDataTier(cfg, foundation, opts);
        const exporters = buildDatabaseExporters(cfg, foundation, data, opts);
        const { settings, storage } = buildAppSettingsAndStorage(cfg, foundation, data, opts);
        const { apps, backups } = buildApplications(cfg, foundation, data, { settings, storage }, opts);
        buildNetworkPolicies(cfg, foundation, data, opts);
        const edge = buildEdge(
            cfg,
            {
                namespace: foundation.namespace.name,
                services: Object.fromEntries(Object.entries(apps.services).map(([n, s]) => [n, s.serviceName])),
                root: this,
            },
            opts,
        );
        const monitoring = buildMonitoring(cfg, foundation, opts);
        const { verification, loadTest } = buildPostDeploySteps(cfg, foundation, data, { apps, exporters, edge }, opts);

        this.provider = provider;
        this.monitoring = monitoring;
        this.verification = verification;
        this.loadTest = loadTest;
        this.apps = apps;
        this.edge = edge;
        this.namespace = foundation.namespace;
        this.secret = foundation.secret;
        this.settings = settings;
        this.dataStores = data.dataStores;
        this.storage = storage;
        this.exporters = exporters;
        this.backups = backups;
        this.databaseUsers = data.databaseUsers;
        this.pgbouncer = data.pgbouncer;
        this.outputs = platformOutputs(cfg, this);
        this.registerOutputs(this.outputs);
    }
}

/** The stack outputs: what an operator and the ops commands read. */
function platformOutputs(cfg: PlatformConfig, p: PlatformParts) {
    const { namespace, edge, apps, verification, dataStores } = p;
    return {
        namespace: namespace.name,
        hosts: cfg.hosts,
        urls: edge.urls,
        images: apps.imageRefs,
        // The report the ops deploy command reads ({ok, checks}), and the plan `npm run verify -- --stack` reruns.
        verification: verification
            ? pulumi
                  .all([verification.report, verification.plan])
                  .apply(([report, plan]) => ({ ...(report ?? { status: "pending" }), plan }))
            : pulumi.output({ status: "skipped", reason: "ultramarket:verifyDeployment is false" }),
        dataStores: Object.fromEntries(
            DATA_STORE_NAMES.map((n) => [
                n,
                pulumi.interpolate`${dataStores.endpoints[n].host}.${namespace.name}.svc.cluster.local:${dataStores.endpoints[n].port}`,
            ]),
        ),
    };
}

/** Builds the whole platform from a validated config under its root component; the dependency graph orders everything. */
export function buildPlatform(cfg: PlatformConfig): Platform {
    return new Platform("ultramarket", cfg, { transformations: cpuScaleTransformations(cfg.cpuScalePercent) });
}
