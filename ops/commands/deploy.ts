import * as fs from "fs";
import * as path from "path";
import { ExitCode, OpsError } from "../errors";
import { deploy } from "../operations";
import { Command, STACK_OPTION } from "./command";

/** The policy pack (policies/) when present; refuses when its dependencies are missing. */
export function policyPacksFor(repoRoot: string, disabled: boolean): string[] | undefined {
    const dir = path.join(repoRoot, "policies");
    if (disabled || !fs.existsSync(path.join(dir, "PulumiPolicy.yaml"))) return undefined;
    if (!fs.existsSync(path.join(dir, "node_modules"))) {
        throw new OpsError(
            ExitCode.Refused,
            `the policy pack in ${dir} has no dependencies installed; run: npm ci --prefix policies (or pass --no-policy)`,
        );
    }
    return [dir];
}

export const deployCommand: Command = {
    summary: "preview, up and verify; roll back by itself when the update or its verification fails",
    usage: "deploy [--stack <name>] [--no-rollback] [--no-policy]",
    options: { ...STACK_OPTION, "no-rollback": { type: "boolean", default: false }, "no-policy": { type: "boolean", default: false } },
    async run(values, deps) {
        const stackName = String(values.stack);
        const policyPacks = policyPacksFor(deps.repoRoot, values["no-policy"] === true);
        const stack = await deps.openStack(stackName);
        const report = await deploy({
            stack,
            io: deps.io,
            code: deps.code,
            verifier: deps.verifier,
            signal: deps.signal,
            policyPacks,
            autoRollback: values["no-rollback"] !== true,
        });
        for (const line of report.summary) deps.io.out(line);
        return report.exitCode;
    },
};
