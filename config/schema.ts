// What can be configured: every `ultramarket:` key with its type, range and default (zod), which keys are secret,
// and which are generated or required in production. parse.ts applies it; the README's reference documents it.
import * as net from "net";
import { z } from "zod";
import { BACKED_UP_DATABASES, SecretKey } from "../components/model/catalog";
import { MAX_SYNTHETIC_APPS } from "../components/model/synthetic";
import { isImageReference, isRegistryPrefix } from "./image-reference";

export const PROJECT = "ultramarket";
export const PRODUCTION_STACK = "production";

/**
 * Secret config keys generated with @pulumi/random when unset, and the platform Secret key each fills (null: kept out
 * of the platform Secret; `databaseUsersSeed` only derives the database users' passwords, `rolloutChecksumKey` only keys
 * the pod templates' secret checksums). Stacks that cannot use the
 * random provider (local, e2e) supply every one of them.
 */
export const GENERATED_SECRETS: Record<string, SecretKey | null> = {
    postgresPassword: "POSTGRES_PASSWORD",
    mongodbPassword: "MONGODB_PASSWORD",
    redisPassword: "REDIS_PASSWORD",
    elasticsearchPassword: "ELASTICSEARCH_PASSWORD",
    jwtSecret: "JWT_SECRET",
    jwtRefreshSecret: "JWT_REFRESH_SECRET",
    databaseUsersSeed: null,
    rolloutChecksumKey: null,
};

/** Third-party credentials: required in the production stack, optional elsewhere. */
export const REQUIRED_PRODUCTION_SECRETS: Record<string, SecretKey> = {
    clickMerchantId: "CLICK_MERCHANT_ID",
    clickSecretKey: "CLICK_SECRET_KEY",
    paymeMerchantId: "PAYME_MERCHANT_ID",
    paymeSecretKey: "PAYME_SECRET_KEY",
    eskizEmail: "ESKIZ_EMAIL",
    eskizPassword: "ESKIZ_PASSWORD",
    playMobileLogin: "PLAY_MOBILE_LOGIN",
    playMobilePassword: "PLAY_MOBILE_PASSWORD",
    sendgridApiKey: "SENDGRID_API_KEY",
    smtpPassword: "SMTP_PASSWORD",
};

/** Secret config keys that are neither platform Secret keys nor generated. */
const OTHER_SECRETS = ["registryPassword"] as const;

export const SECRET_CONFIG_KEYS: readonly string[] = [
    ...Object.keys(GENERATED_SECRETS),
    ...Object.keys(REQUIRED_PRODUCTION_SECRETS),
    ...OTHER_SECRETS,
];

/** Minimum lengths for secrets an operator supplies instead of letting us generate them. */
export const MIN_SECRET_LENGTH: Record<string, number> = {
    postgresPassword: 16,
    mongodbPassword: 16,
    redisPassword: 16,
    elasticsearchPassword: 16,
    jwtSecret: 32,
    jwtRefreshSecret: 32,
    databaseUsersSeed: 32,
    rolloutChecksumKey: 32,
};

export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
// Docker's tag grammar; "latest" is handled separately because it is legal but mutable.
const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const REGISTRY = /^[a-z0-9]([a-z0-9._-]*[a-z0-9])?(:[0-9]+)?(\/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*$/;
/** A full image reference with a tag, a digest or both: `registry/app:tag`, `registry/app@sha256:<64 hex>`. */
const IMAGE_REF =
    /^[a-z0-9]([a-z0-9._-]*[a-z0-9])?(:[0-9]+)?(\/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}(@sha256:[0-9a-f]{64})?|@sha256:[0-9a-f]{64})$/;
const QUANTITY = /^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi)$/;
const CHART_VERSION = /^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$/;

const bool = z.stringbool({ error: 'must be "true" or "false"' });
const int = (min: number, max: number) =>
    z.coerce
        .number({ error: "must be a whole number" })
        .int("must be a whole number")
        .min(min, `must be at least ${min}`)
        .max(max, `must be at most ${max}`);
