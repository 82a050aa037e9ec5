// doctor's checks, one named step each, in the order runDoctor (index.ts) prints them: Node.js, the Pulumi CLI, the
// backend and secrets, the stack's config, the cluster, Docker, the CRDs the objects need, the policy pack.
import * as os from "os";
import * as path from "path";
import * as fs from "fs";
import { ConfigError, PlatformConfig, PROJECT, REQUIRED_PRODUCTION_SECRETS, parseConfig } from "../../config";
import { toolchainDir } from "../engine";
import { OpsError } from "../errors";
import { LOCAL_STACK, readStackSecretsSettings, resolveStackEnvironment } from "../workspace";
import type { Check, DoctorInput } from "./types";
import { readStackConfigFile } from "./stack-config";

function readJson(file: string): Record<string, any> {
    return JSON.parse(fs.readFileSync(file, "utf8"));
}

export function firstLine(text: string): string {
    return (
        text
            .split("\n")
            .map((l) => l.trim())
            .find(Boolean) ?? ""
    );
}

/** Compares dotted versions: negative when a < b. */
export function compareVersions(a: string, b: string): number {
    const pa = a
        .replace(/^v/, "")
        .split(/[.+-]/)
        .map((x) => parseInt(x, 10) || 0);
    const pb = b
        .replace(/^v/, "")
        .split(/[.+-]/)
        .map((x) => parseInt(x, 10) || 0);
    for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
    return 0;
}

/** Adds --stack to the `pulumi config` commands in the messages of config/ (they are written for the selected stack). */
export function withStack(fix: string, stackName: string): string {
    return fix.replace(/pulumi config (set|rm)\b/g, `pulumi config $1 --stack ${stackName}`);
}

/** Node.js: at least what package.json's engines says. */
export function checkNode({ repoRoot, nodeVersion }: DoctorInput): Check {
    const engines = String(readJson(path.join(repoRoot, "package.json")).engines?.node ?? ">=22");
    const minNode = engines.replace(/^>=\s*/, "");
    return compareVersions(nodeVersion, minNode) >= 0
        ? { name: "Node.js", ok: true, detail: `${nodeVersion} (package.json needs ${engines})` }
        : {
              name: "Node.js",
              ok: false,
              detail: `${nodeVersion} is older than ${engines}`,
              fix: `install Node.js ${minNode} or newer; Node 24 LTS is what CI runs (e.g. nvm install 24, or: bash scripts/node.sh, then put the directory it prints first on PATH)`,
          };
}

/** The Pulumi CLI: on PATH, else the local engine toolchain's (which ops then uses), at least the SDK's version. */
export async function checkPulumiCli({ repoRoot, env, probe }: DoctorInput): Promise<Check> {
    const sdkVersion = String(readJson(path.join(repoRoot, "node_modules", "@pulumi", "pulumi", "package.json")).version);
    let pulumi = await probe.run("pulumi", ["version"]);
    let which = "";
    if (!pulumi.found) {
        const toolchainCli = path.join(toolchainDir(env), "bin", "pulumi");
        const fromToolchain = await probe.run(toolchainCli, ["version"]);
        if (fromToolchain.found) {
            pulumi = fromToolchain;
            which = `the local engine toolchain's ${toolchainCli} (not on PATH; ops uses it), `;
        }
    }
    const installPulumi = `install it: curl -fsSL https://get.pulumi.com | sh -s -- --version ${sdkVersion} (or, offline, build it: see docs/operations.md)`;
    if (!pulumi.found || pulumi.code !== 0) {
        return {
            name: "Pulumi CLI",
            ok: false,
            detail: pulumi.found ? `"pulumi version" failed: ${firstLine(pulumi.stderr)}` : "not found on PATH",
            fix: installPulumi,
        };
    }
    const cli = firstLine(pulumi.stdout).replace(/^v/, "");
    return compareVersions(cli, sdkVersion) >= 0
        ? { name: "Pulumi CLI", ok: true, detail: `${which}v${cli} (SDK ${sdkVersion})` }
        : {
              name: "Pulumi CLI",
              ok: true,
              warning: true,
              detail: `${which}v${cli} is older than the SDK ${sdkVersion}`,
              fix: `upgrade: ${installPulumi}`,
          };
}

/** The backend and how the secrets passphrase is chosen (never the passphrase itself). */
export function checkBackend({ stackName, repoRoot, env }: DoctorInput): Check {
    try {
        const resolved = resolveStackEnvironment({ stackName, workDir: repoRoot }, env, readStackSecretsSettings(repoRoot, stackName));
        const backend = resolved.backendUrl ?? "the CLI's current login (PULUMI_BACKEND_URL unset)";
        return { name: "Backend and secrets", ok: true, detail: `${backend}; passphrase: ${resolved.passphraseSource}` };
    } catch (err) {
        return {
            name: "Backend and secrets",
            ok: false,
            detail: err instanceof OpsError ? err.message : String(err),
            fix: "set the variables named above",
        };
    }
}

