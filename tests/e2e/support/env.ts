// Environment of the end-to-end suite: the locally built toolchain and the local control plane.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

export const REPO_ROOT = path.resolve(__dirname, "..", "..", "..");
export const TOOLCHAIN_DIR =
    process.env.ULTRAMARKET_TOOLCHAIN_DIR ?? path.join(process.env.HOME ?? "/root", ".cache", "ultramarket-toolchain");
export const TOOLCHAIN_BIN = path.join(TOOLCHAIN_DIR, "bin");
export const KUBECONFIG = process.env.ULTRAMARKET_KUBECONFIG ?? path.join(REPO_ROOT, ".local", "kubeconfig");
export const KUBE_CONTEXT = "ultramarket-local";
export const POLICY_PACK = path.join(REPO_ROOT, "policies");

/** Environment variables for every Pulumi command (from `scripts/toolchain.sh env`). */
export function toolchainEnv(): Record<string, string> {
    const out = execFileSync("bash", [path.join(REPO_ROOT, "scripts", "toolchain.sh"), "env"], { encoding: "utf8" });
    const env: Record<string, string> = {};
    for (const line of out.split("\n")) {
        const m = /^export ([A-Z_]+)="?(.*?)"?$/.exec(line.trim());
        if (!m) continue;
        env[m[1]] = m[2].replace(/\$PATH/g, process.env.PATH ?? "");
    }
    return env;
}

/** Why the suite cannot run here, or undefined when the toolchain and the cluster are ready. */
export function missingPrerequisites(): string | undefined {
    try {
        execFileSync("bash", [path.join(REPO_ROOT, "scripts", "toolchain.sh"), "check"], { stdio: "pipe" });
    } catch (err) {
        const stderr = String((err as { stderr?: Buffer }).stderr ?? "").trim();
        return `the local engine toolchain is incomplete (${stderr}); build it with: npm run toolchain`;
    }
    const cluster = missingCluster();
    if (cluster) return cluster;
    if (!fs.existsSync(path.join(POLICY_PACK, "node_modules", "@pulumi", "policy"))) {
        return `the policy pack's dependencies are not installed; run: npm ci --prefix policies`;
    }
    return undefined;
}

/** Why the local cluster cannot be used (no kubeconfig, API server not ready), or undefined. */
export function missingCluster(): string | undefined {
    if (!fs.existsSync(path.join(TOOLCHAIN_BIN, "kubectl"))) return `no kubectl in ${TOOLCHAIN_BIN}; build it with: npm run toolchain`;
    if (!fs.existsSync(KUBECONFIG))
        return `no local cluster kubeconfig at ${KUBECONFIG}; start it with: bash scripts/local-cluster.sh start`;
    try {
        kubectl(["get", "--raw", "/readyz"]);
    } catch (err) {
        return `the local cluster is not ready (${String(err).split("\n")[0]}); start it with: bash scripts/local-cluster.sh start`;
    }
    return undefined;
}

/** kubectl against the local cluster only (explicit kubeconfig and context; never the user's default). */
export function kubectl(args: string[], input?: string): string {
    return execFileSync(path.join(TOOLCHAIN_BIN, "kubectl"), ["--kubeconfig", KUBECONFIG, "--context", KUBE_CONTEXT, ...args], {
        encoding: "utf8",
        input,
        stdio: ["pipe", "pipe", "pipe"],
        maxBuffer: 64 * 1024 * 1024,
    });
}

export function kubectlJson<T = any>(args: string[]): T {
    return JSON.parse(kubectl([...args, "-o", "json"])) as T;
}

/** `kubectl get` resource argument for an apiVersion/kind pair (e.g. deployments.v1.apps). */
export function resourceArg(apiVersion: string, kind: string): string {
    const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
    return group ? `${kind}.${version}.${group}` : `${kind}`;
}

/** Wall-clock seconds of an async step, printed for the README figures (never asserted). */
export async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
    const start = process.hrtime.bigint();
    try {
        return await fn();
    } finally {
        const secs = Number(process.hrtime.bigint() - start) / 1e9;
        const line = `[e2e timing] ${label}: ${secs.toFixed(1)}s`;
        console.log(line);
        const file = process.env.ULTRAMARKET_E2E_TIMINGS;
        if (file) fs.appendFileSync(file, `${line}\n`);
    }
}

/**
 * Polls `check` every `everyMs` until it returns a value (anything but undefined or false) and returns that value, or
 * fails naming `what` after `timeoutMs`.
 */
export async function waitFor<T>(
    what: string,
    timeoutMs: number,
    check: () => T | undefined | false | Promise<T | undefined | false>,
    everyMs = 250,
): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const value = await check();
        if (value !== undefined && value !== false) return value;
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
        await new Promise((r) => setTimeout(r, everyMs));
    }
}
