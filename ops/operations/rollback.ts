// `npm run rollback`: the program and config of an earlier version, its images pinned, run from a checkout of its commit.
import { CodeInspector } from "./code";
import { ProgramCheckout, stackInCheckout } from "../checkout";
import { ExitCode, OpsError, explainPulumiError, isConcurrentUpdateError } from "../errors";
import { BackendImageHistory, ImageHistory } from "../image-history";
import { RecoveryDeps, RecoveryReport, realRecoveryDeps, recoverInterruptedUpdate } from "../recovery";
import type { UpResult } from "@pulumi/pulumi/automation";
import * as path from "path";
import { formatImageTags, newUpdateId, readHistory, updateMessage } from "./history";
import { applyConfigRestore, assertCommitAvailable, chooseRollbackTarget, planConfigRestore } from "./rollback-plan";
import { OpsIO, OpsStack, PROJECT, RecordedConfigValue, UpdateRecord } from "../types";
import { cancelled, concurrentUpdate, findUpdate, leftBehind, previewWithoutCheckpoints, withUpdateId } from "./update";
import { withPulumiErrors } from "./util";
import { VerificationVerdict, Verifier } from "./verification";

export interface RollbackOptions {
    stack: OpsStack;
    io: OpsIO;
    code: CodeInspector;
    verifier: Verifier;
    /** Version to restore; default: the last good one before the current version. */
    to?: number;
    /** When the version recorded no commit: run the program checked out now with its config (you vouch for it). */
    force?: boolean;
    /** Print the plan, change nothing. */
    dryRun?: boolean;
    /** Why, recorded in the update message. */
    reason?: string;
    policyPacks?: string[];
    /**
     * Roll back only if the newest update is the one with this id (deploy: the update it started and saw fail), so
     * an update someone else ran in between is never undone.
     */
    undo?: { updateId: string };
    /** Lock and pending-operation recovery before anything changes (ops/recovery.ts); false: skip (deploy did it). */
    recovery?: RecoveryDeps | false;
    /** The nonce of the rollback's own update (default: a fresh one). */
    updateId?: string;
    /** Aborting it stops the running Pulumi command cleanly (SIGINT to the engine). */
    signal?: AbortSignal;
    /** Where the images a version ran are read from (build mode); default: the stack's backend (ops/image-history.ts). */
    images?: ImageHistory;
}

/** The failed update never started: the stack is unchanged. */
export class NothingToRollBack extends OpsError {
    constructor(message: string) {
        super(ExitCode.OperationFailed, message);
    }
}

export interface RollbackReport {
    from: number;
    to: number;
    /** The commit whose program the rollback ran (the restored version's), when it recorded one. */
    commit?: string;
    /** Version the rollback's own update created. */
    version?: number;
    /** The nonce of the rollback's update (its message's `update=` and its UPDATE_ID_ENV). */
    updateId?: string;
    changes: string[];
    verification?: VerificationVerdict;
    warnings: string[];
    recovery?: RecoveryReport;
}

/** The config key through which a rollback hands the program the images to deploy instead of building (config/schema.ts). */
export const PINNED_IMAGES_KEY = `${PROJECT}:pinnedImages`;
/** Config paths the program resolves against its directory: made absolute when it runs from a checkout. */
const PATH_KEYS = [`${PROJECT}:kubeconfig`, `${PROJECT}:sourceRoot`];

/**
 * In build mode, the digests version `target` ran (its `images` output), pinned so nothing is rebuilt; in prebuilt
 * mode nothing (its tags are in its config). Refuses, naming what is missing, rather than rebuild.
 */
export async function imagesToPin(
    stack: OpsStack,
    target: UpdateRecord,
    images: ImageHistory,
): Promise<Record<string, string> | undefined> {
    if (target.config[`${PROJECT}:buildImages`]?.value !== "true") return undefined;
    const recorded = await images.imagesOf(stack, target);
    if (!recorded) {
        throw new OpsError(
            ExitCode.Refused,
            `version ${target.version} of stack "${stack.name}" built its images (ultramarket:buildImages true), and the digests it ran (its "images" stack output) ` +
                `cannot be found on this backend (file backends: its checkpoint under .pulumi/history/; Pulumi Cloud: pulumi stack export --version ${target.version}), ` +
                `so a rollback would have to rebuild them; nothing was changed. Roll back by hand with the images it ran: ` +
                `pulumi config set --path pinnedImages.<app> <registry>/<app>@sha256:<digest> for each app, at commit ${target.commit ?? "(unrecorded)"}`,
        );
    }
    return recorded;
}

