// Raw stack configuration to a PlatformConfig: the schema, the rules across keys, and what is derived from them.
// One ConfigError names every bad key and the command that fixes it, before any resource is registered.
import * as pulumi from "@pulumi/pulumi";
import { AppSpec, CATALOG } from "../components/model/catalog";
import { syntheticApps } from "../components/model/synthetic";
import { Plain, PRODUCTION_STACK, PROJECT } from "./schema";
import {
    applicationRules,
    buildRules,
    clusterRules,
    dataRules,
    edgeRules,
    imageRules,
    readPlainKeys,
    readSecrets,
    RuleContext,
    SecretValues,
    stackRules,
    withReplicas,
} from "./rules";
import { PlatformConfig } from "./platform-config";
import { thirdPartyImagesConfig } from "./images";
import { inBackupOrder } from "../components/data/backup-jobs";
import { placementConfig } from "./placement";

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

/**
 * Validates raw stack configuration into a PlatformConfig, or throws one ConfigError naming every bad key. The rules
 * are named steps, one per domain (rules.ts, laid out as schema.ts is); every step runs, so one bad key never hides
 * another, and their problems are listed in this order.
 */
export function parseConfig(raw: RawConfig): PlatformConfig {
    const { stack, values } = raw;
    const isProduction = stack === PRODUCTION_STACK;
    const stackProblems = stackRules(raw);
    const keys = readPlainKeys(raw);
    const { plain, invalid } = keys;
    const secrets = readSecrets(raw, isProduction);
    const enabled = [
        ...CATALOG.filter((a) => (a.name === "mobile-app" ? plain.enableMobileApp : a.enabledByDefault)),
        // The benchmark's scale mode (0 unless set; refused in production by applicationRules).
        ...syntheticApps(plain.syntheticApps ?? 0),
    ];
    const ctx: RuleContext = { raw, plain, invalid, isProduction, enabled };
    const images = imageRules(ctx);
    const applications = applicationRules(ctx);
    const build = buildRules(ctx);
    const cluster = clusterRules(ctx);
    const edge = edgeRules(ctx);
    const data = dataRules(ctx);
    // the third-party images (config/images.ts) and the data stores' placement (config/placement.ts)
    const thirdPartyProblems: string[] = [];
    const thirdPartyImages = thirdPartyImagesConfig(plain, isProduction, thirdPartyProblems);
    const placementProblems: string[] = [];
    const { dataStorePlacement, workloadPlacement } = placementConfig(
        plain,
        placementProblems,
        enabled.map((a) => a.name),
    );
    const problems = [
        ...stackProblems,
        ...keys.problems,
        ...secrets.problems,
        ...images.problems,
        ...thirdPartyProblems,
        ...applications,
        ...build.problems,
        ...cluster.problems,
        ...edge.problems,
        ...data.problems,
        ...placementProblems,
        ...updateIdRule(raw.updateId),
    ];
    if (problems.length) throw new ConfigError(stack, problems);
    return assemble(raw, plain, {
        isProduction,
        namespace: plain.namespace ?? `ultramarket-${stack}`,
        tag: images.tag,
        sourceRoot: build.sourceRoot,
        kubeconfig: cluster.kubeconfig,
        apps: withReplicas(enabled, plain.replicas, isProduction),
        secrets,
        registryPassword: values.registryPassword,
        thirdPartyImages,
        dataStorePlacement,
        workloadPlacement,
        warnings: [...data.warnings, ...edge.warnings],
    });
}

/** The run: the update id deploy passes in the environment. */
function updateIdRule(updateId: string | undefined): string[] {
    if (updateId === undefined || UPDATE_ID.test(updateId)) return [];
    return [
        `environment variable ${UPDATE_ID_ENV} is "${updateId.slice(0, 80)}"; it must be 1-64 letters, digits, '.', '_' or '-' (npm run deploy sets it; unset it for a plain pulumi up)`,
    ];
}

interface Derived {
    isProduction: boolean;
    namespace: string;
    tag: string;
    sourceRoot?: string;
    kubeconfig?: string;
    apps: AppSpec[];
    secrets: SecretValues;
    registryPassword?: string;
    thirdPartyImages: PlatformConfig["thirdPartyImages"];
    dataStorePlacement: PlatformConfig["dataStorePlacement"];
    workloadPlacement: PlatformConfig["workloadPlacement"];
    warnings: string[];
}

/** The validated keys and what the rules derived, in the shape the components take. */
function assemble(raw: RawConfig, plain: Plain, d: Derived): PlatformConfig {
    const { stack } = raw;
    const {
        isProduction,
        namespace,
        tag,
        sourceRoot,
        kubeconfig,
        apps,
        thirdPartyImages,
        dataStorePlacement,
        workloadPlacement,
        warnings,
    } = d;
    const { providedSecrets, generatedSecrets, databaseUsersSeed, rolloutChecksumKey } = d.secrets;
    const values = { registryPassword: d.registryPassword };
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
        workloadPlacement,
        cpuScalePercent: plain.cpuScalePercent,
        dnsServerCidrs: plain.dnsServerCidrs,
        kubernetes: { kubeconfig, context: plain.kubeContext },
        apps,
        providedSecrets,
        generatedSecrets,
        rolloutChecksumKey,
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
        storage: {
            // Every volume has a size (storageSizes defaults each), so its keys are the volumes.
            classes: Object.fromEntries(
                (Object.keys(plain.storageSizes) as (keyof Plain["storageSizes"])[]).map((v) => [
                    v,
                    plain.storageClasses[v] ?? plain.storageClass,
                ]),
            ) as PlatformConfig["storage"]["classes"],
            sizes: plain.storageSizes,
            fileUploadsAccessMode: plain.fileUploadsAccessMode,
        },
        protectData: plain.protectData,
        backups: {
            beforeMigrations: plain.backupBeforeMigrations,
            retention: plain.backupRetention,
            stores: inBackupOrder(plain.backupStores),
        },
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
