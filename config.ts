// The one place configuration is read and validated. Everything else receives a PlatformConfig.
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { APP_NAMES, AppSpec, CATALOG, SecretKey } from "./components/catalog";
import { connectionBudget, poolDemands, POSTGRES_DEFAULT_MAX_CONNECTIONS } from "./components/data/connection-budget";
import { principalIds } from "./components/data/principals";

export const PROJECT = "ultramarket";
export const PRODUCTION_STACK = "production";

/**
 * Secret config keys generated with @pulumi/random when unset, and the platform Secret key each fills (null: kept out
 * of the platform Secret; `databaseUsersSeed` only derives the database users' passwords). Stacks that cannot use the
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
const MIN_SECRET_LENGTH: Record<string, number> = {
    postgresPassword: 16,
    mongodbPassword: 16,
    redisPassword: 16,
    elasticsearchPassword: 16,
    jwtSecret: 32,
    jwtRefreshSecret: 32,
    databaseUsersSeed: 32,
};

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
// Docker's tag grammar; "latest" is handled separately because it is legal but mutable.
const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const REGISTRY = /^[a-z0-9]([a-z0-9._-]*[a-z0-9])?(:[0-9]+)?(\/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*$/;
/** A full image reference with a tag, a digest or both: `registry/app:tag`, `registry/app@sha256:<64 hex>`. */
const IMAGE_REF = /^[a-z0-9]([a-z0-9._-]*[a-z0-9])?(:[0-9]+)?(\/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}(@sha256:[0-9a-f]{64})?|@sha256:[0-9a-f]{64})$/;
const QUANTITY = /^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi)$/;
const CHART_VERSION = /^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$/;

const bool = z.stringbool({ error: 'must be "true" or "false"' });
const int = (min: number, max: number) =>
    z.coerce.number({ error: "must be a whole number" }).int("must be a whole number").min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);
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
const EVERYWHERE = (range: string) => range.endsWith("/0");
const cidr = z.string().refine(isCidr, 'must be a CIDR range such as "203.0.113.0/24"');

/** Where alerts link when runbookBaseUrl is unset: the upstream docs; a fork points it at its own copy. */
export const DEFAULT_RUNBOOK_BASE_URL = "https://github.com/ultramarket/platform/blob/main/docs/observability.md";