/** Relative paths (kubeconfig, sourceRoot) made absolute against the repository, for the program run from a checkout. */
export function absolutePathsFor(
    config: Record<string, { value?: string; secret?: boolean }>,
    repoDir: string,
): Record<string, RecordedConfigValue> {
    const out: Record<string, RecordedConfigValue> = {};
    for (const key of PATH_KEYS) {
        const v = config[key];
        if (v && !v.secret && typeof v.value === "string" && v.value !== "" && !path.isAbsolute(v.value))
            out[key] = { value: path.resolve(repoDir, v.value), secret: false };
    }
    return out;
}

/**
 * Plans (and unless dryRun, performs) a rollback to version N as it was: its program (N's commit, checked out as a
 * temporary worktree with its own dependencies), its config and its images (pinned digests in build mode, never
 * rebuilt); preview, up, verify; the worktree is removed afterwards, whatever happened. Throws OpsError(Refused)
 * without touching the stack when that is impossible (no such version, N's commit missing, images unknown).
 */
export async function rollback(opts: RollbackOptions): Promise<RollbackReport> {
    const { stack, io } = opts;
    const recovery =
        opts.recovery === false
            ? undefined
            : await recoverInterruptedUpdate(stack, io, opts.recovery ?? realRecoveryDeps, opts.dryRun, opts.signal);
    io.out(`==> ${stack.name}: reading stack history`);
    const history = await readHistory(stack, true);
    const choice = chooseRollbackTarget(stack.name, history, opts.to);
    if (opts.undo && choice.current.updateId !== opts.undo.updateId) {
        throw new OpsError(
            ExitCode.RollbackFailed,
            `the newest update of stack "${stack.name}" (version ${choice.current.version}: "${choice.current.message.split("\n")[0]}") is not the one this deploy started ` +
                `(update=${opts.undo.updateId}): another update ran since, and rolling back would undo it. Nothing was rolled back; ` +
                `see npm run status -- --stack ${stack.name}, then roll back deliberately if needed: npm run rollback -- --stack ${stack.name} --to <version>`,
        );
    }
    const { target } = choice;
    const warnings = [...choice.warnings, ...(await assertCommitAvailable(stack.name, target, opts.code, opts.force))];

    const currentConfig = await withPulumiErrors(stack.name, "config read", () => stack.getAllConfig());
    const plan = planConfigRestore(stack.name, target, currentConfig);
    const pins = await imagesToPin(stack, target, opts.images ?? new BackendImageHistory());
    if (pins) {
        plan.set[PINNED_IMAGES_KEY] = { value: JSON.stringify(pins), secret: false };
        plan.remove = plan.remove.filter((k) => k !== PINNED_IMAGES_KEY);
        plan.changes.push(
            `${PINNED_IMAGES_KEY}: the ${Object.keys(pins).length} images version ${target.version} ran (${formatPins(pins)})`,
        );
    }
    const report: RollbackReport = {
        from: choice.current.version,
        to: target.version,
        commit: target.commit,
        changes: plan.changes,
        warnings,
        recovery,
    };
    const images = pins ? "its pinned images" : `image tags ${formatImageTags(target.imageTags)}`;
    io.out(
        `==> ${stack.name}: rolling back from version ${report.from} to version ${report.to} (program at commit ${target.commit ?? "checked out now"}, ${images})`,
    );
    for (const w of warnings) io.out(`    warning: ${w}`);
    for (const c of plan.changes.length ? plan.changes : ["(config already equal; re-applying it)"]) io.out(`    ${c}`);
    if (opts.dryRun) {
        io.out(`==> ${stack.name}: dry run, nothing changed`);
        return report;
    }

    report.updateId = opts.updateId ?? newUpdateId();
    const checkout = target.commit ? await checkOut(stack.name, target, opts.code, io, opts.signal) : undefined;
    try {
        if (opts.signal?.aborted) throw cancelled(stack.name, "rollback");
        let run = stack;
        if (checkout) {
            if (pins && !(await checkout.knowsConfigKey("pinnedImages"))) {
                throw new OpsError(
                    ExitCode.Refused,
                    `version ${target.version} of stack "${stack.name}" built its images, and its program (commit ${checkout.commit}) predates ${PINNED_IMAGES_KEY}, ` +
                        `so it cannot deploy the digests it ran without rebuilding them; nothing was changed. Roll back to a version deployed by a program that knows ${PINNED_IMAGES_KEY}, ` +
                        `or pin the images by hand at that commit.`,
                );
            }
            run = await withPulumiErrors(stack.name, "stack select (in the worktree)", () => stackInCheckout(stack, checkout));
            const after: Record<string, { value?: string; secret?: boolean }> = {
                ...(currentConfig as Record<string, { value?: string; secret?: boolean }>),
                ...plan.set,
            };
            for (const key of plan.remove) delete after[key];
            Object.assign(plan.set, absolutePathsFor(after, checkout.repoDir));
        }
        await applyConfigRestore(run, plan);
        const message = updateMessage("rollback", checkout?.commit ?? (await opts.code.head()), {
            to: report.to,
            from: report.from,
            reason: opts.reason,
            updateId: report.updateId,
        });
        const retry = `npm run rollback -- --stack ${stack.name} --to ${report.to}`;
        const failed = async (what: string, err: unknown, changing: boolean): Promise<OpsError> => {
            // Interrupted: what the engine left, when it was the up (a preview changes nothing).
            if (opts.signal?.aborted) return cancelled(stack.name, "rollback", changing ? await leftBehind(run) : undefined);
            const e = isConcurrentUpdateError(err) ? concurrentUpdate(stack.name, "rollback") : explainPulumiError(stack.name, what, err);
            const where = checkout
                ? `Version ${report.to}'s config was written only to the temporary worktree, which is removed; Pulumi.${stack.name}.yaml is unchanged.`
                : `Pulumi.${stack.name}.yaml already holds version ${report.to}'s config; undo it with: git checkout -- Pulumi.${stack.name}.yaml.`;
            return new OpsError(e.exitCode, `${e.message}\n${where} Fix the cause and re-run: ${retry}`);
        };
        io.out(`==> ${stack.name}: preview of version ${report.to}${checkout ? ` (commit ${checkout.commit})` : ""}`);
        try {
            await previewWithoutCheckpoints(run, () =>
                run.preview({ onOutput: io.stream, policyPacks: opts.policyPacks, signal: opts.signal }),
            );
        } catch (err) {
            throw await failed("preview (rollback)", err, false);
        }
        if (opts.signal?.aborted) throw cancelled(stack.name, "rollback");
        io.out(`==> ${stack.name}: up with the program, config and images of version ${report.to} (update ${report.updateId})`);
        let result: UpResult;
        try {
            result = await withUpdateId(run, report.updateId, () =>
                run.up({ message, onOutput: io.stream, policyPacks: opts.policyPacks, signal: opts.signal }),
            );
        } catch (err) {
            throw await failed("up (rollback)", err, true);
        }
        const own = await findUpdate(run, report.updateId);
        report.version = own?.version ?? (result.summary?.version || undefined);
        report.verification = await opts.verifier.verify(run, report.updateId);
        io.out(
            `==> ${stack.name}: rollback to version ${report.to} done (new version ${report.version ?? "?"}); ${report.verification.summary}`,
        );
        return report;
    } finally {
        if (checkout) {
            await checkout
                .remove()
                .catch((err: unknown) =>
                    io.out(
                        `    warning: could not remove the worktree ${checkout.dir}: ${err instanceof Error ? err.message : String(err)}; remove it with: git worktree remove --force ${checkout.dir}`,
                    ),
                );
        }
    }
}

