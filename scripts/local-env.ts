// npm run -s local:env: the `local` stack's environment as `export` lines, for eval "$(npm run -s local:env)".
// After it, plain `pulumi config set -s local ...`, `pulumi stack ... -s local` and `kubectl` reach the local stack
// and control plane: the toolchain's CLI and plugins (scripts/toolchain.sh env), the stack's file backend and
// passphrase exactly as ops opens it (ops/workspace.ts resolveStackEnvironment), and its kubeconfig (Pulumi.local.yaml).
// A passphrase the operator set is never printed; the local default is public on purpose (docs/operations.md).
import * as path from "path";
import { parseExportLines, toolchainEnvText } from "../ops/engine";
import { readStackConfigFile } from "../ops/doctor";
import { LOCAL_DEFAULT_PASSPHRASE, LOCAL_STACK, readStackSecretsSettings, REPO_ROOT, resolveStackEnvironment } from "../ops/workspace";

export interface LocalEnvInput {
    repoRoot: string;
    env: NodeJS.ProcessEnv;
    /** `scripts/toolchain.sh env`'s lines. */
    toolchainLines: string;
}

const quote = (value: string) => `"${value.replace(/(["\\$`])/g, "\\$1")}"`;

/** The lines local:env prints: comments, then one `export` per variable. */
export function localEnvLines(input: LocalEnvInput): string[] {
    const { repoRoot, env } = input;
    const stack = resolveStackEnvironment(
        { stackName: LOCAL_STACK, workDir: repoRoot },
        env,
        readStackSecretsSettings(repoRoot, LOCAL_STACK),
    );
    const kubeconfig = readStackConfigFile(repoRoot, LOCAL_STACK).values.kubeconfig ?? ".local/kubeconfig";
    const lines = [
        `# The "${LOCAL_STACK}" stack's environment (npm run -s local:env); use: eval "$(npm run -s local:env)"`,
        `# It points pulumi and kubectl at the local stack and control plane only: open a new shell for any other stack.`,
    ];
    // The toolchain's PATH (with $PATH left for the shell to expand), PULUMI_HOME and CLI settings, as toolchain.sh prints them.
    const toolchain = parseExportLines(input.toolchainLines, "$PATH");
    for (const [key, value] of Object.entries(toolchain)) lines.push(`export ${key}=${key === "PATH" ? `"${value}"` : quote(value)}`);
    lines.push(`export PULUMI_BACKEND_URL=${quote(stack.backendUrl!)}`);
    if (stack.passphraseSource === "local default") lines.push(`export PULUMI_CONFIG_PASSPHRASE=${quote(LOCAL_DEFAULT_PASSPHRASE)}`);
    else if (stack.passphraseSource === "PULUMI_CONFIG_PASSPHRASE_FILE")
        lines.push(`export PULUMI_CONFIG_PASSPHRASE_FILE=${quote(env.PULUMI_CONFIG_PASSPHRASE_FILE!)}`);
    else lines.push(`# PULUMI_CONFIG_PASSPHRASE: yours, already set in this environment (not printed)`);
    lines.push(`export KUBECONFIG=${quote(path.resolve(repoRoot, kubeconfig))}`);
    return lines;
}

if (require.main === module) {
    try {
        const lines = localEnvLines({ repoRoot: REPO_ROOT, env: process.env, toolchainLines: toolchainEnvText(REPO_ROOT, process.env) });
        process.stdout.write(`${lines.join("\n")}\n`);
    } catch (err) {
        process.stderr.write(`[local-env] ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
    }
}
