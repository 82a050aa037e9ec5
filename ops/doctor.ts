// `doctor`: the runbook's phase 1.1 checks, each failure printed with how to fix it.
// Runs without the Pulumi CLI or a passphrase: it reads Pulumi.<stack>.yaml itself and validates it with the
// program's own parseConfig (config/parse.ts), so doctor and `pulumi up` agree on what is missing.
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { ConfigError, PlatformConfig, PROJECT, REQUIRED_PRODUCTION_SECRETS, parseConfig } from "../config";
import { OpsError } from "./errors";
import { LOCAL_STACK, readStackSecretsSettings, resolveStackEnvironment } from "./workspace";

export interface ProbeResult {
    /** False when the program is not installed (ENOENT). */
    found: boolean;
    code: number;
    stdout: string;
    stderr: string;
}

/** Runs external programs; tests replace it. */
export interface DoctorProbe {
    run(command: string, args: string[]): Promise<ProbeResult>;
}

export const processProbe: DoctorProbe = {
    run(command, args) {
        return new Promise((resolve) => {
            execFile(command, args, { timeout: 20_000, maxBuffer: 8 * 1024 * 1024 }, (err, stdout, stderr) => {
                const e = err as (NodeJS.ErrnoException & { code?: string | number }) | null;
                resolve({
                    found: !(e && e.code === "ENOENT"),
                    code: e ? (typeof e.code === "number" ? e.code : 1) : 0,
                    stdout: String(stdout),
                    stderr: String(stderr),
                });
            });
        });
    },
};

export interface Check {
    name: string;
    ok: boolean;
    detail: string;
    /** How to fix it, when not ok (or when a warning). */
    fix?: string;
    /** Not ok, but not a reason to fail. */
    warning?: boolean;
}

