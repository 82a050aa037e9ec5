import { detectDrift } from "../operations";
import { Command, STACK_OPTION } from "./command";

export const driftCommand: Command = {
    summary: "refresh --preview-only --expect-no-changes: list what changed outside Pulumi, exit 5 on drift",
    usage: "drift [--stack <name>]",
    options: { ...STACK_OPTION },
    async run(values, deps) {
        const stack = await deps.openStack(String(values.stack));
        return (await detectDrift(stack, deps.io)).exitCode;
    },
};
