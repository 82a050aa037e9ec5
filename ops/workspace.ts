// Opens a stack of this repository's Pulumi program through the Automation API, with the local defaults.
//
// STABLE API (imported by the operations CLI, `npm run local:up` and the e2e suite; keep it backwards compatible):
//
//   openStack({ stackName, workDir?, backendUrl?, passphrase?, envVars?, create? }): Promise<Stack>
//     - A stack of the program at workDir (default: the repository root, the directory holding Pulumi.yaml).
//     - create: false opens an EXISTING stack only: the backend's stacks are listed first (`pulumi stack ls`), and an
//       unknown name is refused with OpsError(Refused) listing them and suggesting the closest, before anything
//       is selected, so no stack and no Pulumi.<stack>.yaml is created. Every command of the operations CLI does this.
//       create: true (an explicit init: local:up's `local` stack, the e2e suites' throwaway stacks) creates the stack
//       when missing. Omitted, it means false: only an explicit init creates a stack.
//     - Backend: `backendUrl`, else $PULUMI_BACKEND_URL, else for the `local` stack only
//       `file://<repo>/.pulumi-state` (created if missing, ignored by git); other stacks use the CLI's login.
//     - Secrets: `passphrase`, else $PULUMI_CONFIG_PASSPHRASE (or $PULUMI_CONFIG_PASSPHRASE_FILE, read by the CLI),
//       else LOCAL_DEFAULT_PASSPHRASE for the `local` stack only. Any other stack that uses the passphrase
//       secrets provider without an explicitly set passphrase is refused with an OpsError saying what to set;
//       so is any other stack given the local default passphrase.
//     - The CLI: `pulumi` on PATH, else the local engine toolchain's (said in one line through `onNote`); every command
//       runs in its own process group (ops/engine.ts), so a terminal's Ctrl-C reaches the engine only through ops.
//   resolveStackEnvironment(...) is the pure part (no CLI), exported for tests and for `doctor`.
import * as fs from "fs";
import * as path from "path";
import { LocalWorkspace, PulumiCommand, Stack, StackSummary } from "@pulumi/pulumi/automation";
import { parse as parseYaml } from "yaml";
import { EngineProcesses, locatePulumiCli, realLocateDeps } from "./engine";
import { ExitCode, explainPulumiError, OpsError } from "./errors";

/** The repository root: where Pulumi.yaml lives. */
export const REPO_ROOT = path.resolve(__dirname, "..");
/** The stack that runs on a file backend inside the repository, without any account. */
export const LOCAL_STACK = "local";
/** Where the `local` stack keeps its state (listed in .gitignore). */
export const LOCAL_STATE_DIR = ".pulumi-state";
/**
 * Passphrase for the `local` stack's secrets when PULUMI_CONFIG_PASSPHRASE is unset. It protects nothing of
 * value (throwaway state of a local control plane) and is public on purpose; it is never used for another stack.
 */
export const LOCAL_DEFAULT_PASSPHRASE = "ultramarket-local-only-not-a-secret";

/**
 * Resource operations the engine runs at once. An awaited workload holds its slot until it is ready, and this graph
 * has up to 33 of them waiting at once in production (23 Deployments with the 4 data-store exporters, 4 StatefulSets,
 * 6 Jobs): with the engine's default (4 per CPU: 8 on a 2-core runner) a cluster with slow pods would roll them out 8 at
 * a time. 64 leaves room on any runner; on the local control plane, where pods are ready at once, 8, 16, 32 and 64
 * measured the same (`npm run bench -- --parallel-sweep 8,16,32,64`, README "Performance"). Operators' own CLI runs get
 * it with `export PULUMI_PARALLEL=64` (the workflows set it); an explicit PULUMI_PARALLEL wins.
 */
export const ENGINE_PARALLELISM = 64;

export interface OpenStackArgs {
    stackName: string;
    /** Directory holding Pulumi.yaml; defaults to the repository root. */
    workDir?: string;
    /** Backend URL (file://, s3://, gs://, azblob://, https://...); defaults as described above. */
    backendUrl?: string;
    /** Secrets passphrase; defaults as described above. */
    passphrase?: string;
    /** Extra environment for every Pulumi command (e.g. KUBECONFIG). */
    envVars?: Record<string, string>;
    /** false (the default): open an existing stack only, refusing an unknown name; true: create it when missing (see above). */
    create?: boolean;
    /** Where the stack's CLI commands run (ops/engine.ts); the CLI passes its own, so its signal handler can reach them. */
    engines?: EngineProcesses;
    /** Told in one line when the CLI is not the one on PATH (the toolchain's). */
    onNote?: (line: string) => void;
}

export interface StackEnvironment {
    workDir: string;
    /** The backend the stack lives on, or undefined when the CLI's own login decides. */
    backendUrl?: string;
    /** Environment for every Pulumi command run on this stack. */
    envVars: Record<string, string>;
    /** Directory to create before use (the local file backend). */
    createDir?: string;
    /** How the secrets passphrase was chosen, for `doctor` (never the passphrase itself). */
    passphraseSource: "argument" | "PULUMI_CONFIG_PASSPHRASE" | "PULUMI_CONFIG_PASSPHRASE_FILE" | "local default" | "not needed";
}