export interface DoctorInput {
    stackName: string;
    repoRoot: string;
    env: NodeJS.ProcessEnv;
    probe: DoctorProbe;
    nodeVersion: string;
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

function readJson(file: string): Record<string, any> {
    return JSON.parse(fs.readFileSync(file, "utf8"));
}

function firstLine(text: string): string {
    return (
        text
            .split("\n")
            .map((l) => l.trim())
            .find(Boolean) ?? ""
    );
}

/** The stack's `ultramarket:` config as parseConfig reads it, from the stack and project files (secrets stay encrypted). */
export function readStackConfigFile(
    repoRoot: string,
    stackName: string,
): { values: Record<string, string>; secretKeys: Set<string>; exists: boolean } {
    const values: Record<string, string> = {};
    const secretKeys = new Set<string>();
    const take = (key: string, raw: unknown) => {
        if (!key.startsWith(`${PROJECT}:`)) return;
        const name = key.slice(PROJECT.length + 1);
        if (raw && typeof raw === "object" && "secure" in raw) {
            // Encrypted: present, but its plaintext (and length) is only known to Pulumi; a long placeholder stands in.
            values[name] = "x".repeat(64);
            secretKeys.add(name);
        } else if (raw !== undefined && raw !== null) {
            values[name] = typeof raw === "string" ? raw : JSON.stringify(raw);
        }
    };
    const project = path.join(repoRoot, "Pulumi.yaml");
    if (fs.existsSync(project)) {
        const doc = (parseYaml(fs.readFileSync(project, "utf8")) ?? {}) as { config?: Record<string, unknown> };
        for (const [key, decl] of Object.entries(doc.config ?? {})) {
            const d = decl as Record<string, unknown> | undefined;
            take(key, d && typeof d === "object" && !("secure" in d) ? (d.value ?? d.default) : decl);
        }
    }
    const file = path.join(repoRoot, `Pulumi.${stackName}.yaml`);
    const exists = fs.existsSync(file);
    if (exists) {
        const doc = (parseYaml(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
        for (const [key, raw] of Object.entries(doc.config ?? {})) take(key, raw);
    }
    return { values, secretKeys, exists };
}

export async function runDoctor(input: DoctorInput): Promise<Check[]> {
    const { stackName, repoRoot, env, probe } = input;
    const checks: Check[] = [];
    const stackFlag = `--stack ${stackName}`;

    // Node.js
    const engines = String(readJson(path.join(repoRoot, "package.json")).engines?.node ?? ">=22");
    const minNode = engines.replace(/^>=\s*/, "");
    checks.push(
        compareVersions(input.nodeVersion, minNode) >= 0
            ? { name: "Node.js", ok: true, detail: `${input.nodeVersion} (package.json needs ${engines})` }
            : {
                  name: "Node.js",
                  ok: false,
                  detail: `${input.nodeVersion} is older than ${engines}`,
                  fix: `install Node.js ${minNode} or newer; Node 24 LTS is what CI runs (e.g. nvm install 24, or: bash scripts/node.sh, then put the directory it prints first on PATH)`,
              },
    );

    // Pulumi CLI
    const sdkVersion = String(readJson(path.join(repoRoot, "node_modules", "@pulumi", "pulumi", "package.json")).version);
    const pulumi = await probe.run("pulumi", ["version"]);
    const installPulumi = `install it: curl -fsSL https://get.pulumi.com | sh -s -- --version ${sdkVersion} (or, offline, build it: see docs/operations.md)`;
    if (!pulumi.found || pulumi.code !== 0) {
        checks.push({
            name: "Pulumi CLI",
            ok: false,
            detail: pulumi.found ? `"pulumi version" failed: ${firstLine(pulumi.stderr)}` : "not found on PATH",
            fix: installPulumi,
        });
    } else {
        const cli = firstLine(pulumi.stdout).replace(/^v/, "");
        checks.push(
            compareVersions(cli, sdkVersion) >= 0
                ? { name: "Pulumi CLI", ok: true, detail: `v${cli} (SDK ${sdkVersion})` }
                : {
                      name: "Pulumi CLI",
                      ok: true,
                      warning: true,
                      detail: `v${cli} is older than the SDK ${sdkVersion}`,
                      fix: `upgrade: ${installPulumi}`,
                  },
        );
    }

    // Backend and secrets
    try {
        const resolved = resolveStackEnvironment({ stackName, workDir: repoRoot }, env, readStackSecretsSettings(repoRoot, stackName));
        const backend = resolved.backendUrl ?? "the CLI's current login (PULUMI_BACKEND_URL unset)";
        checks.push({ name: "Backend and secrets", ok: true, detail: `${backend}; passphrase: ${resolved.passphraseSource}` });
    } catch (err) {
        checks.push({
            name: "Backend and secrets",
            ok: false,
            detail: err instanceof OpsError ? err.message : String(err),
            fix: "set the variables named above",
        });
    }

    // Stack config and secrets, validated by the program's own rules
    const file = readStackConfigFile(repoRoot, stackName);
    let cfg: PlatformConfig | undefined;
    if (!file.exists) {
        checks.push({
            name: "Stack config",
            ok: false,
            detail: `Pulumi.${stackName}.yaml does not exist`,
            fix: `create the stack and its config: pulumi stack init ${stackName}, then pulumi config set ... ${stackFlag} (see README, configuration reference)`,
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
    const build = cfg ? cfg.images.build : raw.buildImages === "true";
    const prometheusOperator = cfg ? cfg.monitoring.prometheusOperator : raw.prometheusOperator !== "false";
    const installsMonitoring = cfg ? cfg.monitoring.installMonitoringStack : raw.installMonitoringStack === "true";
    const edgeMode = cfg ? cfg.edge.mode : (raw.edge ?? "gateway");
    const gatewayEdge = edgeMode === "gateway" || edgeMode === "both";
    const installsGateway = cfg ? cfg.edge.installGatewayController : raw.installGatewayController === "true";

    // Kubernetes
    const kubeconfig =
        cfg?.kubernetes.kubeconfig ??
        (raw.kubeconfig ? path.resolve(repoRoot, raw.kubeconfig) : undefined) ??
        env.KUBECONFIG?.split(path.delimiter)[0] ??
        path.join(os.homedir(), ".kube", "config");
    const context = cfg?.kubernetes.context ?? raw.kubeContext;
    const kubeArgs = ["--kubeconfig", kubeconfig, ...(context ? ["--context", context] : []), "--request-timeout=10s"];
    const where = `context ${context ?? "(current)"} of ${kubeconfig}`;
    let reachable = false;
    if (!fs.existsSync(kubeconfig)) {
        const fix =
            stackName === LOCAL_STACK
                ? "start the local control plane first: npm run local:up (scripts/local-cluster.sh)"
                : `point the stack at one: pulumi config set ${PROJECT}:kubeconfig <path> ${stackFlag} (or set KUBECONFIG)`;
        checks.push({ name: "Kubernetes", ok: false, detail: `kubeconfig ${kubeconfig} does not exist`, fix });
    } else {
        const version = await probe.run("kubectl", ["version", "-o", "json", ...kubeArgs]);
        if (!version.found) {
            checks.push({
                name: "Kubernetes",
                ok: false,
                detail: "kubectl not found on PATH; doctor needs it to reach the cluster",
                fix: "install kubectl (https://kubernetes.io/docs/tasks/tools/, or apt-get install kubectl)",
            });
        } else {
            let server: string | undefined;
            try {
                server = JSON.parse(version.stdout).serverVersion?.gitVersion;
            } catch {
                server = undefined;
            }
            reachable = server !== undefined;
            checks.push(
                reachable
                    ? { name: "Kubernetes", ok: true, detail: `${where} reachable, server ${server}` }
                    : {
                          name: "Kubernetes",
                          ok: false,
                          detail: `${where} is not reachable: ${firstLine(version.stderr) || "no server version returned"}`,
                          fix: `check it with: kubectl ${kubeArgs.join(" ")} cluster-info; choose the context with: pulumi config set ${PROJECT}:kubeContext <context> ${stackFlag}`,
                      },
            );
        }
    }

    // Docker, only when the program builds images
    if (build) {
        const docker = await probe.run("docker", ["version", "--format", "{{.Server.Version}}"]);
        checks.push(
            docker.found && docker.code === 0
                ? { name: "Docker", ok: true, detail: `engine ${firstLine(docker.stdout)} (buildImages is on)` }
                : {
                      name: "Docker",
                      ok: false,
                      detail: docker.found
                          ? `the Docker engine does not answer: ${firstLine(docker.stderr)}`
                          : "docker not found on PATH, but buildImages is on",
                      fix: `start or install Docker, or deploy prebuilt images: pulumi config set ${PROJECT}:buildImages false ${stackFlag}`,
                  },
        );
    }

    // CRDs the program's objects need when it does not install what brings them
    const requireCrds = async (name: string, crds: string[], fix: string) => {
        if (!reachable) {
            checks.push({ name, ok: false, detail: "not checked: the cluster is not reachable", fix: "fix the Kubernetes check first" });
            return;
        }
        const got = await probe.run("kubectl", ["get", "crd", ...crds, "-o", "name", "--ignore-not-found", ...kubeArgs]);
        const missing = crds.filter((c) => !got.stdout.includes(c));
        checks.push(
            got.code === 0 && missing.length === 0
                ? { name, ok: true, detail: `${crds.join(", ")} present` }
                : { name, ok: false, detail: `missing: ${missing.join(", ")}${got.code !== 0 ? ` (${firstLine(got.stderr)})` : ""}`, fix },
        );
    };
    // PrometheusRules/ServiceMonitors without installing the operator
    if (prometheusOperator && !installsMonitoring) {
        await requireCrds(
            "Prometheus CRDs",
            ["prometheusrules.monitoring.coreos.com", "servicemonitors.monitoring.coreos.com"],
            `install kube-prometheus-stack, let the program install it (pulumi config set ${PROJECT}:installMonitoringStack true ${stackFlag}), or turn the rules off (pulumi config set ${PROJECT}:prometheusOperator false ${stackFlag})`,
        );
    }
    // The Gateway API edge without installing Envoy Gateway
    if (gatewayEdge && !installsGateway) {
        await requireCrds(
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

    // Policy pack dependencies, needed by deploy and the pull-request preview
    const policies = path.join(repoRoot, "policies");
    if (fs.existsSync(path.join(policies, "PulumiPolicy.yaml"))) {
        const installed = fs.existsSync(path.join(policies, "node_modules"));
        checks.push(
            installed
                ? { name: "Policy pack", ok: true, detail: "policies/ dependencies installed" }
                : { name: "Policy pack", ok: false, detail: "policies/node_modules is missing", fix: "npm ci --prefix policies" },
        );
    }
    return checks;
}

/** Adds --stack to the `pulumi config` commands in the messages of config/parse.ts (they are written for the selected stack). */
export function withStack(fix: string, stackName: string): string {
    return fix.replace(/pulumi config (set|rm)\b/g, `pulumi config $1 --stack ${stackName}`);
}

export function formatChecks(stackName: string, checks: readonly Check[]): string[] {
    const lines = [`doctor: stack "${stackName}"`];
    for (const c of checks) {
        const tag = c.ok ? (c.warning ? "WARN" : "ok  ") : "FAIL";
        lines.push(`  ${tag}  ${c.name}: ${c.detail}`);
        if ((!c.ok || c.warning) && c.fix) lines.push(`        fix: ${c.fix}`);
    }
    const failed = checks.filter((c) => !c.ok).length;
    lines.push(failed ? `${failed} problem(s) found.` : "all checks passed.");
    return lines;
}
