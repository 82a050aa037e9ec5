// The Pulumi CLI as ops runs it: which binary (PATH, else the local engine toolchain's), and every command of the
// Automation API started in its own process group, so only ops decides which signals the engine gets.
//
// Why a process group of its own: Ctrl-C in a terminal (and a CI runner cancelling a job) signals the whole
// foreground process group. With the CLI in ops' group it got that signal directly ("^C received; cancelling"),
// and ops' own forwarding of the same interrupt was its second one ("^C received; terminating"): the engine then
// stopped at once and left pending operations. Here the CLI hears only ops: one interrupt, one SIGINT (stop at a
// safe point); an interrupt after that, a second SIGINT (terminate now); ops/interrupts.ts decides which.
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PulumiCommand } from "@pulumi/pulumi/automation";
import { ExitCode, OpsError } from "./errors";
import { descendants, killSurvivors, ProcessRef } from "./process-tree";

// The Automation API's result and error types, as its own `exec` builds them (cmd.js, errors.js of the pinned SDK).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { CommandResult } = require("@pulumi/pulumi/automation/cmd") as {
    CommandResult: new (stdout: string, stderr: string, code: number, err?: Error) => unknown;
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createCommandError } = require("@pulumi/pulumi/automation/errors") as { createCommandError: (result: unknown) => Error };

/** The Pulumi CLI ops runs, and the environment it needs. */
export interface PulumiCli {
    /** `pulumi` (from PATH) or the absolute path of the toolchain's binary. */
    command: string;
    /** The directory above `bin/pulumi` when the toolchain's CLI is used (PulumiCommand's `root`). */
    root?: string;
    /** Added to every command's environment (the toolchain's PULUMI_HOME, PATH, ...); only keys the operator left unset. */
    envVars: Record<string, string>;
    /** One line for the operator when the CLI is not the one on PATH. */
    note?: string;
}

/** Where the local engine toolchain lives (scripts/toolchain.sh: ULTRAMARKET_TOOLCHAIN_DIR, else ~/.cache/ultramarket-toolchain). */
export function toolchainDir(env: NodeJS.ProcessEnv): string {
    return env.ULTRAMARKET_TOOLCHAIN_DIR || path.join(env.HOME || os.homedir(), ".cache", "ultramarket-toolchain");
}

/** Whether `name` is an executable file in one of PATH's directories. */
export function onPath(name: string, pathVar: string | undefined): boolean {
    return (pathVar ?? "")
        .split(path.delimiter)
        .filter((d) => d !== "")
        .some((dir) => {
            try {
                fs.accessSync(path.join(dir, name), fs.constants.X_OK);
                return fs.statSync(path.join(dir, name)).isFile();
            } catch {
                return false;
            }
        });
}

/** `bash scripts/toolchain.sh env`: the one place that says what the toolchain's CLI needs (PATH, PULUMI_HOME, ...). */
export function toolchainEnvText(repoRoot: string, env: NodeJS.ProcessEnv): string {
    return execFileSync("bash", [path.join(repoRoot, "scripts", "toolchain.sh"), "env"], { encoding: "utf8", env });
}

/** The same, parsed, with $PATH expanded to env's PATH. */
export function toolchainEnv(repoRoot: string, env: NodeJS.ProcessEnv): Record<string, string> {
    return parseExportLines(toolchainEnvText(repoRoot, env), env.PATH ?? "");
}

/** `export NAME="value"` lines (as toolchain.sh env prints them) as a map; `$PATH` in a value is the given PATH. */
export function parseExportLines(text: string, pathVar: string): Record<string, string> {
    const vars: Record<string, string> = {};
    for (const line of text.split("\n")) {
        const m = /^export ([A-Z_][A-Z0-9_]*)=(?:"(.*)"|(\S*))$/.exec(line.trim());
        if (m) vars[m[1]] = (m[2] ?? m[3]).replace(/\$PATH\b/g, pathVar);
    }
    return vars;
}

export interface LocateDeps {
    onPath(name: string, pathVar: string | undefined): boolean;
    isExecutable(file: string): boolean;
    toolchainEnv(): Record<string, string>;
}

/**
 * The CLI on PATH when there is one; else the toolchain's (`npm run local:up` builds it, but the operator's shell
 * does not have it on PATH), with the toolchain's environment for the keys the operator left unset; else an
 * OpsError naming both places and what to do.
 */
export function locatePulumiCli(env: NodeJS.ProcessEnv, deps: LocateDeps): PulumiCli {
    if (deps.onPath("pulumi", env.PATH)) return { command: "pulumi", envVars: {} };
    const dir = toolchainDir(env);
    const binary = path.join(dir, "bin", "pulumi");
    if (!deps.isExecutable(binary)) {
        throw new OpsError(
            ExitCode.Refused,
            `the Pulumi CLI is not on PATH and the local engine toolchain has none at ${binary}: ` +
                `install the Pulumi CLI (README, "Prerequisites") or build the toolchain with: npm run toolchain`,
        );
    }
    const envVars: Record<string, string> = {};
    for (const [key, value] of Object.entries(deps.toolchainEnv())) {
        if (key === "PATH" || env[key] === undefined || env[key] === "") envVars[key] = value;
    }
    if (envVars.PATH === undefined) envVars.PATH = `${path.dirname(binary)}${path.delimiter}${env.PATH ?? ""}`;
    return {
        command: binary,
        root: dir,
        envVars,
        note: `ops: pulumi is not on PATH; using the local engine toolchain's CLI ${binary} (PULUMI_HOME ${envVars.PULUMI_HOME ?? env.PULUMI_HOME ?? "default"})`,
    };
}

