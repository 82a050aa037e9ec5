import { WorkloadPlacement } from "../model/placement";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { AppSpec, DataStoreName, DatabaseWithUsers, GATEWAY, hasOwnUsers, SecretKey } from "../model/catalog";
import { DatabaseCredentials } from "../data/database-users";
import { FileUploadsMount } from "../data/file-uploads";
import { AppImages, AppImagesArgs } from "./images";
import { Microservice } from "./microservice";

export interface ApplicationsArgs {
    /** Where each app's pods may run, by app name (`ultramarket:workloadPlacement`). */
    placement?: WorkloadPlacement;
    namespace: pulumi.Input<string>;
    apps: AppSpec[];
    images: Omit<AppImagesArgs, "apps">;
    secretName: pulumi.Input<string>;
    configMapName: pulumi.Input<string>;
    /** Digest of the ConfigMap's values; see rollout.ts. */
    configChecksum: pulumi.Input<string>;
    /** The platform Secret's values (Pulumi secrets), from which each app's checksum is derived. */
    secretValues: Partial<Record<SecretKey, pulumi.Output<string>>>;
    /** The stack's key of the secret checksums (PlatformSecret.checksumKey; model/rollout.ts secretChecksum). */
    checksumKey: pulumi.Input<string>;
    fileUploads: FileUploadsMount;
    /** Each data store's readiness (its StatefulSet). */
    dataStores: Record<DataStoreName, pulumi.Resource>;
    /**
     * Given every app's image, what must complete before any migration Job runs (the database backup, whose
     * identity is the migrating apps' images: hence a function of them).
     */
    beforeMigrations?: (imageRefs: Record<string, pulumi.Output<string>>) => pulumi.Resource[];
    /** Each app's own database credentials (DatabaseUsers), and the Job that creates the users of each store. */
    databaseUsers?: { credentials: Record<string, DatabaseCredentials>; jobs: Record<DatabaseWithUsers, pulumi.Resource> };
    /** PgBouncer: the apps that use PostgreSQL connect through it (and start once it is ready). */
    postgresPooler?: { url: pulumi.Input<string>; ready: pulumi.Resource };
}

/**
 * Rollout order as graph edges: services after their data stores, api-gateway after the services
 * it routes to, the frontends after the gateway.
 */
function tier(app: AppSpec): number {
    if (app.name === GATEWAY) return 1;
    return app.group === "frontend" ? 2 : 0;
}

/** Every app of the catalog, its image and its place in the rollout order. */
export class Applications extends pulumi.ComponentResource {
    public readonly services: Record<string, Microservice> = {};
    public readonly imageRefs: Record<string, pulumi.Output<string>>;
    /** What "rolled out" means: every Deployment and migration Job. */
    public readonly readyResources: pulumi.Resource[] = [];

    constructor(name: string, args: ApplicationsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("ultramarket:apps:Applications", name, {}, opts);
        const images = new AppImages("images", { ...args.images, apps: args.apps }, { parent: this });
        this.imageRefs = images.refs;
        const beforeMigrations = args.beforeMigrations?.(images.refs) ?? [];

        const deployments: Record<string, k8s.apps.v1.Deployment> = {};
        for (const app of [...args.apps].sort((a, b) => tier(a) - tier(b))) {
            const dependsOn: pulumi.Resource[] = app.dataStores.map((d) => args.dataStores[d]);
            // Its migrations and pods log in as its own users: those exist first.
            if (args.databaseUsers) dependsOn.push(...app.dataStores.filter(hasOwnUsers).map((d) => args.databaseUsers!.jobs[d]));
            const pooled = args.postgresPooler && app.dataStores.includes("postgres") && app.postgresPool;
            if (app.name === GATEWAY) {
                dependsOn.push(...args.apps.filter((a) => a.route.kind === "gateway").map((a) => deployments[a.name]));
            } else if (app.group === "frontend" && deployments[GATEWAY]) {
                dependsOn.push(deployments[GATEWAY]);
            }
            const svc = new Microservice(
                app.name,
                {
                    spec: app,
                    namespace: args.namespace,
                    image: images.refs[app.name],
                    placement: args.placement?.[app.name],
                    secretName: args.secretName,
                    configMapName: args.configMapName,
                    configChecksum: args.configChecksum,
                    secretValues: args.secretValues,
                    checksumKey: args.checksumKey,
                    fileUploads: args.fileUploads,
                    databaseCredentials: args.databaseUsers?.credentials[app.name],
                    postgresPooler: pooled ? { url: args.postgresPooler!.url, poolMax: app.postgresPool!.client } : undefined,
                    dependsOn,
                    migrationDependsOn: beforeMigrations,
                    deploymentDependsOn: pooled ? [args.postgresPooler!.ready] : [],
                },
                { parent: this },
            );
            this.services[app.name] = svc;
            deployments[app.name] = svc.deployment;
            this.readyResources.push(svc.deployment, ...(svc.migration ? [svc.migration] : []));
        }
        this.registerOutputs({ imageRefs: this.imageRefs });
    }
}