/** What the stack's config says, for the checks after it (from the validated config, else the raw values). */
export interface StackFacts {
    checks: Check[];
    cfg?: PlatformConfig;
    raw: Record<string, string>;
    build: boolean;
    prometheusOperator: boolean;
    installsMonitoring: boolean;
    gatewayEdge: boolean;
    installsGateway: boolean;
}

/** The stack's config and secrets, validated by the program's own rules (config/), one check per problem. */
export function checkStackConfig({ stackName, repoRoot }: DoctorInput): StackFacts {
    const checks: Check[] = [];
    const file = readStackConfigFile(repoRoot, stackName);
    let cfg: PlatformConfig | undefined;
    if (!file.exists) {
        checks.push({
            name: "Stack config",
            ok: false,
            detail: `Pulumi.${stackName}.yaml does not exist`,
            fix: `create the stack and its config: pulumi stack init ${stackName}, then pulumi config set ... --stack ${stackName} (see README, configuration reference)`,
        });
    } else {
        try {
            cfg = parseConfig({ stack: stackName, values: file.values, secretKeys: file.secretKeys, baseDir: repoRoot });
            const secrets = Object.keys(REQUIRED_PRODUCTION_SECRETS).filter((k) => file.secretKeys.has(k)).length;
            checks.push({
                name: "Stack config",
                ok: true,
                detail: `valid; ${secrets}/${Object.keys(REQUIRED_PRODUCTION_SECRETS).length} third-party secrets set (encrypted values are checked for length at deploy time)`,
            });
        } catch (err) {
            if (!(err instanceof ConfigError)) throw err;
            for (const problem of err.problems) {
                const [detail, fix] = problem.split(/; (?=(?:set|fix|store|remove|point|rename)\b)/);
                checks.push({
                    name: "Stack config",
                    ok: false,
                    detail,
                    fix: fix ? withStack(fix, stackName) : `see README, configuration reference`,
                });
            }
        }
    }
    const raw = file.values;
    const edgeMode = cfg ? cfg.edge.mode : (raw.edge ?? "gateway");
    return {
        checks,
        cfg,
        raw,
        build: cfg ? cfg.images.build : raw.buildImages === "true",
        prometheusOperator: cfg ? cfg.monitoring.prometheusOperator : raw.prometheusOperator !== "false",
        installsMonitoring: cfg ? cfg.monitoring.installMonitoringStack : raw.installMonitoringStack === "true",
        gatewayEdge: edgeMode === "gateway" || edgeMode === "both",
        installsGateway: cfg ? cfg.edge.installGatewayController : raw.installGatewayController === "true",
    };
}

/** How kubectl reaches the stack's cluster, and whether it did. */
export interface ClusterFacts {
    checks: Check[];
    reachable: boolean;
    kubeArgs: string[];
}

/** The stack's cluster: its kubeconfig exists and the API server answers. */
export async function checkKubernetes({ stackName, repoRoot, env, probe }: DoctorInput, { cfg, raw }: StackFacts): Promise<ClusterFacts> {
    const stackFlag = `--stack ${stackName}`;
    const kubeconfig =
        cfg?.kubernetes.kubeconfig ??
        (raw.kubeconfig ? path.resolve(repoRoot, raw.kubeconfig) : undefined) ??
        env.KUBECONFIG?.split(path.delimiter)[0] ??
        path.join(os.homedir(), ".kube", "config");
    const context = cfg?.kubernetes.context ?? raw.kubeContext;
    const kubeArgs = ["--kubeconfig", kubeconfig, ...(context ? ["--context", context] : []), "--request-timeout=10s"];
    const where = `context ${context ?? "(current)"} of ${kubeconfig}`;
    if (!fs.existsSync(kubeconfig)) {
        const fix =
            stackName === LOCAL_STACK
                ? "start the local control plane first: npm run local:up (scripts/local-cluster.sh)"
                : `point the stack at one: pulumi config set ${PROJECT}:kubeconfig <path> ${stackFlag} (or set KUBECONFIG)`;
        return {
            checks: [{ name: "Kubernetes", ok: false, detail: `kubeconfig ${kubeconfig} does not exist`, fix }],
            reachable: false,
            kubeArgs,
        };
    }
    const version = await probe.run("kubectl", ["version", "-o", "json", ...kubeArgs]);
    if (!version.found) {
        const check: Check = {
            name: "Kubernetes",
            ok: false,
            detail: "kubectl not found on PATH; doctor needs it to reach the cluster",
            fix: "install kubectl (https://kubernetes.io/docs/tasks/tools/, or apt-get install kubectl)",
        };
        return { checks: [check], reachable: false, kubeArgs };
    }
    let server: string | undefined;
    try {
        server = JSON.parse(version.stdout).serverVersion?.gitVersion;
    } catch {
        server = undefined;
    }
    const reachable = server !== undefined;
    const check: Check = reachable
        ? { name: "Kubernetes", ok: true, detail: `${where} reachable, server ${server}` }
        : {
              name: "Kubernetes",
              ok: false,
              detail: `${where} is not reachable: ${firstLine(version.stderr) || "no server version returned"}`,
              fix: `check it with: kubectl ${kubeArgs.join(" ")} cluster-info; choose the context with: pulumi config set ${PROJECT}:kubeContext <context> ${stackFlag}`,
          };
    return { checks: [check], reachable, kubeArgs };
}

