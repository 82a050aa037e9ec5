// Raw stack configuration to a PlatformConfig: the schema, the rules across keys, and what is derived from them.
// One ConfigError names every bad key and the command that fixes it, before any resource is registered.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { APP_NAMES, AppSpec, CATALOG, SecretKey } from "../components/model/catalog";
import { connectionBudget, poolDemands, POSTGRES_DEFAULT_MAX_CONNECTIONS } from "../components/data/connection-budget";
import { principalIds } from "../components/data/principals";
import {
    DNS_LABEL,
    EVERYWHERE,
    GENERATED_SECRETS,
    MIN_SECRET_LENGTH,
    Plain,
    PLAIN_CONFIG_KEYS,
    plainSchema,
    PRODUCTION_STACK,
    PROJECT,
    REQUIRED_PRODUCTION_SECRETS,
    SECRET_CONFIG_KEYS,
} from "./schema";
import { PlatformConfig } from "./platform-config";
import { thirdPartyImagesConfig } from "./images";
import { dataStorePlacementConfig } from "./placement";

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
            problems.push(
                `${PROJECT}:${where} ${issue.message}${shown}; fix it with: ${setCmd(rest.length ? `--path ${where}` : key, "<value>")}`,
            );
        }
    }
    const plain = parsedFields as Plain;

    // Secrets: stored encrypted, long enough, and present where required. Values are never echoed.
    const providedSecrets: Partial<Record<SecretKey, pulumi.Output<string>>> = {};
    const generatedSecrets: SecretKey[] = [];
    const secretTargets: Record<string, SecretKey | null | undefined> = {
        ...GENERATED_SECRETS,
        ...REQUIRED_PRODUCTION_SECRETS,
        registryPassword: undefined,
    };
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
            problems.push(
                `${PROJECT}:${key} is shorter than ${min} characters; set a longer one with: ${setCmd(key, "<value>", true)}, or remove it (pulumi config rm ${key}) to have one generated`,
            );
            continue;
        }
        if (target) providedSecrets[target] = pulumi.secret(value);
    }
    const databaseUsersSeed =
        values.databaseUsersSeed &&
        raw.secretKeys.has("databaseUsersSeed") &&
        values.databaseUsersSeed.length >= MIN_SECRET_LENGTH.databaseUsersSeed
            ? pulumi.secret(values.databaseUsersSeed)
            : undefined;

    const namespace = plain.namespace ?? `ultramarket-${stack}`;
    let tag = plain.imageTag;
    if (tag === undefined) {
        if (isProduction && !invalid.has("imageTag"))
            problems.push(
                `${PROJECT}:imageTag is required in the production stack (an immutable tag such as a release version or git SHA); set it with: ${setCmd("imageTag", "<tag>")}`,
            );
        tag = "dev";
    }
    if (isProduction && tag === "latest") {
        problems.push(`${PROJECT}:imageTag is "latest"; production needs an immutable tag (set it with: ${setCmd("imageTag", "<tag>")})`);
    }
    for (const [app, appTag] of Object.entries(plain.serviceImageTags ?? {})) {
        if (!APP_NAMES.includes(app))
            problems.push(
                `${PROJECT}:serviceImageTags.${app} names no app in the catalog (known: ${APP_NAMES.join(", ")}); remove it with: pulumi config rm --path serviceImageTags.${app}`,
            );
        else if (isProduction && appTag === "latest")
            problems.push(
                `${PROJECT}:serviceImageTags.${app} is "latest"; production needs an immutable tag (set it with: ${setCmd(`--path serviceImageTags.${app}`, "<tag>")})`,
            );
    }
    for (const app of Object.keys(plain.pinnedImages ?? {})) {
        if (!APP_NAMES.includes(app))
            problems.push(
                `${PROJECT}:pinnedImages.${app} names no app in the catalog (known: ${APP_NAMES.join(", ")}); remove it with: pulumi config rm --path pinnedImages.${app}`,
            );
    }
    const thirdPartyImages = thirdPartyImagesConfig(plain, isProduction, problems);
    const dataStorePlacement = dataStorePlacementConfig(plain, problems);
    for (const [app, n] of Object.entries(plain.replicas ?? {})) {
        if (!APP_NAMES.includes(app))
            problems.push(
                `${PROJECT}:replicas.${app} names no app in the catalog (known: ${APP_NAMES.join(", ")}); remove it with: pulumi config rm --path replicas.${app}`,
            );
        else if (isProduction && n < 2)
            problems.push(
                `${PROJECT}:replicas.${app} is ${n}; production runs at least 2 replicas of every app (set it with: ${setCmd(`--path replicas.${app}`, "2")})`,
            );
    }

    const enabled = CATALOG.filter((a) => (a.name === "mobile-app" ? plain.enableMobileApp : a.enabledByDefault));
    let sourceRoot: string | undefined;
    if (plain.sourceRoot !== undefined) sourceRoot = path.resolve(raw.baseDir, plain.sourceRoot);
    // Apps whose image is pinned are not built, so only the others need the app repository.
    if (plain.buildImages && enabled.some((a) => !(a.name in (plain.pinnedImages ?? {})))) {
        if (!sourceRoot)
            problems.push(
                `${PROJECT}:sourceRoot is required when ${PROJECT}:buildImages is true; point it at a checkout of the UltraMarket app repository (${setCmd("sourceRoot", "<path>")}) or deploy prebuilt tags (${setCmd("buildImages", "false")})`,
            );
        else if (!isDirectory(sourceRoot))
            problems.push(
                `${PROJECT}:sourceRoot "${plain.sourceRoot}" is not a directory (resolved to ${sourceRoot}); set it to a checkout of the UltraMarket app repository (${setCmd("sourceRoot", "<path>")})`,
            );
        else {
            const missing = enabled
                .filter((a) => !(a.name in (plain.pinnedImages ?? {})) && !fs.existsSync(path.join(sourceRoot, a.context, "Dockerfile")))
                .map((a) => `${a.context}Dockerfile`);
            if (missing.length)
                problems.push(
                    `${PROJECT}:sourceRoot "${plain.sourceRoot}" is not a checkout of the UltraMarket app repository: missing ${missing.join(", ")}; check out the app repository there, or deploy prebuilt tags (${setCmd("buildImages", "false")})`,
                );
        }
    }
    if ((plain.registryUsername !== undefined) !== (values.registryPassword !== undefined)) {
        problems.push(
            `${PROJECT}:registryUsername and ${PROJECT}:registryPassword go together; set both (${setCmd("registryUsername", "<user>")}; ${setCmd("registryPassword", "<password>", true)}) or neither`,
        );
    }
    let kubeconfig: string | undefined;
    if (plain.kubeconfig !== undefined) {
        kubeconfig = path.resolve(raw.baseDir, plain.kubeconfig);
        if (!fs.existsSync(kubeconfig))
            problems.push(
                `${PROJECT}:kubeconfig "${plain.kubeconfig}" does not exist (resolved to ${kubeconfig}); set it with: ${setCmd("kubeconfig", "<path>")} or remove it to use the ambient kubeconfig`,
            );
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
        if (EVERYWHERE(range))
            problems.push(
                `${PROJECT}:adminAllowedCidrs[${i}] is "${range}", which opens the admin panel to the whole internet; list your office or VPN ranges instead (${setCmd(`--path 'adminAllowedCidrs[${i}]'`, "<cidr>")})`,
            );
    }
    if (plain.rateLimitExemptCidr !== undefined && EVERYWHERE(plain.rateLimitExemptCidr)) {
        problems.push(
            `${PROJECT}:rateLimitExemptCidr is "${plain.rateLimitExemptCidr}", which exempts every client from the API rate limit; set it to the load generator's range (${setCmd("rateLimitExemptCidr", "<cidr>")}) or remove it (pulumi config rm rateLimitExemptCidr)`,
        );
    }
    if (plain.installIngressController && !usesIngressNginx) {
        problems.push(
            `${PROJECT}:installIngressController is true but ${PROJECT}:edge is "${edgeMode}", so nothing would use ingress-nginx; turn it off (${setCmd("installIngressController", "false")})`,
        );
    }
    if (plain.installGatewayController && !usesGateway) {
        problems.push(
            `${PROJECT}:installGatewayController is true but ${PROJECT}:edge is "${edgeMode}", so nothing would use Envoy Gateway; set ${setCmd("edge", "gateway")} or turn the install off (${setCmd("installGatewayController", "false")})`,
        );
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
        if (!knownPrincipals.includes(id))
            problems.push(
                `${PROJECT}:databasePasswordVersions.${id} names no database user (known: ${knownPrincipals.join(", ")}); remove it with: pulumi config rm --path databasePasswordVersions.${id}`,
            );
    }
    if (!invalid.has("postgresMaxConnections") && !invalid.has("pgbouncerMaxClientConnections") && !invalid.has("replicas")) {
        const maxConnections = plain.postgresMaxConnections ?? POSTGRES_DEFAULT_MAX_CONNECTIONS;
        const budget = connectionBudget(poolDemands(withReplicas(enabled, plain.replicas ?? {}, isProduction)), {
            maxConnections,
            maxClientConnections: plain.pgbouncerMaxClientConnections,
        });
        if (budget.server.total > budget.server.limit) {
            problems.push(
                `${PROJECT}:postgresMaxConnections is ${maxConnections}${plain.postgresMaxConnections === undefined ? " (PostgreSQL's default)" : ""}, but ${budget.overruns[0]}; raise it (${setCmd("postgresMaxConnections", String(budget.server.total))}; PostgreSQL restarts once to apply it) or lower a service's postgresPool.server in components/model/catalog.ts`,
            );
        }
        if (budget.client.total > budget.client.limit) {
            problems.push(
                `${PROJECT}:pgbouncerMaxClientConnections is ${plain.pgbouncerMaxClientConnections}, but ${budget.overruns[budget.overruns.length - 1]}; raise it (${setCmd("pgbouncerMaxClientConnections", String(budget.client.total))}) or lower a service's replicas or postgresPool.client`,
            );
        }
    }

    if (raw.updateId !== undefined && !UPDATE_ID.test(raw.updateId)) {
        problems.push(
            `environment variable ${UPDATE_ID_ENV} is "${raw.updateId.slice(0, 80)}"; it must be 1-64 letters, digits, '.', '_' or '-' (npm run deploy sets it; unset it for a plain pulumi up)`,
        );
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
        thirdPartyImages,
        dataStorePlacement,
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