const json = <T extends z.ZodType>(schema: T) =>
    z.preprocess((v, ctx) => {
        if (typeof v !== "string") return v;
        try {
            return JSON.parse(v);
        } catch {
            ctx.addIssue({ code: "custom", message: "must be JSON (or set it with --path)" });
            return z.NEVER;
        }
    }, schema);
const quantity = z.string().regex(QUANTITY, 'must be a storage quantity such as "20Gi"');
/** An IPv4 or IPv6 range in CIDR notation ("203.0.113.0/24", "2001:db8::/48"). */
export function isCidr(value: string): boolean {
    const [address, bits, ...rest] = value.split("/");
    if (rest.length || bits === undefined || !/^[0-9]{1,3}$/.test(bits)) return false;
    const family = net.isIP(address);
    return family !== 0 && Number(bits) <= (family === 4 ? 32 : 128);
}
/** A range that contains every address: never a valid allowlist. */
export const EVERYWHERE = (range: string) => range.endsWith("/0");
const cidr = z.string().refine(isCidr, 'must be a CIDR range such as "203.0.113.0/24"');
const storageClassName = z.string().regex(DNS_LABEL, "must be a StorageClass name");

/** Where alerts link when runbookBaseUrl is unset: the upstream docs; a fork points it at its own copy. */
export const DEFAULT_RUNBOOK_BASE_URL = "https://github.com/ultramarket/platform/blob/main/docs/observability.md";

/** Redis's maxmemory-policy values. */
export const REDIS_EVICTION_POLICIES = [
    "volatile-lru",
    "allkeys-lru",
    "volatile-lfu",
    "allkeys-lfu",
    "volatile-random",
    "allkeys-random",
    "volatile-ttl",
    "noeviction",
] as const;
export type RedisEvictionPolicy = (typeof REDIS_EVICTION_POLICIES)[number];

/** The public edge: Gateway API (Envoy Gateway), the retired ingress-nginx, both side by side while DNS moves, or none. */
export const EDGE_MODES = ["gateway", "ingress-nginx", "both", "none"] as const;
export type EdgeMode = (typeof EDGE_MODES)[number];

const chart = (repo: string, version: string) =>
    json(
        z.strictObject({
            // https:// chart repositories, or oci:// registries (helm.v3.Release pulls both).
            repo: z.url({ error: "must be a chart repository URL (https://...) or OCI registry (oci://...)" }).default(repo),
            version: z.string().regex(CHART_VERSION, 'must be a chart version such as "1.2.3"').default(version),
        }),
    ).default({ repo, version });