export const realLocateDeps = (repoRoot: string, env: NodeJS.ProcessEnv): LocateDeps => ({
    onPath,
    isExecutable: (file) => {
        try {
            fs.accessSync(file, fs.constants.X_OK);
            return true;
        } catch {
            return false;
        }
    },
    toolchainEnv: () => toolchainEnv(repoRoot, env),
});

/** What the Automation API calls for every CLI command (PulumiCommand.run in the pinned SDK). */
type Run = (
    args: string[],
    cwd: string,
    additionalEnv: Record<string, string>,
    onOutput?: (data: string) => void,
    onError?: (data: string) => void,
    signal?: AbortSignal,
) => Promise<unknown>;

/**
 * The running engine processes of this ops process. Every Automation API command runs through `run`, in its own
 * process group: an aborted `signal` sends it one SIGINT (the engine stops at a safe point, saves the state and
 * releases the lock), `terminate()` one more (the engine stops at once; what was in flight stays pending). Only the
 * commands that got that first SIGINT are escalated: what ops runs after it (reading back what the engine left, with
 * no signal) must finish, or the report of what was left would fail with it.
 */
export class EngineProcesses {
    private readonly running = new Set<ChildProcess>();
    /** The running commands an abort interrupted: the ones a later interrupt escalates. */
    private readonly interrupted = new Set<ChildProcess>();
    /** What a terminated engine had started (its plugins): killed once it has exited, if they outlive it. */
    private readonly leftBy = new Map<ChildProcess, ProcessRef[]>();

    /** How many interrupted engines still run (0: a further interrupt has nothing to escalate). */
    get size(): number {
        return this.interrupted.size;
    }

    /** A second SIGINT to every interrupted engine: the engine's own "terminate immediately". */
    terminate(): void {
        for (const child of this.interrupted) {
            this.leftBy.set(child, descendants(child.pid!));
            child.kill("SIGINT");
        }
    }

    /**
     * SIGKILL to every running CLI's process group and to every process it started (its plugins run in groups of
     * their own), for an operator who insists.
     */
    kill(): void {
        for (const child of this.running) {
            const started = descendants(child.pid!);
            try {
                process.kill(-child.pid!, "SIGKILL");
            } catch {
                // already gone
            }
            killSurvivors(started);
        }
    }

    /** Runs one CLI command as the Automation API's own exec does, but in a process group of its own. */
    run(command: string, ...[args, cwd, additionalEnv, onOutput, onError, signal]: Parameters<Run>): Promise<unknown> {
        const argv = args.includes("--non-interactive") ? [...args] : [...args, "--non-interactive"];
        const env: NodeJS.ProcessEnv = { ...process.env, ...additionalEnv, PULUMI_AUTOMATION_API: "true" };
        // As the Automation API does: the CLI's own directory first, so its bundled language host and plugins are found.
        if (path.isAbsolute(command)) env.PATH = `${path.dirname(command)}${path.delimiter}${additionalEnv.PATH ?? process.env.PATH ?? ""}`;
        return new Promise((resolve, reject) => {
            let child: ChildProcess;
            try {
                child = spawn(command, argv, { cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
            } catch (err) {
                reject(createCommandError(new CommandResult("", (err as Error).message, -2, err as Error)));
                return;
            }
            this.running.add(child);
            let stdout = "";
            let stderr = "";
            child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
                stdout += chunk;
                onOutput?.(chunk);
            });
            child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
                stderr += chunk;
                onError?.(chunk);
            });
            const interrupt = () => {
                this.interrupted.add(child);
                child.kill("SIGINT");
            };
            if (signal?.aborted) interrupt();
            else signal?.addEventListener("abort", interrupt, { once: true });
            child.once("error", (err) => {
                this.running.delete(child);
                this.interrupted.delete(child);
                signal?.removeEventListener("abort", interrupt);
                reject(createCommandError(new CommandResult("", err.message, -2, err)));
            });
            child.once("close", (code, killedBy) => {
                this.running.delete(child);
                this.interrupted.delete(child);
                // A terminated engine does not stop its plugins (each in a process group of its own): they would stay.
                const left = this.leftBy.get(child);
                this.leftBy.delete(child);
                if (left) killSurvivors(left);
                signal?.removeEventListener("abort", interrupt);
                const result = new CommandResult(stripFinalNewline(stdout), stripFinalNewline(stderr), code ?? (killedBy ? -1 : -2));
                if (code === 0) resolve(result);
                else reject(createCommandError(result));
            });
        });
    }

    /** A PulumiCommand (for LocalWorkspace's `pulumiCommand`) whose commands run through `run`. */
    async pulumiCommand(cli: PulumiCli): Promise<PulumiCommand> {
        const command = await PulumiCommand.get(cli.root ? { root: cli.root } : undefined);
        const run: Run = (...args) => this.run(command.command, ...args);
        return Object.assign(command, { run });
    }
}

function stripFinalNewline(text: string): string {
    return text.endsWith("\n") ? text.slice(0, text.endsWith("\r\n") ? -2 : -1) : text;
}