/** What the stack's settings file says about its secrets provider. */
export interface StackSecretsSettings {
    /** `secretsprovider:` from Pulumi.<stack>.yaml (e.g. awskms://..., passphrase). */
    secretsProvider?: string;
    /** True when Pulumi.<stack>.yaml has an `encryptionsalt:` (the passphrase provider). */
    hasEncryptionSalt: boolean;
}

export function readStackSecretsSettings(workDir: string, stackName: string): StackSecretsSettings {
    const file = path.join(workDir, `Pulumi.${stackName}.yaml`);
    if (!fs.existsSync(file)) return { hasEncryptionSalt: false };
    const doc = (parseYaml(fs.readFileSync(file, "utf8")) ?? {}) as Record<string, unknown>;
    return {
        secretsProvider: typeof doc.secretsprovider === "string" ? doc.secretsprovider : undefined,
        hasEncryptionSalt: typeof doc.encryptionsalt === "string" && doc.encryptionsalt !== "",
    };
}

/** Pulumi Cloud (or a self-hosted Pulumi Cloud) manages secrets itself; DIY backends need a secrets provider. */
export function isDiyBackend(url: string | undefined): boolean {
    return url !== undefined && !/^https?:\/\//.test(url);
}

/** Stacks that have a settings file (Pulumi.<stack>.yaml) in workDir: what doctor can check without the CLI. */
export function stackFiles(workDir: string): string[] {
    return fs
        .readdirSync(workDir)
        .map((f) => /^Pulumi\.(.+)\.ya?ml$/.exec(f)?.[1])
        .filter((n): n is string => n !== undefined)
        .sort();
}

/** Works out backend and secrets environment for a stack; throws OpsError(REFUSED) instead of guessing. */
export function resolveStackEnvironment(args: OpenStackArgs, env: NodeJS.ProcessEnv, settings: StackSecretsSettings): StackEnvironment {
    const { stackName } = args;
    const workDir = path.resolve(args.workDir ?? REPO_ROOT);
    const isLocal = stackName === LOCAL_STACK;
    const envVars: Record<string, string> = {};
    let createDir: string | undefined;

    let backendUrl = args.backendUrl ?? nonEmpty(env.PULUMI_BACKEND_URL);
    if (backendUrl === undefined && isLocal) {
        createDir = path.join(workDir, LOCAL_STATE_DIR);
        backendUrl = `file://${createDir}`;
    }
    if (backendUrl !== undefined) envVars.PULUMI_BACKEND_URL = backendUrl;
    // The engine's parallelism for this graph (README "Performance"), unless the operator chose one.
    if (nonEmpty(env.PULUMI_PARALLEL) === undefined) envVars.PULUMI_PARALLEL = String(ENGINE_PARALLELISM);

    let passphraseSource: StackEnvironment["passphraseSource"];
    const explicit = args.passphrase ?? nonEmpty(env.PULUMI_CONFIG_PASSPHRASE);
    if (explicit !== undefined) {
        if (!isLocal && explicit === LOCAL_DEFAULT_PASSPHRASE) {
            throw new OpsError(
                ExitCode.Refused,
                `stack "${stackName}": the local-only default passphrase must not protect a shared stack; ` +
                    `set PULUMI_CONFIG_PASSPHRASE to this stack's own passphrase (from your secret store)`,
            );
        }
        envVars.PULUMI_CONFIG_PASSPHRASE = explicit;
        passphraseSource = args.passphrase !== undefined ? "argument" : "PULUMI_CONFIG_PASSPHRASE";
    } else if (nonEmpty(env.PULUMI_CONFIG_PASSPHRASE_FILE) !== undefined) {
        passphraseSource = "PULUMI_CONFIG_PASSPHRASE_FILE";
    } else if (isLocal) {
        envVars.PULUMI_CONFIG_PASSPHRASE = LOCAL_DEFAULT_PASSPHRASE;
        passphraseSource = "local default";
    } else {
        const provider = settings.secretsProvider;
        const usesPassphrase =
            provider === "passphrase" || (provider === undefined && (settings.hasEncryptionSalt || isDiyBackend(backendUrl)));
        if (usesPassphrase) {
            throw new OpsError(
                ExitCode.Refused,
                `stack "${stackName}" encrypts its secrets with a passphrase, but none is set. ` +
                    `Set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) to the stack's passphrase, ` +
                    `or move it to a KMS/cloud secrets provider: pulumi stack change-secrets-provider <url> --stack ${stackName}. ` +
                    `(The documented local default passphrase is used only for the "${LOCAL_STACK}" stack.)`,
            );
        }
        passphraseSource = "not needed";
    }

    return { workDir, backendUrl, envVars: { ...envVars, ...(args.envVars ?? {}) }, createDir, passphraseSource };
}

