// The rules across keys, one named step per domain as schema.ts lays the keys out: the stack, the keys themselves,
// secrets, images, applications, the image build, the cluster, the edge, the data tier and the run. Each step returns
// its problems (each naming the key and the command that fixes it) and warnings; parse.ts runs them in this order.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { APP_NAMES, AppSpec, CATALOG, BACKED_UP_DATABASES, FILE_UPLOADS, SecretKey } from "../components/model/catalog";
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
    PROJECT,
    REQUIRED_PRODUCTION_SECRETS,
    SECRET_CONFIG_KEYS,
} from "./schema";
import { PLACEMENT_ENTRIES } from "./placement";
import { schemaProblems } from "./problems";

/** What parse.ts reads (RawConfig there): the stack, its `ultramarket:` values and which are encrypted. */
export interface RuleInput {
    stack: string;
    values: Record<string, string>;
    secretKeys: ReadonlySet<string>;
    baseDir: string;
}

/** The plain keys as parsed, and what every rule after the schema needs to know. */
export interface RuleContext {
    raw: RuleInput;
    plain: Plain;
    /** Keys whose value the schema refused (their own rules stay quiet: the schema's problem says it). */
    invalid: ReadonlySet<string>;
    isProduction: boolean;
    /** The catalog's apps this stack runs. */
    enabled: AppSpec[];
}

export interface Findings {
    problems: string[];
    warnings: string[];
}

export const setCmd = (key: string, value: string, secret = false) => `pulumi config set${secret ? " --secret" : ""} ${key} ${value}`;

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

const notInCatalog = (key: string, app: string) =>
    `${PROJECT}:${key}.${app} names no app in the catalog (known: ${APP_NAMES.join(", ")}); remove it with: pulumi config rm --path ${key}.${app}`;

/** The stack: its name must form the default namespace unless one is set. */
export function stackRules(raw: RuleInput): string[] {
    if (DNS_LABEL.test(`ultramarket-${raw.stack}`) || raw.values.namespace !== undefined) return [];
    return [
        `stack name "${raw.stack}" cannot form the default namespace "ultramarket-${raw.stack}" (a DNS label); rename the stack (pulumi stack rename <name>) or set ${PROJECT}:namespace (${setCmd("namespace", "<name>")})`,
    ];
}

/** The keys: unknown ones refused (with a suggestion), each plain key parsed on its own by the schema. */
export function readPlainKeys(raw: RuleInput): { plain: Plain; invalid: Set<string>; problems: string[] } {
    const problems: string[] = [];
    const knownKeys = [...PLAIN_CONFIG_KEYS, ...SECRET_CONFIG_KEYS];
    const plainInput: Record<string, string> = {};
    for (const [key, value] of Object.entries(raw.values)) {
        if (SECRET_CONFIG_KEYS.includes(key)) continue;
        if (!PLAIN_CONFIG_KEYS.includes(key)) {
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
        problems.push(...schemaProblems(key, result.error.issues, { received: raw.values[key], entry: PLACEMENT_ENTRIES[key] }));
    }
    return { plain: parsedFields as Plain, invalid, problems };
}

export interface SecretValues {
    providedSecrets: Partial<Record<SecretKey, pulumi.Output<string>>>;
    generatedSecrets: SecretKey[];
    databaseUsersSeed?: pulumi.Output<string>;
    rolloutChecksumKey?: pulumi.Output<string>;
}

/** Secrets: stored encrypted, long enough, and present where required. Values are never echoed. */
export function readSecrets(raw: RuleInput, isProduction: boolean): SecretValues & { problems: string[] } {
    const { values } = raw;
    const problems: string[] = [];
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
    // Generated secrets kept out of the platform Secret: used as given once valid (else generated).
    const ownSecret = (key: "databaseUsersSeed" | "rolloutChecksumKey") => {
        const value = values[key];
        return value && raw.secretKeys.has(key) && value.length >= MIN_SECRET_LENGTH[key] ? pulumi.secret(value) : undefined;
    };
    const databaseUsersSeed = ownSecret("databaseUsersSeed");
    const rolloutChecksumKey = ownSecret("rolloutChecksumKey");
    return { providedSecrets, generatedSecrets, databaseUsersSeed, rolloutChecksumKey, problems };
}

/** Images: an immutable tag in production, and per-app tags and pins only for apps in the catalog. */
export function imageRules({ plain, invalid, isProduction }: RuleContext): { tag: string; problems: string[] } {
    const problems: string[] = [];
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
        if (!APP_NAMES.includes(app)) problems.push(notInCatalog("serviceImageTags", app));
        else if (isProduction && appTag === "latest")
            problems.push(
                `${PROJECT}:serviceImageTags.${app} is "latest"; production needs an immutable tag (set it with: ${setCmd(`--path serviceImageTags.${app}`, "<tag>")})`,
            );
    }
    for (const app of Object.keys(plain.pinnedImages ?? {})) {
        if (!APP_NAMES.includes(app)) problems.push(notInCatalog("pinnedImages", app));
    }
    return { tag, problems };
}

/**
 * Applications: replica overrides name catalog apps, production runs at least 2 of each, and the benchmark's
 * synthetic apps never reach production.
 */
