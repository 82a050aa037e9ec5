// The program's source: the commit checked out now, and the program of a recorded commit for rollback (git).
import { execFile } from "child_process";
import { GitWorktrees, ProgramCheckout } from "../checkout";

/** The program's source as git knows it, and the program of a recorded commit for rollback. */
export interface CodeInspector {
    /** The commit checked out now, if any. */
    head(): Promise<string | undefined>;
    /** Whether `commit` exists in the local repository. */
    hasCommit(commit: string): Promise<boolean>;
    /** The program at `commit` as a temporary checkout with its own dependencies installed (ops/checkout.ts). */
    checkout(commit: string, log: (line: string) => void, signal?: AbortSignal): Promise<ProgramCheckout>;
}

/** Git, from the repository root; head and hasCommit answer "unknown" rather than throwing. */
export class GitCodeInspector implements CodeInspector {
    constructor(private readonly repoRoot: string) {}

    private git(args: string[]): Promise<{ ok: boolean; stdout: string }> {
        return new Promise((resolve) => {
            execFile("git", args, { cwd: this.repoRoot, maxBuffer: 16 * 1024 * 1024 }, (err, stdout) =>
                resolve({ ok: !err, stdout: String(stdout) }),
            );
        });
    }

    async head(): Promise<string | undefined> {
        const r = await this.git(["rev-parse", "HEAD"]);
        return r.ok ? r.stdout.trim() : undefined;
    }

    async hasCommit(commit: string): Promise<boolean> {
        return (await this.git(["cat-file", "-e", `${commit}^{commit}`])).ok;
    }

    /** A temporary worktree at `commit` (ops/checkout.ts: dependencies from its lockfile, cached). */
    checkout(commit: string, log: (line: string) => void, signal?: AbortSignal): Promise<ProgramCheckout> {
        return new GitWorktrees(this.repoRoot).checkout(commit, log, signal);
    }
}
