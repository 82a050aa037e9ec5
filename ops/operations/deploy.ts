// `npm run deploy`: recovery of an interrupted update, a preview, `up` with this update's nonce, verification, and an
// automatic rollback when `up` or verification fails.
import { ExitCode, OpsError, explainPulumiError, isConcurrentUpdateError } from "../errors";
import { RecoveryDeps, RecoveryReport, realRecoveryDeps, recoverInterruptedUpdate } from "../recovery";
import { newUpdateId, updateMessage } from "./history";
import { RollbackReport, afterRollbackAdvice, rollback } from "./rollback";
import { CodeInspector } from "./code";
import { OpsIO, OpsStack, UpdateRecord } from "../types";
import { cancelled, concurrentUpdate, findUpdate, leftBehind, previewWithoutCheckpoints, withUpdateId } from "./update";
import { withPulumiErrors } from "./util";
import { VerificationVerdict, Verifier } from "./verification";

export interface DeployOptions {
    stack: OpsStack;
    io: OpsIO;
    code: CodeInspector;
    verifier: Verifier;
    policyPacks?: string[];
    /** Roll back automatically when up or verification fails (default true). */
    autoRollback?: boolean;
    /** Lock and pending-operation recovery before the preview (ops/recovery.ts); defaults to the real ones. */
    recovery?: RecoveryDeps;
    /** The nonce of this deploy's update (default: a fresh one). */
    updateId?: string;
    /** Aborting it (SIGINT/SIGTERM in the CLI) stops the running Pulumi command cleanly; nothing is rolled back then. */
    signal?: AbortSignal;
}

export interface DeployReport {
    exitCode: ExitCode;
    /** The nonce of the update this deploy started: `update=<id>` in its message, UPDATE_ID_ENV for its program. */
    updateId: string;
    version?: number;
    upError?: string;
    verification?: VerificationVerdict;
    rollback?: RollbackReport;
    rollbackError?: string;
    recovery?: RecoveryReport;
    /** Final lines for the operator. */
    summary: string[];
}

/**
 * recover, preview, up, verify. When this invocation's own update (found in the history by its nonce) failed, or
 * its verification did, roll back to the last good version and report both; a lock conflict rolls nothing back.
 */