/** How openStack reaches the backend; tests pass a fake (no CLI). */
export interface StackBackend {
    /** The CLI every command on the stack runs (PATH or the toolchain's, in its own process group). */
    command(args: OpenStackArgs): Promise<{ pulumiCommand?: PulumiCommand; envVars: Record<string, string> }>;
    /** Names of the backend's stacks of this project. */
    listStacks(env: StackEnvironment, pulumiCommand?: PulumiCommand): Promise<string[]>;
    /** Selects a stack that exists. */
    select(stackName: string, env: StackEnvironment, pulumiCommand?: PulumiCommand): Promise<Stack>;
    /** Selects the stack, creating it when missing (an explicit init). */
    createOrSelect(stackName: string, env: StackEnvironment, pulumiCommand?: PulumiCommand): Promise<Stack>;
}

/** The Automation API: `pulumi stack ls --json`, `stack select`, `stack init`. */
export const automationBackend: StackBackend = {
    async command(args) {
        const cli = locatePulumiCli(process.env, realLocateDeps(REPO_ROOT, process.env));
        if (cli.note) args.onNote?.(cli.note);
        return { pulumiCommand: await (args.engines ?? new EngineProcesses()).pulumiCommand(cli), envVars: cli.envVars };
    },
    async listStacks(env, pulumiCommand) {
        const workspace = await LocalWorkspace.create({ workDir: env.workDir, envVars: env.envVars, pulumiCommand });
        return (await workspace.listStacks()).map((s: StackSummary) => s.name);
    },
    async select(stackName, env, pulumiCommand) {
        return LocalWorkspace.selectStack({ stackName, workDir: env.workDir }, { envVars: env.envVars, pulumiCommand });
    },
    async createOrSelect(stackName, env, pulumiCommand) {
        return LocalWorkspace.createOrSelectStack({ stackName, workDir: env.workDir }, { envVars: env.envVars, pulumiCommand });
    },
};

/** Opens the stack (an existing one only, unless create: true); see the header comment for the defaults. */
export async function openStack(args: OpenStackArgs, backend: StackBackend = automationBackend): Promise<Stack> {
    const workDir = path.resolve(args.workDir ?? REPO_ROOT);
    const stackEnv = resolveStackEnvironment(args, process.env, readStackSecretsSettings(workDir, args.stackName));
    const { pulumiCommand, envVars: cliEnv } = await backend.command(args);
    // The toolchain's PATH and PULUMI_HOME first; the stack's backend, passphrase and the caller's variables over them.
    const resolved: StackEnvironment = { ...stackEnv, envVars: { ...cliEnv, ...stackEnv.envVars } };
    if (args.create !== true) {
        // Listing first: nothing is selected (or written) for a name the backend does not have.
        let existing: string[] = [];
        if (!resolved.createDir || fs.existsSync(resolved.createDir)) {
            try {
                existing = await backend.listStacks(resolved, pulumiCommand);
            } catch (err) {
                // e.g. no Pulumi CLI, no login, a wrong passphrase: one line and what to do, not a trace.
                throw explainPulumiError(args.stackName, "listing the backend's stacks", err);
            }
        }
        assertStackExists(
            args.stackName,
            existing,
            `on ${resolved.backendUrl ? `the backend ${resolved.backendUrl}` : "the backend you are logged in to (pulumi whoami -v)"}`,
        );
        return backend.select(args.stackName, resolved, pulumiCommand);
    }
    if (resolved.createDir) fs.mkdirSync(resolved.createDir, { recursive: true });
    return backend.createOrSelect(args.stackName, resolved, pulumiCommand);
}

/**
 * Refuses a stack name the backend does not have, listing the ones it has and suggesting the closest. Names from
 * Pulumi Cloud may be qualified (`org/project/stack`): the last part counts too.
 */
export function assertStackExists(stackName: string, existing: readonly string[], where: string): void {
    const shortName = (n: string) => n.split("/").pop() ?? n;
    if (existing.some((n) => n === stackName || shortName(n) === stackName)) return;
    const names = [...new Set(existing.map(shortName))].sort();
    const closest = closestName(stackName, names);
    throw new OpsError(
        ExitCode.Refused,
        `stack "${stackName}" does not exist ${where}, so nothing was done (no stack and no Pulumi.${stackName}.yaml was created). ` +
            (closest ? `Did you mean "${closest}"? ` : "") +
            (names.length ? `Existing stacks: ${names.join(", ")}.` : "There are no stacks of this project there yet.") +
            ` Pass one with --stack <name>` +
            (stackName === LOCAL_STACK
                ? `; create the local stack with: npm run local:up`
                : `; create a new stack deliberately with: pulumi stack init ${stackName}`),
    );
}

/** The name within edit distance 3 (and less than half the name) of `name`, if any. */
export function closestName(name: string, candidates: readonly string[]): string | undefined {
    let best: { candidate: string; distance: number } | undefined;
    for (const candidate of candidates) {
        const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
        if (distance <= Math.min(3, Math.ceil(candidate.length / 2)) && (!best || distance < best.distance)) best = { candidate, distance };
    }
    return best?.candidate;
}

function editDistance(a: string, b: string): number {
    let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        const current = [i];
        for (let j = 1; j <= b.length; j++) {
            current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
        }
        previous = current;
    }
    return previous[b.length];
}

function nonEmpty(value: string | undefined): string | undefined {
    return value === undefined || value === "" ? undefined : value;
}
