// The validated configuration every component receives: the shape parse.ts derives from the schema.
import * as pulumi from "@pulumi/pulumi";
import { AppSpec, BackedUpDatabase, SecretKey } from "../components/model/catalog";
import { ThirdPartyImages } from "../components/model/third-party-images";
import { DataStorePlacement, WorkloadPlacement } from "../components/model/placement";
import { EdgeMode, Plain, RedisEvictionPolicy } from "./schema";

export interface PlatformConfig {
    project: string;
    stack: string;
    isProduction: boolean;
    namespace: string;
    domain: string;
    hosts: { web: string; api: string; admin: string; mobile: string };
    allowedOrigins: string[];
    images: {
        registry: string;
        tag: string;
        /** Per-app tag overrides (app name -> tag). */
        perApp: Record<string, string>;
        /** App name -> full image reference deployed as is, neither built nor derived from a tag (`pinnedImages`). */
        pinned: Record<string, string>;
        build: boolean;
        /** Absolute path of the app repository checkout; set when build is true. */
        sourceRoot?: string;
        push: { server?: string; username?: string; password?: pulumi.Output<string> };
    };
    /** Every third-party image by logical name: its default, mirrored or overridden (config/images.ts). */
    thirdPartyImages: ThirdPartyImages;
    /** Per data store, where its StatefulSet's pods may run (config/placement.ts); unset stores: anywhere, as before. */
    dataStorePlacement: DataStorePlacement;
    /** Per workload (an app or one of PLATFORM_WORKLOADS), where its pods may run; unset: anywhere, as before. */
    workloadPlacement: WorkloadPlacement;
    /** Every container's CPU request and limit, in percent of the production sizing (100: as sized). */
    cpuScalePercent: number;
    /** DNS servers outside the pod network that the allow-dns policy lets pods reach on port 53. */
    dnsServerCidrs: string[];
    kubernetes: { kubeconfig?: string; context?: string };
    /** The catalog entries that are deployed, with replica overrides applied. */
    apps: AppSpec[];
    /** Secret values supplied in config (as secret outputs), by platform Secret key. */
    providedSecrets: Partial<Record<SecretKey, pulumi.Output<string>>>;
    /** Platform Secret keys to generate with @pulumi/random because config leaves them unset. */
    generatedSecrets: SecretKey[];
    /** The key of the pod templates' secret checksums (undefined: generated once per stack). */
    rolloutChecksumKey?: pulumi.Output<string>;
    app: Pick<
        Plain,
        | "nodeEnv"
        | "logLevel"
        | "jwtExpiresIn"
        | "rateLimitWindowMs"
        | "rateLimitMax"
        | "cacheTtl"
        | "corsEnabled"
        | "helmetEnabled"
        | "compressionEnabled"
        | "monitoringEnabled"
        | "analyticsEnabled"
    >;
    storage: {
        /** Per volume its StorageClass: `storageClasses`, else `storageClass`, else (undefined) the cluster's default. */
        classes: Record<keyof Plain["storageSizes"], string | undefined>;
        sizes: Plain["storageSizes"];
        fileUploadsAccessMode: Plain["fileUploadsAccessMode"];
    };
    protectData: boolean;
    /** Backups of PostgreSQL and MongoDB on the `database-backups` volume (its size is storage.sizes.backups). */
    backups: { beforeMigrations: boolean; retention: number; stores: readonly BackedUpDatabase[] };
    /** The database users: the seed their passwords derive from (undefined: generated), and per-principal versions. */
    databaseUsers: { seed?: pulumi.Output<string>; passwordVersions: Record<string, number> };
    /** PostgreSQL's connection limit (set on its command line only when configured) and PgBouncer's client limit. */
    postgres: { maxConnections?: number; maxClientConnections: number };
    /** Redis bounds: maxmemory as a share of its container's memory limit, and what it evicts at that bound. */
    redis: { maxMemoryPercent: number; evictionPolicy: RedisEvictionPolicy };
    /** The public edge: which implementation, its install, and the limits and restrictions it enforces. */
    edge: {
        mode: EdgeMode;
        gatewayClassName: string;
        gatewayControllerNamespace: string;
        installGatewayController: boolean;
        gatewayControllerChart: Plain["gatewayControllerChart"];
        /** Per source address, on the API host only (the static frontends are not limited). */
        apiRateLimitPerMinute: number;
        /** The load generator's range, exempt from the per-client API limit. */
        rateLimitExemptCidr?: string;
        /** The only source ranges admin.<domain> answers (empty: nobody). */
        adminAllowedCidrs: string[];
    };
    /** Things worth saying at every run that are not errors (e.g. the retired ingress-nginx chosen). */
    warnings: string[];
    ingress: Pick<
        Plain,
        | "ingressClassName"
        | "tlsIssuer"
        | "certManager"
        | "ingressControllerNamespace"
        | "installIngressController"
        | "ingressControllerChart"
        | "installCertManager"
        | "certManagerChart"
    >;
    monitoring: Pick<
        Plain,
        | "prometheusOperator"
        | "prometheusRelease"
        | "installMonitoringStack"
        | "monitoringStackChart"
        | "monitoringNamespace"
        | "runbookBaseUrl"
    >;
    verification: Pick<Plain, "verifyDeployment" | "loadTest"> & {
        /** The update being run, when `npm run deploy` runs it (UPDATE_ID_ENV): verification runs again and reports it. */
        updateId?: string;
    };
}
