// The program as a recorded commit had it, for rollback: a temporary detached `git worktree` of the repository at
// that commit, with the dependencies of ITS lockfile. `npm ci` runs once per lockfile: the installed node_modules
// are kept in a cache keyed by the lockfile's sha256 (~/.cache/ultramarket-rollback/<sha256>/node_modules) and
// symlinked into the worktree; when the lockfile equals the checkout's own, the checkout's node_modules is used.
import { execFile } from "child_process";
import { createHash, randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LocalWorkspace, PulumiCommand } from "@pulumi/pulumi/automation";
import { ExitCode, OpsError } from "./errors";
import type { OpsStack } from "./types";

/** Runs a program and returns its stdout; rejects with its stderr when it exits non-zero. */
export interface CommandRunner {
    /** `env` is added to this process's environment (secrets go there or on stdin, never in `args`). */
    run(
        command: string,
        args: readonly string[],
        opts: { cwd: string; env?: Record<string, string>; signal?: AbortSignal },
    ): Promise<string>;
}

export const processRunner: CommandRunner = {
    run(command, args, opts) {
        return new Promise((resolve, reject) => {
            execFile(
                command,
                [...args],
                { cwd: opts.cwd, env: { ...process.env, ...(opts.env ?? {}) }, signal: opts.signal, maxBuffer: 64 * 1024 * 1024 },
                (err, stdout, stderr) => {
                    if (err) reject(new Error(`${command} ${args.join(" ")} failed: ${String(stderr).trim() || err.message}`));
                    else resolve(String(stdout));
                },
            );
        });
    },
};

/** A temporary checkout of the program at one commit, ready to run. */
export interface ProgramCheckout {
    /** The worktree's directory (Pulumi.yaml of that commit, node_modules installed). */
    dir: string;
    /** The full commit checked out. */
    commit: string;
    /** The repository the worktree belongs to: relative paths in the stack's config were meant against it. */
    repoDir: string;
    /** Whether the program at that commit reads the config key (`ultramarket:<key>`); older programs refuse unknown keys. */
    knowsConfigKey(key: string): Promise<boolean>;
    /** Removes the worktree (idempotent; never touches the dependency cache). */
    remove(): Promise<void>;
}

/** Where installed dependencies are kept between rollbacks; ULTRAMARKET_ROLLBACK_CACHE overrides it. */
export function defaultDependencyCache(env: NodeJS.ProcessEnv = process.env): string {
    return env.ULTRAMARKET_ROLLBACK_CACHE || path.join(env.HOME || os.homedir(), ".cache", "ultramarket-rollback");
}

export function lockfileHash(contents: string | Buffer): string {
    return createHash("sha256").update(contents).digest("hex");
}

/** Checks out recorded commits of the repository at `repoDir` as temporary worktrees. */
export class GitWorktrees {
    constructor(
        private readonly repoDir: string,
        private readonly runner: CommandRunner = processRunner,
        private readonly cacheDir: string = defaultDependencyCache(),
        private readonly tmpDir: string = os.tmpdir(),
    ) {}

    private git(args: string[], signal?: AbortSignal): Promise<string> {
        return this.runner.run("git", args, { cwd: this.repoDir, signal });
    }

    async hasCommit(commit: string): Promise<boolean> {
        try {
            await this.git(["cat-file", "-e", `${commit}^{commit}`]);
            return true;
        } catch {
            return false;
        }
    }

    /** `git worktree add --detach <tmp> <commit>`, then its dependencies; on any failure the worktree is removed again. */
    async checkout(commit: string, log: (line: string) => void, signal?: AbortSignal): Promise<ProgramCheckout> {
        const full = (await this.git(["rev-parse", "--verify", `${commit}^{commit}`])).trim();
        const dir = path.join(this.tmpDir, `ultramarket-rollback-${full.slice(0, 12)}-${randomBytes(4).toString("hex")}`);
        await this.git(["worktree", "add", "--detach", dir, full], signal);
        const checkout: ProgramCheckout = {
            dir,
            commit: full,
            repoDir: this.repoDir,
            // The program's configuration schema: config.ts in commits before it was split, config/*.ts since.
            knowsConfigKey: async (key) => {
                const configDir = path.join(dir, "config");
                const files = [
                    path.join(dir, "config.ts"),
                    ...(fs.existsSync(configDir)
                        ? fs
                              .readdirSync(configDir)
                              .filter((f) => f.endsWith(".ts"))
                              .map((f) => path.join(configDir, f))
                        : []),
                ];
                return files.some((f) => fs.existsSync(f) && fs.readFileSync(f, "utf8").includes(key));
            },
            remove: () => this.remove(dir),
        };
        try {
            log(`    program: commit ${full} checked out in ${dir}`);
            await this.installDependencies(dir, full, log, signal);
        } catch (err) {
            await checkout.remove();
            throw err;
        }
        return checkout;
    }

