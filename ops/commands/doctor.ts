import { ExitCode } from "../errors";
import { formatChecks, runDoctor } from "../doctor";
import { assertStackExists, stackFiles } from "../workspace";
import { Command, STACK_OPTION } from "./command";

export const doctorCommand: Command = {
    summary:
        "check Node, the Pulumi CLI, backend, config and secrets, the cluster, Docker, the CRDs and, for the local stack, its real node's prerequisites",
    usage: "doctor [--stack <name>]",
    options: { ...STACK_OPTION },
    async run(values, deps) {
        const stackName = String(values.stack);
        // doctor reads the stack's settings file without the CLI: a name without one is refused like an unknown stack.
        assertStackExists(stackName, stackFiles(deps.repoRoot), `in ${deps.repoRoot} (no Pulumi.${stackName}.yaml)`);
        const checks = await runDoctor({
            stackName,
            repoRoot: deps.repoRoot,
            env: deps.env,
            probe: deps.probe,
            host: deps.host,
            nodeVersion: process.versions.node,
        });
        for (const line of formatChecks(stackName, checks)) deps.io.out(line);
        return checks.some((c) => !c.ok) ? ExitCode.ChecksFailed : ExitCode.Ok;
    },
};