/** Docker, only when the program builds images. */
export async function checkDocker({ stackName, probe }: DoctorInput): Promise<Check> {
    const docker = await probe.run("docker", ["version", "--format", "{{.Server.Version}}"]);
    return docker.found && docker.code === 0
        ? { name: "Docker", ok: true, detail: `engine ${firstLine(docker.stdout)} (buildImages is on)` }
        : {
              name: "Docker",
              ok: false,
              detail: docker.found
                  ? `the Docker engine does not answer: ${firstLine(docker.stderr)}`
                  : "docker not found on PATH, but buildImages is on",
              fix: `start or install Docker, or deploy prebuilt images: pulumi config set ${PROJECT}:buildImages false --stack ${stackName}`,
          };
}

/** CRDs the program's objects need when it does not install what brings them. */
async function requireCrds({ probe }: DoctorInput, cluster: ClusterFacts, name: string, crds: string[], fix: string): Promise<Check> {
    if (!cluster.reachable)
        return { name, ok: false, detail: "not checked: the cluster is not reachable", fix: "fix the Kubernetes check first" };
    const got = await probe.run("kubectl", ["get", "crd", ...crds, "-o", "name", "--ignore-not-found", ...cluster.kubeArgs]);
    const missing = crds.filter((c) => !got.stdout.includes(c));
    return got.code === 0 && missing.length === 0
        ? { name, ok: true, detail: `${crds.join(", ")} present` }
        : { name, ok: false, detail: `missing: ${missing.join(", ")}${got.code !== 0 ? ` (${firstLine(got.stderr)})` : ""}`, fix };
}

/** PrometheusRules and ServiceMonitors without installing the operator. */
export function checkPrometheusCrds(input: DoctorInput, cluster: ClusterFacts): Promise<Check> {
    const stackFlag = `--stack ${input.stackName}`;
    return requireCrds(
        input,
        cluster,
        "Prometheus CRDs",
        ["prometheusrules.monitoring.coreos.com", "servicemonitors.monitoring.coreos.com"],
        `install kube-prometheus-stack, let the program install it (pulumi config set ${PROJECT}:installMonitoringStack true ${stackFlag}), or turn the rules off (pulumi config set ${PROJECT}:prometheusOperator false ${stackFlag})`,
    );
}

/** The Gateway API edge without installing Envoy Gateway. */
export function checkGatewayCrds(input: DoctorInput, cluster: ClusterFacts): Promise<Check> {
    const stackFlag = `--stack ${input.stackName}`;
    return requireCrds(
        input,
        cluster,
        "Gateway API CRDs",
        [
            "gateways.gateway.networking.k8s.io",
            "httproutes.gateway.networking.k8s.io",
            "backendtrafficpolicies.gateway.envoyproxy.io",
            "securitypolicies.gateway.envoyproxy.io",
        ],
        `install Envoy Gateway (helm install eg oci://docker.io/envoyproxy/gateway-helm -n envoy-gateway-system --create-namespace), let the program install it (pulumi config set ${PROJECT}:installGatewayController true ${stackFlag}), or deploy without a public edge (pulumi config set ${PROJECT}:edge none ${stackFlag})`,
    );
}

/** The policy pack's dependencies, needed by deploy and the pull-request preview. */
export function checkPolicyPack({ repoRoot }: DoctorInput): Check[] {
    const policies = path.join(repoRoot, "policies");
    if (!fs.existsSync(path.join(policies, "PulumiPolicy.yaml"))) return [];
    return fs.existsSync(path.join(policies, "node_modules"))
        ? [{ name: "Policy pack", ok: true, detail: "policies/ dependencies installed" }]
        : [{ name: "Policy pack", ok: false, detail: "policies/node_modules is missing", fix: "npm ci --prefix policies" }];
}
