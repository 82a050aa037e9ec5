import { ExitCode, OpsError } from "../errors";
import { status } from "../operations";
import { Command, STACK_OPTION } from "./command";

export const statusCommand: Command = {
    summary: "recent updates with version, result, commit and image tags",
    usage: "status [--stack <name>] [--limit <n>]",
    options: { ...STACK_OPTION, limit: { type: "string", short: "n", default: "10" } },
    async run(values, deps) {
        const limit = Number(values.limit);
        if (!Number.isInteger(limit) || limit < 1)
            throw new OpsError(ExitCode.Usage, `--limit expects a positive whole number, got "${String(values.limit)}"`);
        const stack = await deps.openStack(String(values.stack));
        await status(stack, deps.io, limit);
        return ExitCode.Ok;
    },
};