export function applicationRules({ raw, plain, isProduction, enabled }: RuleContext): string[] {
    const problems: string[] = [];
    if (isProduction && raw.values.syntheticApps !== undefined)
        problems.push(
            `${PROJECT}:syntheticApps is a benchmark-only setting (it adds made-up apps) and is refused in the production stack; remove it with: pulumi config rm syntheticApps`,
        );
    // The benchmark's synthetic apps (in `enabled`) are apps of the stack too: its scale mode sizes and places them like the others.
    const known = [...APP_NAMES, ...enabled.map((a) => a.name)];
    for (const [app, n] of Object.entries(plain.replicas ?? {})) {
        if (!known.includes(app)) problems.push(notInCatalog("replicas", app));
        else if (isProduction && n < 2)
            problems.push(
                `${PROJECT}:replicas.${app} is ${n}; production runs at least 2 replicas of every app (set it with: ${setCmd(`--path replicas.${app}`, "2")})`,
            );
    }
    return problems;
}

/** The image build: a checkout of the app repository when images are built, and registry credentials in pairs. */
export function buildRules({ raw, plain, enabled }: RuleContext): { sourceRoot?: string; problems: string[] } {
    const problems: string[] = [];
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
    if ((plain.registryUsername !== undefined) !== (raw.values.registryPassword !== undefined)) {
        problems.push(
            `${PROJECT}:registryUsername and ${PROJECT}:registryPassword go together; set both (${setCmd("registryUsername", "<user>")}; ${setCmd("registryPassword", "<password>", true)}) or neither`,
        );
    }
    return { sourceRoot, problems };
}

/** The cluster: a configured kubeconfig must exist. */
export function clusterRules({ raw, plain }: RuleContext): { kubeconfig?: string; problems: string[] } {
    if (plain.kubeconfig === undefined) return { problems: [] };
    const kubeconfig = path.resolve(raw.baseDir, plain.kubeconfig);
    if (fs.existsSync(kubeconfig)) return { kubeconfig, problems: [] };
    return {
        kubeconfig,
        problems: [
            `${PROJECT}:kubeconfig "${plain.kubeconfig}" does not exist (resolved to ${kubeconfig}); set it with: ${setCmd("kubeconfig", "<path>")} or remove it to use the ambient kubeconfig`,
        ],
    };
}

/** The edge: an admin allowlist in production and never /0, installs only for the edge in use; ingress-nginx warned about. */
export function edgeRules({ plain, invalid, isProduction }: RuleContext): Findings {
    const problems: string[] = [];
    const warnings: string[] = [];
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
    if (usesIngressNginx) {
        warnings.push(
            `${PROJECT}:edge is "${edgeMode}": ingress-nginx was retired by Kubernetes SIG Network in March 2026 and gets no releases or security fixes; move to the Gateway API edge (README: "Moving off ingress-nginx", ${setCmd("edge", "gateway")})`,
        );
    }
    return { problems, warnings };
}

/**
 * The data tier: backups before production migrations (warned), an upload volume that can bind, known database users,
 * and the connection budget.
 */
export function dataRules({ plain, invalid, isProduction, enabled }: RuleContext): Findings {
    const problems: string[] = [];
    const warnings: string[] = [];
    if (isProduction && plain.backupBeforeMigrations === false && enabled.some((a) => a.migrations)) {
        warnings.push(
            `${PROJECT}:backupBeforeMigrations is false: migrations change the production schemas with no backup to go back to; turn it back on (${setCmd("backupBeforeMigrations", "true")}) once your own backup covers this release`,
        );
    }
    if (isProduction && !invalid.has("backupStores") && plain.backupBeforeMigrations !== false) {
        const used = BACKED_UP_DATABASES.filter((s) => enabled.some((a) => a.dataStores.includes(s)));
        const left = used.filter((s) => !plain.backupStores.includes(s));
        if (left.length)
            problems.push(
                `${PROJECT}:backupStores is ${JSON.stringify(plain.backupStores)}, leaving out ${left.join(" and ")}, which the production apps write to: a restore after a failed migration would bring back only part of their data; back up every one (${setCmd("backupStores", `'${JSON.stringify(used)}'`)}, or pulumi config rm backupStores for all)`,
            );
    }
    const uploadsClass = plain.storageClasses?.fileUploads ?? plain.storageClass;
    const uploadsInvalid = ["fileUploadsAccessMode", "storageClass", "storageClasses"].some((k) => invalid.has(k));
    if (
        !uploadsInvalid &&
        plain.fileUploadsAccessMode === "ReadWriteMany" &&
        !uploadsClass &&
        enabled.some((a) => a.name === FILE_UPLOADS.app)
    ) {
        problems.push(
            `${PROJECT}:fileUploadsAccessMode is ReadWriteMany, but the file-uploads volume names no StorageClass (storageClasses.fileUploads or storageClass), so it asks the cluster's default, which on most managed clusters (EBS, Persistent Disk, Azure Disk) is ReadWriteOnce only: the claim would stay Pending and ${FILE_UPLOADS.app} would never start; set one of: a ReadWriteMany class (EFS, Filestore, Azure Files, NFS, CephFS): ${setCmd("--path storageClasses.fileUploads", "<class>")}, or ReadWriteOnce, which runs ${FILE_UPLOADS.app}'s pods on the volume's node: ${setCmd("fileUploadsAccessMode", "ReadWriteOnce")}`,
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
    return { problems, warnings };
}

/** The enabled apps with their replica overrides applied (production never runs fewer than 2). */
export function withReplicas(enabled: AppSpec[], overrides: Record<string, number>, isProduction: boolean): AppSpec[] {
    const replicaFloor = isProduction ? 2 : 1;
    return enabled.map((a) => ({ ...a, replicas: Math.max(overrides[a.name] ?? a.replicas, replicaFloor) }));
}