/** Plain (non-secret) keys with their defaults. Stack-dependent defaults are filled in below. */
export const plainSchema = z.strictObject({
    namespace: z.string().regex(DNS_LABEL, "must be a DNS label: lower-case letters, digits and '-', at most 63 characters").optional(),
    domain: z.string().regex(HOSTNAME, 'must be a host name such as "ultramarket.uz"').default("ultramarket.local"),
    imageRegistry: z
        .string()
        .regex(REGISTRY, 'must be a registry/repository prefix such as "registry.example.com/ultramarket"')
        .default("ultramarket"),
    imageTag: z.string().regex(IMAGE_TAG, "must be a Docker tag (letters, digits, '_', '.', '-'; at most 128)").optional(),
    serviceImageTags: json(z.record(z.string(), z.string().regex(IMAGE_TAG, "must be a Docker tag"))).default({}),
    buildImages: bool.default(false),
    // Rollback pins the images an earlier version ran (its digests in build mode): those apps are never rebuilt.
    pinnedImages: json(
        z.record(
            z.string(),
            z
                .string()
                .regex(IMAGE_REF, 'must be a full image reference such as "registry.example.com/ultramarket/cart-service@sha256:<digest>"'),
        ),
    ).default({}),
    // The data stores', PgBouncer's and the exporters' images (components/model/third-party-images.ts): per logical
    // name a reference of its own, and/or a mirror every default moves under (config/images.ts resolves both).
    thirdPartyImages: json(
        z.record(
            z.string(),
            z
                .string()
                .refine(
                    isImageReference,
                    'must be a full image reference (registry/repository[:tag][@sha256:<64 hex>]) such as "registry.example.com/library/postgres:16.4-alpine"',
                ),
        ),
    ).default({}),
    imageMirror: z
        .string()
        .refine(isRegistryPrefix, 'must be a registry host with an optional path, without a scheme, such as "registry.example.com/mirror"')
        .optional(),
    sourceRoot: z.string().min(1).optional(),
    registryServer: z.string().min(1).optional(),
    registryUsername: z.string().min(1).optional(),
    kubeconfig: z.string().min(1).optional(),
    kubeContext: z.string().min(1).optional(),
    storageClass: storageClassName.optional(),
    storageSizes: json(
        z.strictObject({
            postgres: quantity.default("20Gi"),
            mongodb: quantity.default("20Gi"),
            redis: quantity.default("5Gi"),
            elasticsearch: quantity.default("30Gi"),
            fileUploads: quantity.default("50Gi"),
            backups: quantity.default("50Gi"),
        }),
    ).default({ postgres: "20Gi", mongodb: "20Gi", redis: "5Gi", elasticsearch: "30Gi", fileUploads: "50Gi", backups: "50Gi" }),
    // Per volume a StorageClass other than storageClass (e.g. the local node's for the stores that run there).
    storageClasses: json(
        z.strictObject({
            postgres: storageClassName.optional(),
            mongodb: storageClassName.optional(),
            redis: storageClassName.optional(),
            elasticsearch: storageClassName.optional(),
            fileUploads: storageClassName.optional(),
            backups: storageClassName.optional(),
        }),
    ).default({}),
    fileUploadsAccessMode: z.enum(["ReadWriteMany", "ReadWriteOnce"]).default("ReadWriteMany"),
    protectData: bool.default(true),
    // A database backup before the migrations run, so a schema change can be undone (README: Backups and restore).
    backupBeforeMigrations: bool.default(true),
    backupRetention: int(1, 100).default(7),
    // Which databases each backup dumps; production must keep every one its apps use (config/rules.ts).
    backupStores: json(
        z
            .array(z.enum(BACKED_UP_DATABASES))
            .min(1, "must name at least one database (postgres, mongodb); to take no backups set backupBeforeMigrations false")
            .refine((l) => new Set(l).size === l.length, "names a database twice"),
    ).default([...BACKED_UP_DATABASES]),
    redisMaxMemoryPercent: int(10, 90).default(75),
    redisEvictionPolicy: z.enum(REDIS_EVICTION_POLICIES).default("volatile-lru"),
    // Unset, PostgreSQL keeps its own default (100) and its command line: setting it restarts PostgreSQL once.
    postgresMaxConnections: int(20, 10_000).optional(),
    pgbouncerMaxClientConnections: int(10, 100_000).default(1000),
    databasePasswordVersions: json(z.record(z.string(), int(1, 1_000_000))).default({}),
    // Per data store a nodeSelector and tolerations for its StatefulSet's pods (dedicated database node pools);
    // config/placement.ts checks store names, label syntax and the toleration rules, naming each --path.
    dataStorePlacement: json(
        z.record(z.string(), z.unknown(), { error: "must be a map of data store -> {nodeSelector, tolerations} (set it with --path)" }),
    ).default({}),
    // Per workload (an app, pgbouncer, an exporter, a users Job, the backup Job) the same for its pods.
    workloadPlacement: json(
        z.record(z.string(), z.unknown(), { error: "must be a map of workload -> {nodeSelector, tolerations} (set it with --path)" }),
    ).default({}),
    // Every container's CPU request and limit as a percent of the production sizing (components/model/cpu-scale.ts).
    cpuScalePercent: int(1, 100).default(100),
    replicas: json(z.record(z.string(), int(1, 100))).default({}),
    enableMobileApp: bool.default(false),
    // Benchmark only (npm run bench -- --scale): this many synthetic apps beside the catalog's; refused in production.
    syntheticApps: int(0, MAX_SYNTHETIC_APPS).default(0),
    nodeEnv: z.enum(["production", "staging", "development"]).default("production"),
    logLevel: z.enum(["error", "warn", "info", "debug"]).default("info"),
    jwtExpiresIn: z
        .string()
        .regex(/^[0-9]+[smhd]$/, 'must be a duration such as "7d" or "12h"')
        .default("7d"),
    rateLimitWindowMs: int(1000, 86_400_000).default(900_000),
    rateLimitMax: int(1, 1_000_000).default(1000),
    cacheTtl: int(0, 604_800).default(3600),
    corsEnabled: bool.default(true),
    helmetEnabled: bool.default(true),
    compressionEnabled: bool.default(true),
    monitoringEnabled: bool.default(true),
    analyticsEnabled: bool.default(true),
    edge: z.enum(EDGE_MODES).default("gateway"),
    gatewayClassName: z.string().regex(DNS_LABEL, "must be a GatewayClass name").default("envoy-gateway"),
    gatewayControllerNamespace: z
        .string()
        .regex(DNS_LABEL, "must be the namespace Envoy Gateway runs its proxies in")
        .default("envoy-gateway-system"),
    installGatewayController: bool.default(false),
    // Envoy Gateway's chart is published only to an OCI registry.
    gatewayControllerChart: chart("oci://docker.io/envoyproxy", "v1.9.1"),
    apiRateLimitPerMinute: int(1, 1_000_000).default(600),
    rateLimitExemptCidr: cidr.optional(),
    adminAllowedCidrs: json(z.array(cidr)).default([]),
    // DNS servers outside the pod network that pods may query (NodeLocal DNSCache's 169.254.20.10/32, a host-network CoreDNS).
    dnsServerCidrs: json(z.array(cidr)).default([]),
    ingressClassName: z.string().regex(DNS_LABEL, "must be an IngressClass name").default("nginx"),
    tlsIssuer: z.string().regex(DNS_LABEL, "must be a cert-manager ClusterIssuer name").default("letsencrypt-prod"),
    certManager: bool.default(true),
    ingressControllerNamespace: z.string().regex(DNS_LABEL, "must be the ingress controller's namespace").default("ingress-nginx"),
    installIngressController: bool.default(false),
    ingressControllerChart: chart("https://kubernetes.github.io/ingress-nginx", "4.11.3"),
    installCertManager: bool.default(false),
    certManagerChart: chart("https://charts.jetstack.io", "v1.21.2"),
    prometheusOperator: bool.default(true),
    prometheusRelease: z.string().regex(DNS_LABEL, "must be the kube-prometheus-stack Helm release name").default("kube-prometheus-stack"),
    installMonitoringStack: bool.default(false),
    monitoringStackChart: chart("https://prometheus-community.github.io/helm-charts", "65.1.1"),
    monitoringNamespace: z.string().regex(DNS_LABEL, "must be a DNS label").default("ultramarket-monitoring"),
    // Alertmanager, Grafana and pagers open runbook_url outside the repository: a relative path resolves nowhere.
    runbookBaseUrl: z
        .string()
        .regex(
            /^https?:\/\/[^\s/#?]+[^\s#]*$/,
            'must be an absolute http(s) URL of your copy of docs/observability.md, without "#" (a relative path does not resolve from an alert), such as "https://git.example.com/platform/blob/main/docs/observability.md"',
        )
        .default(DEFAULT_RUNBOOK_BASE_URL),
    verifyDeployment: bool.default(true),
    loadTest: z.enum(["off", "smoke", "load", "stress", "endurance"]).default("off"),
});

export type Plain = z.infer<typeof plainSchema>;

/** Every non-secret `ultramarket:` key (the README's configuration reference documents each). */
export const PLAIN_CONFIG_KEYS: readonly string[] = Object.keys(plainSchema.shape);
