// One update as deploy and rollback start it: its nonce in the program's environment, finding it in the history
// afterwards, and the errors both report when it is cancelled or the stack is locked by another.
import { UPDATE_ID_ENV } from "../../config";
import { ExitCode, OpsError } from "../errors";
import { readHistory } from "./history";
import { OpsStack, UpdateRecord } from "../types";

/** Runs `fn` (an `up`) with UPDATE_ID_ENV set in the stack's workspace environment, and only for its length. */
export async function withUpdateId<T>(stack: OpsStack, updateId: string, fn: () => Promise<T>): Promise<T> {
    const env = stack.workspace.envVars;
    const previous = env[UPDATE_ID_ENV];
    env[UPDATE_ID_ENV] = updateId;
    try {
        return await fn();
    } finally {
        if (previous === undefined) delete env[UPDATE_ID_ENV];
        else env[UPDATE_ID_ENV] = previous;
    }
}

/** The update whose message carries `update=<updateId>`: the one a given deploy or rollback started. */
export async function findUpdate(stack: OpsStack, updateId: string): Promise<UpdateRecord | undefined> {
    return (await readHistory(stack, false)).find((r) => r.kind === "update" && r.updateId === updateId);
}

export function cancelled(stackName: string, action: string): OpsError {
    return new OpsError(
        ExitCode.OperationFailed,
        `${action} of stack "${stackName}" was cancelled (SIGINT/SIGTERM): the engine was asked to stop at a safe point and nothing is rolled back. ` +
            `The next deploy or rollback resolves what it left (lock, pending operations); see npm run status -- --stack ${stackName}`,
    );
}

export function concurrentUpdate(stackName: string, action: string): OpsError {
    return new OpsError(
        ExitCode.Conflict,
        `stack "${stackName}" is locked by another update that is running now, so this ${action} did not start: nothing changed and nothing is rolled back. ` +
            `Wait for that update to finish (npm run status -- --stack ${stackName}), then run it again.`,
    );
}