/** The target's program as a temporary worktree; a failure (git, npm ci, cancel) is an operation that failed, nothing changed. */
async function checkOut(
    stackName: string,
    target: UpdateRecord,
    code: CodeInspector,
    io: OpsIO,
    signal?: AbortSignal,
): Promise<ProgramCheckout> {
    io.out(`==> ${stackName}: checking out the program of version ${target.version} (commit ${target.commit})`);
    try {
        return await code.checkout(target.commit!, (line) => io.out(line), signal);
    } catch (err) {
        if (signal?.aborted) throw cancelled(stackName, "rollback");
        if (err instanceof OpsError) throw err;
        throw new OpsError(
            ExitCode.OperationFailed,
            `the program of version ${target.version} (commit ${target.commit}) could not be checked out with its dependencies, so nothing was changed: ` +
                `${err instanceof Error ? err.message : String(err)}\nFix the cause (network for npm ci, disk space) and re-run: npm run rollback -- --stack ${stackName} --to ${target.version}`,
        );
    }
}

/** What the operator does next: the checkout still holds the program and config that were rolled back. */
export function afterRollbackAdvice(stackName: string, r: Pick<RollbackReport, "to" | "commit">): string {
    return (
        `the cluster runs version ${r.to} again${r.commit ? ` (program of commit ${r.commit.slice(0, 12)}, its config and images)` : ""}; this checkout and Pulumi.${stackName}.yaml ` +
        `still hold what was rolled back: revert the change on main (git revert), or the next deploy redeploys it`
    );
}

function formatPins(pins: Record<string, string>): string {
    const shown = Object.entries(pins)
        .sort(([a], [b]) => a.localeCompare(b))
        .slice(0, 3)
        .map(([app, ref]) => `${app}=${ref}`);
    return shown.join(", ") + (Object.keys(pins).length > 3 ? ", ..." : "");
}
