// One update as deploy and rollback start it: its nonce in the program's environment, finding it in the history
// afterwards, and the errors both report when it is cancelled or the stack is locked by another.
import { UPDATE_ID_ENV } from "../../config";
import { ExitCode, OpsError } from "../errors";
import { readHistory } from "./history";
import { FileBackendLocks, LockHolder, LockInspector, pendingOperationsOf } from "../recovery";
import { OpsStack, UpdateRecord } from "../types";

/** Runs `fn` (an `up`) with UPDATE_ID_ENV set in the stack's workspace environment, and only for its length. */
export const withUpdateId = <T>(stack: OpsStack, updateId: string, fn: () => Promise<T>): Promise<T> =>
    withStackEnv(stack, UPDATE_ID_ENV, updateId, fn);

/** The engine's switch that serializes the state once at the end instead of after every step. */
export const SKIP_CHECKPOINTS_ENV = "PULUMI_SKIP_CHECKPOINTS";

/**
 * Runs a preview with the engine's per-step checkpoints off. A preview's state is thrown away (the file backend hands
 * it a discarding persister), yet the engine serializes the whole of it after every step: O(n²) work for nothing,
 * 64 % of the engine's CPU in a preview that creates 800 resources (README "Previews skip the per-step checkpoints").
 * Set for the preview alone: the `up` after it checkpoints every step, so an interrupted one can be repaired.
 */
export const previewWithoutCheckpoints = <T>(stack: OpsStack, preview: () => Promise<T>): Promise<T> =>
    withStackEnv(stack, SKIP_CHECKPOINTS_ENV, "true", preview);

/** Runs fn with `name=value` in the environment of every Pulumi command on the stack, then puts back what was there. */
async function withStackEnv<T>(stack: OpsStack, name: string, value: string, fn: () => Promise<T>): Promise<T> {
    const env = stack.workspace.envVars;
    const previous = env[name];
    env[name] = value;
    try {
        return await fn();
    } finally {
        if (previous === undefined) delete env[name];
        else env[name] = previous;
    }
}

/** The update whose message carries `update=<updateId>`: the one a given deploy or rollback started. */
export async function findUpdate(stack: OpsStack, updateId: string): Promise<UpdateRecord | undefined> {
    return (await readHistory(stack, false)).find((r) => r.kind === "update" && r.updateId === updateId);
}

/** What an interrupted update left in the stack: its pending operations and, on a file backend, its lock. */
export interface LeftBehind {
    /** One line per pending operation: `creating kubernetes:batch/v1:Job auth-service-migrate`. */
    pending: string[];
    /** Lock holders still recorded (file backend only; undefined where locks cannot be read from here). */
    locks?: LockHolder[];
    /** Why the state could not be read (then nothing is claimed about it). */
    unreadable?: string;
}

/** Reads back what an interrupted update left: `pulumi stack export`'s pending operations and the backend's locks. */
export async function leftBehind(stack: OpsStack, locks: LockInspector = new FileBackendLocks()): Promise<LeftBehind> {
    try {
        const pending = pendingOperationsOf(await stack.exportStack()).map((op) => {
            const urn = op.resource.urn;
            return `${op.type} ${op.resource.type} ${urn.slice(urn.lastIndexOf("::") + 2)}`;
        });
        return { pending, locks: await locks.locks(stack) };
    } catch (err) {
        return { pending: [], unreadable: err instanceof Error ? err.message.split("\n")[0] : String(err) };
    }
}

/**
 * The report of an update interrupted by SIGINT/SIGTERM. Without `left`, nothing had started to change the stack
 * (interrupted before or during the preview). With it, exactly what the engine left: nothing (it stopped at a safe
 * point), or the pending operations and lock the next deploy repairs.
 */
export function cancelled(stackName: string, action: string, left?: LeftBehind): OpsError {
    const head = `${action} of stack "${stackName}" was interrupted (SIGINT/SIGTERM)`;
    const next = `npm run ${action === "rollback" ? "rollback" : "deploy"} -- --stack ${stackName}`;
    if (left === undefined) {
        return new OpsError(ExitCode.OperationFailed, `${head} before its update started: nothing was changed and nothing is rolled back.`);
    }
    if (left.unreadable !== undefined) {
        return new OpsError(
            ExitCode.OperationFailed,
            `${head}; nothing is rolled back. Its state could not be read back to say what the engine left (${left.unreadable}); ` +
                `the next ${next} repairs whatever it left (a stale lock, pending operations).`,
        );
    }
    const lock = left.locks?.length ? `the stack's lock (${left.locks.map((h) => `pid ${h.pid} on ${h.hostname}`).join(", ")})` : undefined;
    if (left.pending.length === 0 && lock === undefined) {
        return new OpsError(
            ExitCode.OperationFailed,
            `${head}, and the engine stopped at a safe point: no operation is pending, the lock is released and nothing is rolled back. ` +
                `What it finished before stopping is in the state (npm run status -- --stack ${stackName}); run ${next} to finish.`,
        );
    }
    const what = [
        ...(left.pending.length ? [`${left.pending.length} pending operation(s): ${left.pending.join("; ")}`] : []),
        ...(lock ? [lock] : []),
    ];
    return new OpsError(
        ExitCode.OperationFailed,
        `${head}, and the engine did not stop cleanly (it was terminated, or stopped before a safe point): it left ${what.join(", and ")}. ` +
            `Nothing is rolled back. The next ${next} repairs this first (it cancels a stale lock and adopts or clears each pending operation; ops/recovery.ts).`,
    );
}

export function concurrentUpdate(stackName: string, action: string): OpsError {
    return new OpsError(
        ExitCode.Conflict,
        `stack "${stackName}" is locked by another update that is running now, so this ${action} did not start: nothing changed and nothing is rolled back. ` +
            `Wait for that update to finish (npm run status -- --stack ${stackName}), then run it again.`,
    );
}