/** Redis's maxmemory-policy values. */
export const REDIS_EVICTION_POLICIES = ["volatile-lru", "allkeys-lru", "volatile-lfu", "allkeys-lfu", "volatile-random", "allkeys-random", "volatile-ttl", "noeviction"] as const;
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
const plainSchema = z.strictObject({
    namespace: z.string().regex(DNS_LABEL, "must be a DNS label: lower-case letters, digits and '-', at most 63 characters").optional(),
    domain: z.string().regex(HOSTNAME, 'must be a host name such as "ultramarket.uz"').default("ultramarket.local"),
    imageRegistry: z.string().regex(REGISTRY, 'must be a registry/repository prefix such as "registry.example.com/ultramarket"').default("ultramarket"),
    imageTag: z.string().regex(IMAGE_TAG, "must be a Docker tag (letters, digits, '_', '.', '-'; at most 128)").optional(),
    serviceImageTags: json(z.record(z.string(), z.string().regex(IMAGE_TAG, "must be a Docker tag"))).default({}),
    buildImages: bool.default(false),
    // Rollback pins the images an earlier version ran (its digests in build mode): those apps are never rebuilt.
    pinnedImages: json(z.record(z.string(), z.string().regex(IMAGE_REF, 'must be a full image reference such as "registry.example.com/ultramarket/cart-service@sha256:<digest>"'))).default({}),
    sourceRoot: z.string().min(1).optional(),
    registryServer: z.string().min(1).optional(),
    registryUsername: z.string().min(1).optional(),
    kubeconfig: z.string().min(1).optional(),
    kubeContext: z.string().min(1).optional(),
    storageClass: z.string().regex(DNS_LABEL, "must be a StorageClass name").optional(),
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
    fileUploadsAccessMode: z.enum(["ReadWriteMany", "ReadWriteOnce"]).default("ReadWriteMany"),
    protectData: bool.default(true),
    // A database backup before the migrations run, so a schema change can be undone (README: Backups and restore).
    backupBeforeMigrations: bool.default(true),
    backupRetention: int(1, 100).default(7),
    redisMaxMemoryPercent: int(10, 90).default(75),
    redisEvictionPolicy: z.enum(REDIS_EVICTION_POLICIES).default("volatile-lru"),
    // Unset, PostgreSQL keeps its own default (100) and its command line: setting it restarts PostgreSQL once.
    postgresMaxConnections: int(20, 10_000).optional(),
    pgbouncerMaxClientConnections: int(10, 100_000).default(1000),
    databasePasswordVersions: json(z.record(z.string(), int(1, 1_000_000))).default({}),
    replicas: json(z.record(z.string(), int(1, 100))).default({}),
    enableMobileApp: bool.default(false),
    nodeEnv: z.enum(["production", "staging", "development"]).default("production"),
    logLevel: z.enum(["error", "warn", "info", "debug"]).default("info"),
    jwtExpiresIn: z.string().regex(/^[0-9]+[smhd]$/, 'must be a duration such as "7d" or "12h"').default("7d"),
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
    gatewayControllerNamespace: z.string().regex(DNS_LABEL, "must be the namespace Envoy Gateway runs its proxies in").default("envoy-gateway-system"),
    installGatewayController: bool.default(false),
    // Envoy Gateway's chart is published only to an OCI registry.
    gatewayControllerChart: chart("oci://docker.io/envoyproxy", "v1.9.1"),
    apiRateLimitPerMinute: int(1, 1_000_000).default(600),
    rateLimitExemptCidr: cidr.optional(),
    adminAllowedCidrs: json(z.array(cidr)).default([]),
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

type Plain = z.infer<typeof plainSchema>;

/** Every non-secret `ultramarket:` key (the README's configuration reference documents each). */
export const PLAIN_CONFIG_KEYS: readonly string[] = Object.keys(plainSchema.shape);

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
    kubernetes: { kubeconfig?: string; context?: string };
    /** The catalog entries that are deployed, with replica overrides applied. */
    apps: AppSpec[];
    /** Secret values supplied in config (as secret outputs), by platform Secret key. */
    providedSecrets: Partial<Record<SecretKey, pulumi.Output<string>>>;
    /** Platform Secret keys to generate with @pulumi/random because config leaves them unset. */
    generatedSecrets: SecretKey[];
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
    storage: { className?: string; sizes: Plain["storageSizes"]; fileUploadsAccessMode: Plain["fileUploadsAccessMode"] };
    protectData: boolean;
    /** Backups of PostgreSQL and MongoDB on the `database-backups` volume (its size is storage.sizes.backups). */
    backups: { beforeMigrations: boolean; retention: number };
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
    ingress: Pick<Plain, "ingressClassName" | "tlsIssuer" | "certManager" | "ingressControllerNamespace" | "installIngressController" | "ingressControllerChart" | "installCertManager" | "certManagerChart">;
    monitoring: Pick<Plain, "prometheusOperator" | "prometheusRelease" | "installMonitoringStack" | "monitoringStackChart" | "monitoringNamespace" | "runbookBaseUrl">;
    verification: Pick<Plain, "verifyDeployment" | "loadTest"> & {
        /** The update being run, when `npm run deploy` runs it (UPDATE_ID_ENV): verification runs again and reports it. */
        updateId?: string;
    };
}

/**
 * Environment variable `npm run deploy` sets to a fresh id for each update it starts: the post-deploy
 * verification runs again for that update and its report carries the id, so deploy never trusts a
 * report left by an earlier update.
 */
export const UPDATE_ID_ENV = "ULTRAMARKET_UPDATE_ID";
const UPDATE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** One error naming every bad key; a RunError so Pulumi prints it without a stack trace. */
export class ConfigError extends pulumi.RunError {
    constructor(
        /** The stack whose config is bad (not `stack`: that would shadow Error.stack, the trace). */
        public readonly stackName: string,
        public readonly problems: string[],
    ) {
        super(
            `Invalid configuration for stack "${stackName}" (${problems.length} problem${problems.length === 1 ? "" : "s"}); nothing was deployed:\n` +
                problems.map((p) => `  - ${p}`).join("\n"),
        );
        this.name = "ConfigError";
    }
}

export interface RawConfig {
    stack: string;
    /** Every `ultramarket:` key (without the prefix) and its string value, secrets included. */
    values: Record<string, string>;
    /** Keys whose values are stored encrypted (set with --secret). */
    secretKeys: ReadonlySet<string>;
    /** Directory relative paths are resolved against (the project directory). */
    baseDir: string;
    /** The value of UPDATE_ID_ENV, when set. */
    updateId?: string;
}

const setCmd = (key: string, value: string, secret = false) => `pulumi config set${secret ? " --secret" : ""} ${key} ${value}`;

function suggest(key: string, known: readonly string[]): string {
    const lower = key.toLowerCase();
    const hit = known.find((k) => k.toLowerCase() === lower || k.toLowerCase().replace(/-/g, "") === lower.replace(/[-_]/g, ""));
    return hit ? `did you mean ${PROJECT}:${hit}?` : "see the configuration reference in README.md";
}

function isDirectory(p: string): boolean {
    try {
        return fs.statSync(p).isDirectory();
    } catch {
        return false;
    }
}

/** Validates raw stack configuration into a PlatformConfig, or throws one ConfigError naming every bad key. */
export function parseConfig(raw: RawConfig): PlatformConfig {
    const problems: string[] = [];
    const { stack, values } = raw;
    const isProduction = stack === PRODUCTION_STACK;
    const plainKeys = PLAIN_CONFIG_KEYS;
    const knownKeys = [...plainKeys, ...SECRET_CONFIG_KEYS];

    if (!DNS_LABEL.test(`ultramarket-${stack}`) && values.namespace === undefined) {
        problems.push(
            `stack name "${stack}" cannot form the default namespace "ultramarket-${stack}" (a DNS label); rename the stack (pulumi stack rename <name>) or set ${PROJECT}:namespace (${setCmd("namespace", "<name>")})`,
        );
    }

    const plainInput: Record<string, string> = {};
    for (const [key, value] of Object.entries(values)) {
        if (SECRET_CONFIG_KEYS.includes(key)) continue;
        if (!plainKeys.includes(key)) {
            problems.push(`${PROJECT}:${key} is not a known setting; ${suggest(key, knownKeys)} (remove it with: pulumi config rm ${key})`);
            continue;
        }
        plainInput[key] = value;
    }

    // Each key is parsed on its own, so one bad value never hides the problems of the others.
    const invalid = new Set<string>();
    const parsedFields: Record<string, unknown> = {};
    for (const [key, schema] of Object.entries(plainSchema.shape)) {
        const result = (schema as z.ZodType).safeParse(plainInput[key]);
        if (result.success) {
            parsedFields[key] = result.data;
            continue;
        }
        invalid.add(key);
        for (const issue of result.error.issues) {
            const rest = issue.path.map(String);
            const where = rest.length ? `${key}.${rest.join(".")}` : key;
            const shown = rest.length === 0 ? ` (got "${values[key]}")` : "";
            problems.push(`${PROJECT}:${where} ${issue.message}${shown}; fix it with: ${setCmd(rest.length ? `--path ${where}` : key, "<value>")}`);
        }
    }
    const plain = parsedFields as Plain;

    // Secrets: stored encrypted, long enough, and present where required. Values are never echoed.
    const providedSecrets: Partial<Record<SecretKey, pulumi.Output<string>>> = {};
    const generatedSecrets: SecretKey[] = [];
    const secretTargets: Record<string, SecretKey | null | undefined> = { ...GENERATED_SECRETS, ...REQUIRED_PRODUCTION_SECRETS, registryPassword: undefined };
    for (const [key, target] of Object.entries(secretTargets)) {
        const value = values[key];
        if (value === undefined || value === "") {
            if (GENERATED_SECRETS[key]) generatedSecrets.push(GENERATED_SECRETS[key]);
            else if (isProduction && key in REQUIRED_PRODUCTION_SECRETS) {
                problems.push(`${PROJECT}:${key} is required in the production stack; set it with: ${setCmd(key, "<value>", true)}`);
            }
            continue;
        }
        if (!raw.secretKeys.has(key)) {
            problems.push(`${PROJECT}:${key} is stored in plain text; store it encrypted with: ${setCmd(key, "<value>", true)}`);
            continue;
        }
        const min = MIN_SECRET_LENGTH[key];
        if (min !== undefined && value.length < min) {
            problems.push(`${PROJECT}:${key} is shorter than ${min} characters; set a longer one with: ${setCmd(key, "<value>", true)}, or remove it (pulumi config rm ${key}) to have one generated`);
            continue;
        }
        if (target) providedSecrets[target] = pulumi.secret(value);
    }
    const databaseUsersSeed = values.databaseUsersSeed && raw.secretKeys.has("databaseUsersSeed") && values.databaseUsersSeed.length >= MIN_SECRET_LENGTH.databaseUsersSeed ? pulumi.secret(values.databaseUsersSeed) : undefined;

    const namespace = plain.namespace ?? `ultramarket-${stack}`;
    let tag = plain.imageTag;
    if (tag === undefined) {
        if (isProduction && !invalid.has("imageTag")) problems.push(`${PROJECT}:imageTag is required in the production stack (an immutable tag such as a release version or git SHA); set it with: ${setCmd("imageTag", "<tag>")}`);
        tag = "dev";
    }
    if (isProduction && tag === "latest") {
        problems.push(`${PROJECT}:imageTag is "latest"; production needs an immutable tag (set it with: ${setCmd("imageTag", "<tag>")})`);
    }
    for (const [app, appTag] of Object.entries(plain.serviceImageTags ?? {})) {
        if (!APP_NAMES.includes(app)) problems.push(`${PROJECT}:serviceImageTags.${app} names no app in the catalog (known: ${APP_NAMES.join(", ")}); remove it with: pulumi config rm --path serviceImageTags.${app}`);
        else if (isProduction && appTag === "latest") problems.push(`${PROJECT}:serviceImageTags.${app} is "latest"; production needs an immutable tag (set it with: ${setCmd(`--path serviceImageTags.${app}`, "<tag>")})`);
    }
    for (const app of Object.keys(plain.pinnedImages ?? {})) {
        if (!APP_NAMES.includes(app)) problems.push(`${PROJECT}:pinnedImages.${app} names no app in the catalog (known: ${APP_NAMES.join(", ")}); remove it with: pulumi config rm --path pinnedImages.${app}`);
    }
    for (const [app, n] of Object.entries(plain.replicas ?? {})) {
        if (!APP_NAMES.includes(app)) problems.push(`${PROJECT}:replicas.${app} names no app in the catalog (known: ${APP_NAMES.join(", ")}); remove it with: pulumi config rm --path replicas.${app}`);
        else if (isProduction && n < 2) problems.push(`${PROJECT}:replicas.${app} is ${n}; production runs at least 2 replicas of every app (set it with: ${setCmd(`--path replicas.${app}`, "2")})`);
    }

    const enabled = CATALOG.filter((a) => (a.name === "mobile-app" ? plain.enableMobileApp : a.enabledByDefault));
    let sourceRoot: string | undefined;
    if (plain.sourceRoot !== undefined) sourceRoot = path.resolve(raw.baseDir, plain.sourceRoot);
    // Apps whose image is pinned are not built, so only the others need the app repository.
    if (plain.buildImages && enabled.some((a) => !(a.name in (plain.pinnedImages ?? {})))) {
        if (!sourceRoot) problems.push(`${PROJECT}:sourceRoot is required when ${PROJECT}:buildImages is true; point it at a checkout of the UltraMarket app repository (${setCmd("sourceRoot", "<path>")}) or deploy prebuilt tags (${setCmd("buildImages", "false")})`);
        else if (!isDirectory(sourceRoot)) problems.push(`${PROJECT}:sourceRoot "${plain.sourceRoot}" is not a directory (resolved to ${sourceRoot}); set it to a checkout of the UltraMarket app repository (${setCmd("sourceRoot", "<path>")})`);
        else {
            const missing = enabled
                .filter((a) => !(a.name in (plain.pinnedImages ?? {})) && !fs.existsSync(path.join(sourceRoot, a.context, "Dockerfile")))
                .map((a) => `${a.context}Dockerfile`);
            if (missing.length) problems.push(`${PROJECT}:sourceRoot "${plain.sourceRoot}" is not a checkout of the UltraMarket app repository: missing ${missing.join(", ")}; check out the app repository there, or deploy prebuilt tags (${setCmd("buildImages", "false")})`);
        }
    }
    if ((plain.registryUsername !== undefined) !== (values.registryPassword !== undefined)) {
        problems.push(`${PROJECT}:registryUsername and ${PROJECT}:registryPassword go together; set both (${setCmd("registryUsername", "<user>")}; ${setCmd("registryPassword", "<password>", true)}) or neither`);
    }
    let kubeconfig: string | undefined;
    if (plain.kubeconfig !== undefined) {
        kubeconfig = path.resolve(raw.baseDir, plain.kubeconfig);
        if (!fs.existsSync(kubeconfig)) problems.push(`${PROJECT}:kubeconfig "${plain.kubeconfig}" does not exist (resolved to ${kubeconfig}); set it with: ${setCmd("kubeconfig", "<path>")} or remove it to use the ambient kubeconfig`);
    }

    const edgeMode = plain.edge ?? "gateway";
    const usesIngressNginx = edgeMode === "ingress-nginx" || edgeMode === "both";
    const usesGateway = edgeMode === "gateway" || edgeMode === "both";
    const admin = plain.adminAllowedCidrs ?? [];
    if (isProduction && edgeMode !== "none" && admin.length === 0 && !invalid.has("adminAllowedCidrs")) {
        problems.push(
            `${PROJECT}:adminAllowedCidrs is required in the production stack: admin.${plain.domain ?? "<domain>"} answers only these source ranges (your office or VPN egress); set it with: ${setCmd("--path 'adminAllowedCidrs[0]'", "<cidr>")}`,
        );
    }
    for (const [i, range] of admin.entries()) {
        if (EVERYWHERE(range)) problems.push(`${PROJECT}:adminAllowedCidrs[${i}] is "${range}", which opens the admin panel to the whole internet; list your office or VPN ranges instead (${setCmd(`--path 'adminAllowedCidrs[${i}]'`, "<cidr>")})`);
    }
    if (plain.rateLimitExemptCidr !== undefined && EVERYWHERE(plain.rateLimitExemptCidr)) {
        problems.push(`${PROJECT}:rateLimitExemptCidr is "${plain.rateLimitExemptCidr}", which exempts every client from the API rate limit; set it to the load generator's range (${setCmd("rateLimitExemptCidr", "<cidr>")}) or remove it (pulumi config rm rateLimitExemptCidr)`);
    }
    if (plain.installIngressController && !usesIngressNginx) {
        problems.push(`${PROJECT}:installIngressController is true but ${PROJECT}:edge is "${edgeMode}", so nothing would use ingress-nginx; turn it off (${setCmd("installIngressController", "false")})`);
    }
    if (plain.installGatewayController && !usesGateway) {
        problems.push(`${PROJECT}:installGatewayController is true but ${PROJECT}:edge is "${edgeMode}", so nothing would use Envoy Gateway; set ${setCmd("edge", "gateway")} or turn the install off (${setCmd("installGatewayController", "false")})`);
    }
    const warnings: string[] = [];
    if (isProduction && plain.backupBeforeMigrations === false && enabled.some((a) => a.migrations)) {
        warnings.push(
            `${PROJECT}:backupBeforeMigrations is false: migrations change the production schemas with no backup to go back to; turn it back on (${setCmd("backupBeforeMigrations", "true")}) once your own backup covers this release`,
        );
    }
    if (usesIngressNginx) {
        warnings.push(
            `${PROJECT}:edge is "${edgeMode}": ingress-nginx was retired by Kubernetes SIG Network in March 2026 and gets no releases or security fixes; move to the Gateway API edge (README: "Moving off ingress-nginx", ${setCmd("edge", "gateway")})`,
        );
    }

    const knownPrincipals = principalIds(CATALOG);
    for (const id of Object.keys(plain.databasePasswordVersions ?? {})) {
        if (!knownPrincipals.includes(id)) problems.push(`${PROJECT}:databasePasswordVersions.${id} names no database user (known: ${knownPrincipals.join(", ")}); remove it with: pulumi config rm --path databasePasswordVersions.${id}`);
    }
    if (!invalid.has("postgresMaxConnections") && !invalid.has("pgbouncerMaxClientConnections") && !invalid.has("replicas")) {
        const maxConnections = plain.postgresMaxConnections ?? POSTGRES_DEFAULT_MAX_CONNECTIONS;
        const budget = connectionBudget(poolDemands(withReplicas(enabled, plain.replicas ?? {}, isProduction)), { maxConnections, maxClientConnections: plain.pgbouncerMaxClientConnections });
        if (budget.server.total > budget.server.limit) {
            problems.push(
                `${PROJECT}:postgresMaxConnections is ${maxConnections}${plain.postgresMaxConnections === undefined ? " (PostgreSQL's default)" : ""}, but ${budget.overruns[0]}; raise it (${setCmd("postgresMaxConnections", String(budget.server.total))}; PostgreSQL restarts once to apply it) or lower a service's postgresPool.server in components/catalog.ts`,
            );
        }
        if (budget.client.total > budget.client.limit) {
            problems.push(
                `${PROJECT}:pgbouncerMaxClientConnections is ${plain.pgbouncerMaxClientConnections}, but ${budget.overruns[budget.overruns.length - 1]}; raise it (${setCmd("pgbouncerMaxClientConnections", String(budget.client.total))}) or lower a service's replicas or postgresPool.client`,
            );
        }
    }

    if (raw.updateId !== undefined && !UPDATE_ID.test(raw.updateId)) {
        problems.push(`environment variable ${UPDATE_ID_ENV} is "${raw.updateId.slice(0, 80)}"; it must be 1-64 letters, digits, '.', '_' or '-' (npm run deploy sets it; unset it for a plain pulumi up)`);
    }
    if (problems.length) throw new ConfigError(stack, problems);

    const apps = withReplicas(enabled, plain.replicas, isProduction);

    const hosts = { web: plain.domain, api: `api.${plain.domain}`, admin: `admin.${plain.domain}`, mobile: `m.${plain.domain}` };
    return {
        project: PROJECT,
        stack,
        isProduction,
        namespace,
        domain: plain.domain,
        hosts,
        allowedOrigins: [`https://${hosts.web}`, `https://${hosts.admin}`],
        images: {
            registry: plain.imageRegistry,
            tag,
            perApp: plain.serviceImageTags,
            pinned: plain.pinnedImages,
            build: plain.buildImages,
            sourceRoot,
            push: {
                server: plain.registryServer,
                username: plain.registryUsername,
                password: values.registryPassword !== undefined ? pulumi.secret(values.registryPassword) : undefined,
            },
        },
        kubernetes: { kubeconfig, context: plain.kubeContext },
        apps,
        providedSecrets,
        generatedSecrets,
        app: {
            nodeEnv: plain.nodeEnv,
            logLevel: plain.logLevel,
            jwtExpiresIn: plain.jwtExpiresIn,
            rateLimitWindowMs: plain.rateLimitWindowMs,
            rateLimitMax: plain.rateLimitMax,
            cacheTtl: plain.cacheTtl,
            corsEnabled: plain.corsEnabled,
            helmetEnabled: plain.helmetEnabled,
            compressionEnabled: plain.compressionEnabled,
            monitoringEnabled: plain.monitoringEnabled,
            analyticsEnabled: plain.analyticsEnabled,
        },
        storage: { className: plain.storageClass, sizes: plain.storageSizes, fileUploadsAccessMode: plain.fileUploadsAccessMode },
        protectData: plain.protectData,
        backups: { beforeMigrations: plain.backupBeforeMigrations, retention: plain.backupRetention },
        redis: { maxMemoryPercent: plain.redisMaxMemoryPercent, evictionPolicy: plain.redisEvictionPolicy },
        databaseUsers: { seed: databaseUsersSeed, passwordVersions: plain.databasePasswordVersions },
        postgres: { maxConnections: plain.postgresMaxConnections, maxClientConnections: plain.pgbouncerMaxClientConnections },
        edge: {
            mode: plain.edge,
            gatewayClassName: plain.gatewayClassName,
            gatewayControllerNamespace: plain.gatewayControllerNamespace,
            installGatewayController: plain.installGatewayController,
            gatewayControllerChart: plain.gatewayControllerChart,
            apiRateLimitPerMinute: plain.apiRateLimitPerMinute,
            rateLimitExemptCidr: plain.rateLimitExemptCidr,
            adminAllowedCidrs: plain.adminAllowedCidrs,
        },
        warnings,
        ingress: {
            ingressClassName: plain.ingressClassName,
            tlsIssuer: plain.tlsIssuer,
            certManager: plain.certManager,
            ingressControllerNamespace: plain.ingressControllerNamespace,
            installIngressController: plain.installIngressController,
            ingressControllerChart: plain.ingressControllerChart,
            installCertManager: plain.installCertManager,
            certManagerChart: plain.certManagerChart,
        },
        monitoring: {
            prometheusOperator: plain.prometheusOperator,
            prometheusRelease: plain.prometheusRelease,
            installMonitoringStack: plain.installMonitoringStack,
            monitoringStackChart: plain.monitoringStackChart,
            monitoringNamespace: plain.monitoringNamespace,
            runbookBaseUrl: plain.runbookBaseUrl,
        },
        verification: { verifyDeployment: plain.verifyDeployment, loadTest: plain.loadTest, updateId: raw.updateId },
    };
}

/** The enabled apps with their replica overrides applied (production never runs fewer than 2). */
function withReplicas(enabled: AppSpec[], overrides: Record<string, number>, isProduction: boolean): AppSpec[] {
    const replicaFloor = isProduction ? 2 : 1;
    return enabled.map((a) => ({ ...a, replicas: Math.max(overrides[a.name] ?? a.replicas, replicaFloor) }));
}

/** Reads the running stack's `ultramarket:` configuration and validates it. */
export function loadConfig(): PlatformConfig {
    // Which keys are stored encrypted is exposed only internally; without it, every key counts as encrypted.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { isConfigSecret } = require("@pulumi/pulumi/runtime/config") as { isConfigSecret?: (k: string) => boolean };
    const values: Record<string, string> = {};
    const secretKeys = new Set<string>();
    for (const [full, value] of Object.entries(pulumi.runtime.allConfig())) {
        if (!full.startsWith(`${PROJECT}:`)) continue;
        const key = full.slice(PROJECT.length + 1);
        values[key] = value;
        if (!isConfigSecret || isConfigSecret(full)) secretKeys.add(key);
    }
    const updateId = process.env[UPDATE_ID_ENV] || undefined;
    const cfg = parseConfig({ stack: pulumi.getStack(), values, secretKeys, baseDir: process.cwd(), updateId });
    for (const warning of cfg.warnings) void pulumi.log.warn(warning);
    return cfg;
}
