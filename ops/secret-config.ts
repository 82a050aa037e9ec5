// Secrets reach a stack's config on stdin, never on a command line: the Automation API's setConfig/setAllConfig
// pass values as arguments (`config set-all --secret k=v`, `--json {...}`), which every user of the machine can
// read in the process list while the command runs. `pulumi config set --secret --raw <key>` reads the value from
// stdin when stdin is not a terminal (pkg/cmd/pulumi/config/config.go in 3.248) and encrypts it itself.
import { spawn } from "child_process";
import { explainPulumiError } from "./errors";
import type { OpsStack } from "./types";

export interface SecretConfigWriter {
    /** Sets `key` (a full key, e.g. ultramarket:jwtSecret) to the secret `value`, encrypted by the stack's secrets provider. */
    setSecretConfig(key: string, value: string): Promise<void>;
}

/** What the CLI needs from an Automation API workspace (LocalWorkspace has all of it). */
interface CliWorkspace {
    workDir: string;
    envVars: Record<string, string>;
    pulumiHome?: string;
    pulumiCommand: { command: string };
}

function isWriter(stack: OpsStack): stack is OpsStack & SecretConfigWriter {
    return typeof (stack as Partial<SecretConfigWriter>).setSecretConfig === "function";
}

/** The stack's own writer when it has one (test fakes), else `pulumi config set --secret` fed on stdin. */
export function secretConfigWriterFor(stack: OpsStack): SecretConfigWriter {
    if (isWriter(stack)) return stack;
    const ws = stack.workspace as Partial<CliWorkspace>;
    if (typeof ws.workDir !== "string" || typeof ws.pulumiCommand?.command !== "string") {
        throw new Error(`stack "${stack.name}" has no Pulumi CLI workspace to write its secret config with`);
    }
    const cli = ws as CliWorkspace;
    return { setSecretConfig: (key, value) => setSecretConfigFromStdin(cli, stack.name, key, value) };
}

/** The arguments of the config write: the key and the stack, never the value. */
export function secretConfigArgs(stackName: string, key: string): string[] {
    return ["config", "set", "--secret", "--raw", key, "--stack", stackName, "--non-interactive"];
}

export function setSecretConfigFromStdin(ws: CliWorkspace, stackName: string, key: string, value: string): Promise<void> {
    const env: NodeJS.ProcessEnv = {
        ...process.env,
        ...(ws.pulumiHome ? { PULUMI_HOME: ws.pulumiHome } : {}),
        ...ws.envVars,
        PULUMI_AUTOMATION_API: "true",
    };
    return new Promise((resolve, reject) => {
        const child = spawn(ws.pulumiCommand.command, secretConfigArgs(stackName, key), {
            cwd: ws.workDir,
            env,
            stdio: ["pipe", "ignore", "pipe"],
        });
        let stderr = "";
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        child.on("error", (err) => reject(explainPulumiError(stackName, `config set --secret ${key}`, err)));
        child.on("close", (code) => {
            if (code === 0) resolve();
            // The CLI never echoes a value it read from stdin; redact anyway, in case a future version does.
            else
                reject(
                    explainPulumiError(
                        stackName,
                        `config set --secret ${key}`,
                        new Error(stderr.split(value).join("[secret]") || `exit code ${code}`),
                    ),
                );
        });
        child.stdin.on("error", () => undefined); // a CLI that exits early closes its stdin; its exit code says why
        child.stdin.end(value);
    });
}
