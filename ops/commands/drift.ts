import { checkDrift, healDrift } from "../drift/check";
import { clusterForStack } from "../drift/cluster";
import { Command, STACK_OPTION } from "./command";

export const driftCommand: Command = {
    summary:
        "refresh --preview-only, plus every field another manager added or changed on program-owned objects (managedFields); exit 5 on drift. " +
        "--heal reverts it (removes those fields, up --refresh) and exits 0 when the check afterwards is clean",
    usage: "drift [--stack <name>] [--heal]",
    options: { ...STACK_OPTION, heal: { type: "boolean", default: false } },
    async run(values, deps) {
        const stack = await deps.openStack(String(values.stack));
        const config = await stack.getAllConfig();
        const cluster = deps.cluster ? deps.cluster(config) : clusterForStack(config, deps.repoRoot);
        const args = { stack, io: deps.io, cluster };
        return (values.heal ? await healDrift(args) : await checkDrift(args)).exitCode;
    },
};
