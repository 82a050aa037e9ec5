// The two kubectl baselines: the runbook's way (apply step by step, waiting as the runbook does) and the floor
// (one server-side apply of everything, then wait for all of it at once).
import { execFile, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { KUBECONFIG, KUBE_CONTEXT, REPO_ROOT, resourceArg, TOOLCHAIN_BIN } from "../../tests/e2e/support/env";
import { awaited, KubeObject, RunbookStep, waitedCondition } from "./manifests";

/** Runs kubectl against the local cluster only; resolves with its output, rejects naming the command. */
export function kubectlAsync(args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
        const child = spawn(path.join(TOOLCHAIN_BIN, "kubectl"), ["--kubeconfig", KUBECONFIG, "--context", KUBE_CONTEXT, ...args], {
            stdio: ["ignore", "pipe", "pipe"],
        });
        let out = "";
        child.stdout.on("data", (d) => (out += d));
        child.stderr.on("data", (d) => (out += d));
        child.on("error", reject);
        child.on("close", (code) =>
            code === 0
                ? resolve(out)
                : reject(new Error(`kubectl ${args.join(" ")} failed (${code}): ${out.trim().split("\n").slice(-3).join(" / ")}`)),
        );
    });
}

/**
 * Writes objects as one JSON List (JSON, not YAML: kubectl reads YAML 1.1, where an unquoted `yes` in a command
 * line would turn into a boolean), readable only by this user (the Secret is among them).
 */
export function writeManifest(dir: string, name: string, objects: KubeObject[]): string {
    const file = path.join(dir, `${name.replace(/[^a-z0-9.-]+/gi, "-")}.json`);
    fs.writeFileSync(file, JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }), { mode: 0o600 });
    return file;
}

function waitArgs(o: KubeObject): string[] {
    const ns = ["-n", o.metadata.namespace ?? "default", "--timeout=300s"];
    if (o.kind === "Job") return ["wait", "--for=condition=complete", `job/${o.metadata.name}`, ...ns];
    const condition = waitedCondition(o);
    if (condition) return ["wait", `--for=condition=${condition}`, `${resourceArg(o.apiVersion, o.kind)}/${o.metadata.name}`, ...ns];
    return ["rollout", "status", `${o.kind.toLowerCase()}/${o.metadata.name}`, ...ns];
}

export async function runbookWay(dir: string, steps: RunbookStep[]): Promise<void> {
    for (const [i, step] of steps.entries()) {
        if (step.objects.length) await kubectlAsync(["apply", "-f", writeManifest(dir, `runbook-${i}-${step.title}`, step.objects)]);
        for (const w of step.waits) await kubectlAsync(waitArgs(w));
    }
}

export async function kubectlFloor(dir: string, objects: KubeObject[]): Promise<void> {
    await kubectlAsync(["apply", "--server-side", "-f", writeManifest(dir, "floor-all", objects)]);
    const namespaces = [
        ...new Set(objects.filter((o) => o.kind === "Deployment" || o.kind === "Job").map((o) => o.metadata.namespace ?? "default")),
    ];
    await Promise.all([
        ...namespaces.flatMap((ns) => [
            kubectlAsync(["wait", "--for=condition=available", "deployment", "--all", "-n", ns, "--timeout=300s"]),
            kubectlAsync(["wait", "--for=condition=complete", "job", "--all", "-n", ns, "--timeout=300s"]),
        ]),
        ...objects.filter((o) => o.kind === "StatefulSet" || (awaited(o) && waitedCondition(o))).map((o) => kubectlAsync(waitArgs(o))),
    ]);
}

/**
 * Deletes what a run created so the next run starts from the same empty cluster: the namespaces (their objects go
 * with them; deleting each object first was 3× slower) and any cluster-scoped object, waiting until all are gone.
 */
export async function removeObjects(dir: string, objects: KubeObject[]): Promise<void> {
    const clusterScoped = objects.filter((o) => !o.metadata.namespace && o.kind !== "Namespace");
    if (clusterScoped.length)
        await kubectlAsync([
            "delete",
            "-f",
            writeManifest(dir, "cleanup", clusterScoped),
            "--ignore-not-found",
            "--wait=true",
            "--timeout=300s",
        ]);
    const namespaces = objects.filter((o) => o.kind === "Namespace").map((o) => `namespace/${o.metadata.name}`);
    if (namespaces.length) await kubectlAsync(["delete", ...namespaces, "--ignore-not-found", "--wait=true", "--timeout=300s"]);
}

/** Empties the real node's Released volumes and makes them Available (scripts/local-node.sh recycle-volumes). */
export async function recycleNodeVolumes(): Promise<void> {
    await new Promise<void>((resolve, reject) =>
        execFile(
            "bash",
            [path.join(REPO_ROOT, "scripts", "local-node.sh"), "recycle-volumes"],
            { env: process.env },
            (err, stdout, stderr) =>
                err
                    ? reject(new Error(`recycling the real node's volumes failed: ${stderr || err.message}`))
                    : resolve(console.log(`[bench]   ${`${stdout}${stderr}`.trim().replace(/^\[local-node\] /, "")}`)),
        ),
    );
}
