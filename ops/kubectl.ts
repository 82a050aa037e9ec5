// kubectl as the ops commands run it against a stack's cluster: the binary (on PATH, or $ULTRAMARKET_KUBECTL) with
// the kubeconfig and context the stack's config names (`ultramarket:kubeconfig`, `ultramarket:kubeContext`), else
// the ambient ones, exactly as the program's provider does. Used by drift (ops/drift/cluster.ts) and restore.
import { execFile } from "child_process";
import * as path from "path";

export interface KubectlOptions {
    kubeconfig?: string;
    context?: string;
    /** The kubectl binary; default $ULTRAMARKET_KUBECTL or `kubectl` on PATH. */
    kubectl?: string;
}

export class Kubectl {
    /** Where it works, for reports: e.g. `context ultramarket-local of .local/kubeconfig`. */
    readonly where: string;
    private readonly bin: string;

    constructor(private readonly opts: KubectlOptions = {}) {
        this.bin = opts.kubectl ?? process.env.ULTRAMARKET_KUBECTL ?? "kubectl";
        this.where = `context ${opts.context ?? "(current)"} of ${opts.kubeconfig ?? "the ambient kubeconfig"}`;
    }

    /** Runs `kubectl <args>` (with `stdin` on its standard input, if given) and returns its output; an error names where. */
    run(args: string[], stdin?: string): Promise<string> {
        const base = [
            ...(this.opts.kubeconfig ? ["--kubeconfig", this.opts.kubeconfig] : []),
            ...(this.opts.context ? ["--context", this.opts.context] : []),
            "--request-timeout=30s",
        ];
        return new Promise((resolve, reject) => {
            const child = execFile(this.bin, [...base, ...args], { maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
                if (err) reject(new Error(`kubectl ${args[0]} failed (${this.where}): ${String(stderr).trim() || err.message}`));
                else resolve(stdout);
            });
            if (stdin !== undefined) child.stdin?.end(stdin);
        });
    }
}

/** The kubeconfig (relative to the repository) and context a stack's config names. */
export function kubectlOptionsForStack(config: Record<string, { value?: string } | undefined>, repoRoot: string): KubectlOptions {
    const kubeconfig = config["ultramarket:kubeconfig"]?.value;
    return {
        kubeconfig: kubeconfig ? path.resolve(repoRoot, kubeconfig) : undefined,
        context: config["ultramarket:kubeContext"]?.value || undefined,
    };
}
