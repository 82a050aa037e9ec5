// Running one Kubernetes Job to its end for `npm run restore`, behind `JobRunner` so unit tests use a fake. The real
// runner drives kubectl against the stack's cluster (ops/kubectl.ts), as drift does.
import { Kubectl, KubectlOptions, kubectlOptionsForStack } from "../kubectl";

/** A Job as `kubectl create -f -` takes it. */
export interface JobManifest {
    apiVersion: "batch/v1";
    kind: "Job";
    metadata: { name: string; namespace: string; labels: Record<string, string> };
    spec: Record<string, unknown>;
}

export interface JobResult {
    succeeded: boolean;
    /** Its pod's output (every container's, in order). */
    logs: string;
    /** Why it did not succeed (the Job's Failed condition, or the timeout). */
    reason?: string;
}

export interface JobRunner {
    /** Where the runner works, for reports: e.g. `context ultramarket-local of .local/kubeconfig`. */
    readonly where: string;
    /** Creates the Job, waits until it completes or fails (or `timeoutSeconds` pass), returns its output; deletes it unless `keep`. */
    run(job: JobManifest, opts: { timeoutSeconds: number; keep: boolean }): Promise<JobResult>;
}

interface JobStatus {
    conditions?: { type: string; status: string; message?: string; reason?: string }[];
}

export class KubectlJobRunner implements JobRunner {
    readonly where: string;
    private readonly cli: Kubectl;

    constructor(private readonly opts: KubectlOptions & { pollMs?: number } = {}) {
        this.cli = new Kubectl(opts);
        this.where = this.cli.where;
    }

    async run(job: JobManifest, opts: { timeoutSeconds: number; keep: boolean }): Promise<JobResult> {
        const ns = ["-n", job.metadata.namespace];
        const ref = `job/${job.metadata.name}`;
        // The manifest goes on stdin; it holds names and secretKeyRefs, never a secret value.
        await this.kubectl(["create", "-f", "-", ...ns], JSON.stringify(job));
        const deadline = Date.now() + opts.timeoutSeconds * 1000;
        let outcome: { succeeded: boolean; reason?: string } | undefined;
        while (!outcome) {
            const status = (JSON.parse(await this.kubectl(["get", ref, ...ns, "-o", "json"])) as { status?: JobStatus }).status ?? {};
            const done = (status.conditions ?? []).find((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True");
            if (done)
                outcome = {
                    succeeded: done.type === "Complete",
                    reason: done.type === "Failed" ? `${done.reason ?? "Failed"}: ${done.message ?? ""}`.trim() : undefined,
                };
            else if (Date.now() > deadline)
                return {
                    succeeded: false,
                    logs: await this.logs(ref, ns),
                    reason: `still running after ${opts.timeoutSeconds}s; it was left running (kubectl -n ${job.metadata.namespace} get ${ref})`,
                };
            else await new Promise((r) => setTimeout(r, this.opts.pollMs ?? 2000));
        }
        const logs = await this.logs(ref, ns);
        if (!opts.keep) await this.kubectl(["delete", ref, ...ns, "--cascade=background", "--wait=false"]).catch(() => undefined);
        return { ...outcome, logs };
    }

    private logs(ref: string, ns: string[]): Promise<string> {
        return this.kubectl(["logs", ref, ...ns, "--all-containers=true"]).catch(
            (err: Error) => `(no logs: ${err.message.split("\n")[0]})`,
        );
    }

    private kubectl(args: string[], stdin?: string): Promise<string> {
        return this.cli.run(args, stdin);
    }
}

/** The runner for a stack: its `ultramarket:kubeconfig` (relative to the repository) and `ultramarket:kubeContext`. */
export function jobsForStack(config: Record<string, { value?: string } | undefined>, repoRoot: string): KubectlJobRunner {
    return new KubectlJobRunner(kubectlOptionsForStack(config, repoRoot));
}