export async function deploy(opts: DeployOptions): Promise<DeployReport> {
    const { stack, io } = opts;
    const report: DeployReport = { exitCode: ExitCode.Ok, updateId: opts.updateId ?? newUpdateId(), summary: [] };
    const { updateId } = report;
    report.recovery = await recoverInterruptedUpdate(stack, io, opts.recovery ?? realRecoveryDeps, false, opts.signal);
    const commit = await opts.code.head();
    io.out(`==> ${stack.name}: preview${opts.policyPacks?.length ? ` with policy pack ${opts.policyPacks.join(", ")}` : ""}`);
    await withPulumiErrors(stack.name, "preview", async () => {
        try {
            return await previewWithoutCheckpoints(stack, () =>
                stack.preview({ onOutput: io.stream, policyPacks: opts.policyPacks, signal: opts.signal }),
            );
        } catch (err) {
            if (opts.signal?.aborted) throw cancelled(stack.name, "deploy");
            throw isConcurrentUpdateError(err) ? concurrentUpdate(stack.name, "deploy") : err;
        }
    });
    if (opts.signal?.aborted) throw cancelled(stack.name, "deploy");

    io.out(`==> ${stack.name}: up (commit ${commit ?? "unknown"}, update ${updateId})`);
    let own: UpdateRecord | undefined;
    try {
        const result = await withUpdateId(stack, updateId, () =>
            stack.up({
                message: updateMessage("deploy", commit, { updateId }),
                onOutput: io.stream,
                policyPacks: opts.policyPacks,
                signal: opts.signal,
            }),
        );
        if (opts.signal?.aborted) throw cancelled(stack.name, "deploy", await leftBehind(stack));
        own = await findUpdate(stack, updateId);
        report.version = own?.version ?? (result.summary?.version || undefined);
        io.out(`==> ${stack.name}: verifying version ${report.version ?? "?"}`);
        report.verification = await opts.verifier.verify(stack, updateId);
        io.out(`    ${report.verification.summary}`);
        for (const f of report.verification.failures) io.out(`    FAILED ${f}`);
    } catch (err) {
        if (opts.signal?.aborted) {
            const e =
                err instanceof OpsError && /was interrupted/.test(err.message)
                    ? err
                    : cancelled(stack.name, "deploy", await leftBehind(stack));
            report.exitCode = e.exitCode;
            report.summary.push(e.message);
            return report;
        }
        if (isConcurrentUpdateError(err)) {
            report.exitCode = ExitCode.Conflict;
            report.upError = concurrentUpdate(stack.name, "deploy").message;
            report.summary.push(report.upError);
            return report;
        }
        report.upError = explainPulumiError(stack.name, "up", err).message;
        io.out(report.upError);
    }

    const failed = report.upError !== undefined || report.verification?.status === "failed";
    if (!failed) {
        report.summary.push(`deployed stack "${stack.name}" version ${report.version ?? "?"}: ${report.verification?.summary ?? ""}`);
        if (report.verification?.status === "skipped") report.summary.push(`warning: ${stack.name} is deployed but NOT verified`);
        return report;
    }

    if (report.upError !== undefined) {
        // Only an update this invocation started and saw fail is ever rolled back.
        try {
            own = await findUpdate(stack, updateId);
        } catch (err) {
            report.exitCode = ExitCode.RollbackFailed;
            report.summary.push(
                `the update failed, and the stack history could not be read to tell whether this deploy's update (update=${updateId}) ran, so nothing is rolled back: ` +
                    `${err instanceof Error ? err.message : String(err)}\nCheck with npm run status -- --stack ${stack.name}, then roll back deliberately if needed.`,
            );
            return report;
        }
        if (!own) {
            report.exitCode = ExitCode.OperationFailed;
            report.summary.push(
                `the update of stack "${stack.name}" never started (no update=${updateId} in its history), so nothing changed and nothing is rolled back`,
            );
            return report;
        }
        report.version = own.version;
        if (own.result !== "failed") {
            report.exitCode = ExitCode.RollbackFailed;
            report.summary.push(
                `up reported an error, but this deploy's update (version ${own.version}) is recorded as ${own.result}: not rolling back. ` +
                    `Check it with npm run status -- --stack ${stack.name}, then deploy again or roll back deliberately.`,
            );
            return report;
        }
    }

    const what =
        report.upError !== undefined
            ? `the update (version ${report.version}) failed`
            : `verification of version ${report.version ?? "?"} failed`;
    if (opts.autoRollback === false) {
        report.exitCode = ExitCode.RollbackFailed;
        report.summary.push(`${what}; automatic rollback is off. Roll back with: npm run rollback -- --stack ${stack.name}`);
        return report;
    }
    io.out(`==> ${stack.name}: ${what}; rolling back to the last good version`);
    try {
        report.rollback = await rollback({
            stack,
            io,
            code: opts.code,
            verifier: opts.verifier,
            reason: `automatic: ${what}`,
            policyPacks: opts.policyPacks,
            undo: { updateId },
            recovery: false,
            signal: opts.signal,
        });
        const verified = report.rollback.verification?.status !== "failed";
        report.exitCode = verified ? ExitCode.RolledBack : ExitCode.RollbackFailed;
        report.summary.push(
            `${what}; rolled back stack "${stack.name}" to version ${report.rollback.to} (new version ${report.rollback.version ?? "?"}); ${report.rollback.verification?.summary ?? ""}`,
        );
        report.summary.push(afterRollbackAdvice(stack.name, report.rollback));
        if (!verified)
            report.summary.push(
                `the rolled-back version does not verify either: investigate now (npm run doctor -- --stack ${stack.name})`,
            );
    } catch (err) {
        report.exitCode = ExitCode.RollbackFailed;
        report.rollbackError = err instanceof Error ? err.message : String(err);
        report.summary.push(`${what}, and the automatic rollback did not happen: ${report.rollbackError}`);
    }
    return report;
}
