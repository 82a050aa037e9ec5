import { ExitCode, OpsError } from "../errors";
import { afterRollbackAdvice, rollback } from "../operations";
import { Command, STACK_OPTION } from "./command";
import { policyPacksFor } from "./deploy";

export function parseVersion(raw: string | boolean | undefined): number | undefined {
    if (raw === undefined) return undefined;
    const text = String(raw).replace(/^v/, "");
    if (!/^[1-9][0-9]*$/.test(text))
        throw new OpsError(ExitCode.Usage, `--to expects a stack version number such as 12 (see npm run status), got "${String(raw)}"`);
    return Number(text);
}

export const rollbackCommand: Command = {
    summary: "deploy an earlier successful version as it was (default: the last good one): its commit's program, its config, its images",
    usage: "rollback [--stack <name>] [--to <version>] [--dry-run] [--force] [--no-policy]",
    options: {
        ...STACK_OPTION,
        to: { type: "string" },
        "dry-run": { type: "boolean", default: false },
        force: { type: "boolean", default: false },
        "no-policy": { type: "boolean", default: false },
    },
    async run(values, deps) {
        const to = parseVersion(values.to);
        const dryRun = values["dry-run"] === true;
        const policyPacks = dryRun ? undefined : policyPacksFor(deps.repoRoot, values["no-policy"] === true);
        const stack = await deps.openStack(String(values.stack));
        const report = await rollback({
            stack,
            io: deps.io,
            code: deps.code,
            verifier: deps.verifier,
            to,
            force: values.force === true,
            dryRun,
            policyPacks,
            reason: "manual",
            signal: deps.signal,
        });
        if (dryRun) return ExitCode.Ok;
        deps.io.out(afterRollbackAdvice(stack.name, report));
        if (report.verification?.status === "failed") {
            for (const f of report.verification.failures) deps.io.out(`    FAILED ${f}`);
            return ExitCode.OperationFailed;
        }
        return ExitCode.Ok;
    },
};