    /** node_modules for the worktree: the checkout's own when the lockfile is the same, else the cache's (npm ci once). */
    private async installDependencies(dir: string, commit: string, log: (line: string) => void, signal?: AbortSignal): Promise<void> {
        const lockfile = path.join(dir, "package-lock.json");
        if (!fs.existsSync(lockfile)) {
            throw new OpsError(
                ExitCode.Refused,
                `the program at commit ${commit} has no package-lock.json, so its dependencies cannot be installed as they were`,
            );
        }
        const lock = fs.readFileSync(lockfile);
        const hash = lockfileHash(lock);
        const own = path.join(this.repoDir, "node_modules");
        const ownLock = path.join(this.repoDir, "package-lock.json");
        let modules: string;
        if (fs.existsSync(own) && fs.existsSync(ownLock) && lockfileHash(fs.readFileSync(ownLock)) === hash) {
            modules = fs.realpathSync(own);
            log(`    dependencies: same lockfile as ${this.repoDir}, using its node_modules`);
        } else {
            const cached = path.join(this.cacheDir, hash);
            modules = path.join(cached, "node_modules");
            if (fs.existsSync(path.join(cached, ".complete"))) {
                log(`    dependencies: cached for lockfile ${hash.slice(0, 12)} (${cached})`);
            } else {
                log(`    dependencies: npm ci for lockfile ${hash.slice(0, 12)} into ${cached}`);
                // Installed beside the cache entry and renamed into place: an interrupted npm ci never leaves a half entry.
                fs.mkdirSync(this.cacheDir, { recursive: true });
                const staging = fs.mkdtempSync(path.join(this.cacheDir, `${hash}.partial-`));
                try {
                    fs.copyFileSync(path.join(dir, "package.json"), path.join(staging, "package.json"));
                    fs.copyFileSync(lockfile, path.join(staging, "package-lock.json"));
                    await this.runner.run("npm", ["ci", "--no-audit", "--no-fund"], { cwd: staging, signal });
                    fs.writeFileSync(path.join(staging, ".complete"), `${new Date().toISOString()}\n`);
                    fs.rmSync(cached, { recursive: true, force: true });
                    fs.renameSync(staging, cached);
                } finally {
                    fs.rmSync(staging, { recursive: true, force: true });
                }
            }
        }
        fs.symlinkSync(modules, path.join(dir, "node_modules"), "dir");
    }

    private async remove(dir: string): Promise<void> {
        try {
            await this.git(["worktree", "remove", "--force", dir]);
        } catch {
            // A worktree git no longer knows (or a half-made one): delete the files and forget it.
            fs.rmSync(dir, { recursive: true, force: true });
            await this.git(["worktree", "prune"]).catch(() => undefined);
        }
    }
}

/** A stack that can open itself in a checkout (test fakes); the real one is reopened through the Automation API. */
interface OpensInCheckout {
    inCheckout(checkout: ProgramCheckout): Promise<OpsStack>;
}

/**
 * The same stack run from the checkout: same backend, passphrase and CLI (the workspace's environment), and the
 * checkout's Pulumi.<stack>.yaml replaced by a copy of the current one (its `encryptionsalt`/`secretsprovider`/
 * `encryptedkey` decrypt the secrets; its config is then replaced by the restored version's). The repository's own
 * stack file is never written.
 */
export async function stackInCheckout(stack: OpsStack, checkout: ProgramCheckout): Promise<OpsStack> {
    if (typeof (stack as Partial<OpensInCheckout>).inCheckout === "function")
        return (stack as OpsStack & OpensInCheckout).inCheckout(checkout);
    const ws = stack.workspace as Partial<{
        workDir: string;
        envVars: Record<string, string>;
        pulumiHome: string;
        pulumiCommand: PulumiCommand;
    }>;
    if (typeof ws.workDir !== "string") throw new Error(`stack "${stack.name}" has no workspace directory to copy its settings from`);
    const settings = `Pulumi.${stack.name}.yaml`;
    const current = path.join(ws.workDir, settings);
    if (fs.existsSync(current)) fs.copyFileSync(current, path.join(checkout.dir, settings));
    else fs.rmSync(path.join(checkout.dir, settings), { force: true });
    return LocalWorkspace.selectStack(
        { stackName: stack.name, workDir: checkout.dir },
        { envVars: { ...(ws.envVars ?? {}) }, pulumiHome: ws.pulumiHome, pulumiCommand: ws.pulumiCommand },
    );
}
