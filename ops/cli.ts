// The operations CLI: `ts-node ops/cli.ts <command> [flags]`, run through the npm scripts
// (npm run deploy|rollback|drift|status|doctor|restore -- [flags]). Exit codes: ops/errors.ts ExitCode, docs/operations.md.
import { parseArgs } from "util";
import { ExitCode, OpsError } from "./errors";
import { GitCodeInspector, StackOutputVerifier } from "./operations";
import { processProbe } from "./doctor";
import { openStack, REPO_ROOT } from "./workspace";
import { EngineProcesses } from "./engine";
import { handleInterrupts } from "./interrupts";
import { CliDeps, CliIO, Command } from "./commands/command";
import { deployCommand } from "./commands/deploy";
import { rollbackCommand } from "./commands/rollback";
import { driftCommand } from "./commands/drift";
import { statusCommand } from "./commands/status";
import { doctorCommand } from "./commands/doctor";
import { restoreCommand } from "./commands/restore";

export const COMMANDS: Record<string, Command> = {
    deploy: deployCommand,
    rollback: rollbackCommand,
    drift: driftCommand,
    status: statusCommand,
    doctor: doctorCommand,
    restore: restoreCommand,
};

export function usage(): string {
    const lines = ["usage: npm run <command> -- [flags]     (or: ts-node ops/cli.ts <command> [flags])", "", "commands:"];
    for (const c of Object.values(COMMANDS)) lines.push(`  ${c.usage.padEnd(80)} ${c.summary}`);
    lines.push("", '--stack defaults to "local" (file backend in .pulumi-state/). Exit codes:');
    lines.push("  0 ok, 1 unexpected error, 2 usage, 3 refused (nothing changed), 4 Pulumi operation failed,");
    lines.push("  5 drift, 6 failed deploy rolled back, 7 failed deploy NOT rolled back (act now), 8 doctor found problems,");
    lines.push("  9 another update holds the stack (nothing changed, nothing rolled back)");
    return lines.join("\n");
}

/** Runs one command; returns its exit code (never throws). */
export async function main(argv: readonly string[], deps: CliDeps): Promise<ExitCode> {
    const [name, ...rest] = argv;
    if (name === undefined || name === "help" || name === "--help" || name === "-h") {
        deps.io.out(usage());
        return name === undefined ? ExitCode.Usage : ExitCode.Ok;
    }
    const command = COMMANDS[name];
    if (!command) {
        deps.io.err(`unknown command "${name}"\n${usage()}`);
        return ExitCode.Usage;
    }
    let values: Record<string, string | boolean | undefined>;
    try {
        values = parseArgs({
            args: [...rest],
            options: { ...command.options, help: { type: "boolean", short: "h" } },
            strict: true,
            allowPositionals: false,
        }).values;
    } catch (err) {
        deps.io.err(`${name}: ${err instanceof Error ? err.message : String(err)}\nusage: npm run ${command.usage}`);
        return ExitCode.Usage;
    }
    if (values.help) {
        deps.io.out(`usage: npm run ${command.usage}\n${command.summary}`);
        return ExitCode.Ok;
    }
    try {
        return await command.run(values, deps);
    } catch (err) {
        if (err instanceof OpsError) {
            deps.io.err(`${name}: ${err.message}`);
            return err.exitCode;
        }
        deps.io.err(
            `${name}: unexpected error (stack "${String(values.stack)}"): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
        );
        return ExitCode.Unexpected;
    }
}

if (require.main === module) {
    const io: CliIO = {
        out: (line) => process.stdout.write(`${line}\n`),
        err: (line) => process.stderr.write(`${line}\n`),
        stream: (chunk) => process.stdout.write(chunk),
    };
    // Every Pulumi command runs in its own process group; Ctrl-C and SIGTERM reach it through here (ops/interrupts.ts).
    const engines = new EngineProcesses();
    const deps: CliDeps = {
        io,
        signal: handleInterrupts(io, engines).signal,
        // Existing stacks only: a mistyped --stack is refused, never created.
        openStack: (stackName) => openStack({ stackName, create: false, engines, onNote: (line) => io.err(line) }),
        code: new GitCodeInspector(REPO_ROOT),
        verifier: new StackOutputVerifier(),
        repoRoot: REPO_ROOT,
        env: process.env,
        probe: processProbe,
    };
    void main(process.argv.slice(2), deps).then((code) => {
        process.exitCode = code;
    });
}
