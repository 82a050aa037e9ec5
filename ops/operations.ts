// The operations module shared by every command of the CLI (ops/cli.ts): stack history, rollback planning,
// deploy with automatic rollback, drift detection and status. Everything here talks to an `OpsStack` (the part
// of the Automation API Stack we use), a `Verifier` and a `CodeInspector`, so unit tests drive it with fakes.
import { execFile } from "child_process";
import { randomBytes } from "crypto";
import * as path from "path";
import type {
    ConfigMap,
    Deployment,
    EngineEvent,
    OutputMap,
    PreviewOptions,
    PreviewResult,
    RefreshOptions,
    RefreshResult,
    UpdateSummary,
    UpOptions,
    UpResult,
} from "@pulumi/pulumi/automation";
import { ExitCode, OpsError, explainPulumiError, isConcurrentUpdateError } from "./errors";
import { realRecoveryDeps, recoverInterruptedUpdate, RecoveryDeps, RecoveryReport } from "./recovery";
import { secretConfigWriterFor } from "./secret-config";
import { GitWorktrees, ProgramCheckout, stackInCheckout } from "./checkout";
import { BackendImageHistory, ImageHistory } from "./image-history";

export const PROJECT = "ultramarket";
/** Config keys that say where the cluster is, not what is deployed: a rollback keeps their current values. */
export const KEYS_KEPT_ON_ROLLBACK = [`${PROJECT}:kubeconfig`, `${PROJECT}:kubeContext`];
/** The stack output the program exports with its post-deployment verification report. */
export const VERIFICATION_OUTPUT = "verification";
/**
 * Environment variable deploy and rollback set for the `up` they run: a nonce naming that one update. The program
 * (config.ts, which defines it) puts it in its verification trigger and the report echoes it as
 * `verification.updateId`, so a report left by another update is never taken for this one's.
 */
export { UPDATE_ID_ENV } from "../config";
import { UPDATE_ID_ENV } from "../config";

/** The part of @pulumi/pulumi/automation's Stack the operations use (a real Stack satisfies it). */
export interface OpsStack {
    readonly name: string;
    preview(opts?: PreviewOptions): Promise<PreviewResult>;
    up(opts?: UpOptions): Promise<UpResult>;
    previewRefresh(opts?: RefreshOptions): Promise<PreviewResult>;
    history(pageSize?: number, page?: number, showSecrets?: boolean): Promise<UpdateSummary[]>;
    outputs(): Promise<OutputMap>;
    getAllConfig(): Promise<ConfigMap>;
    setAllConfigJson(configJson: string): Promise<void>;
    removeAllConfig(keys: string[], path?: boolean): Promise<void>;
    /** The stack's state (drift reads the Kubernetes objects it owns from it). */
    exportStack(): Promise<Deployment>;
    /** Replaces the stack's state (interruption recovery adopts what a killed update created). */
    importStack(state: Deployment): Promise<void>;
    refresh(opts?: RefreshOptions): Promise<RefreshResult>;
    /** `pulumi cancel`: removes the stack's lock (only ever after checking that its holder is gone). */
    cancel(): Promise<void>;
    /** Environment of every Pulumi command on the stack (deploy sets UPDATE_ID_ENV in it for the length of its `up`). */
    readonly workspace: { envVars: Record<string, string> };
}

/** Where the CLI writes: `out` for lines, `stream` for Pulumi's progress as it happens. */
export interface OpsIO {
    out(line: string): void;
    stream(chunk: string): void;
}

// ---------------------------------------------------------------------------------------------------------------
// History

/** A config value as `pulumi stack history --json` records it (value absent when secret and not decrypted). */
export interface RecordedConfigValue {
    value?: string;
    objectValue?: unknown;
    secret: boolean;
}

export interface ImageTags {
    /** `ultramarket:imageTag`, the tag of every app without an override. */
    global?: string;
    /** `ultramarket:serviceImageTags`, app name -> tag. */
    perApp: Record<string, string>;
}

export interface UpdateRecord {
    version: number;
    kind: string;
    result: string;
    message: string;
    startTime?: Date;
    endTime?: Date;
    /** The commit of the program that ran the update (Pulumi's `git.head`, else `commit=` in our message). */
    commit?: string;
    /** True when Pulumi recorded uncommitted changes in the working tree (`git.dirty`). */
    dirty: boolean;
    config: Record<string, RecordedConfigValue>;
    imageTags: ImageTags;
    resourceChanges: Record<string, number>;
    /** Set on updates made by `rollback` / deploy's automatic rollback: the version restored and the one undone. */
    rollback?: { to: number; from?: number };
    /** The nonce deploy or rollback put in the update's message (`update=<id>`): which invocation started it. */
    updateId?: string;
}

const COMMIT_IN_MESSAGE = /\bcommit=([0-9a-f]{7,40})\b/;
const ROLLBACK_IN_MESSAGE = /\brollback to=v(\d+)(?: from=v(\d+))?/;
const UPDATE_ID_IN_MESSAGE = /\bupdate=([0-9a-f]{16})\b/;
/** Pulumi stores this instead of a secret it could not decrypt. */
const UNDECRYPTABLE = "ERROR_UNABLE_TO_DECRYPT";

/** A fresh nonce naming one update (16 hex digits): in its message (`update=<id>`) and its UPDATE_ID_ENV. */
export function newUpdateId(): string {
    return randomBytes(8).toString("hex");
}

/** The update message deploy and rollback record, so history says which commit ran, which invocation ran it and what was undone. */
export function updateMessage(
    action: "deploy" | "rollback",
    commit: string | undefined,
    detail: { to?: number; from?: number; reason?: string; updateId?: string } = {},
): string {
    const parts = [`ops ${action}`];
    if (action === "rollback" && detail.to !== undefined) parts[0] += ` to=v${detail.to}${detail.from !== undefined ? ` from=v${detail.from}` : ""}`;
    if (commit) parts.push(`commit=${commit}`);
    if (detail.updateId) parts.push(`update=${detail.updateId}`);
    if (detail.reason) parts.push(`(${detail.reason})`);
    return parts.join(" ");
}

/**
 * Parses the entries of Stack.history() (the CLI lists them newest first) into records, newest first.
 * Self-managed (DIY) backends record no version numbers (every entry says 0): then updates are numbered
 * 1..n from the oldest, as Pulumi Cloud numbers them. That needs the whole history, never one page of it.
 */
export function parseHistory(raw: readonly unknown[]): UpdateRecord[] {
    const records = raw.map(parseUpdate);
    const numbered = records.every((r) => Number.isInteger(r.version) && r.version > 0) && new Set(records.map((r) => r.version)).size === records.length;
    if (numbered) return records.sort((a, b) => b.version - a.version);
    return records.map((r, i) => ({ ...r, version: records.length - i }));
}

/** The whole history, secrets encrypted unless asked for (see parseHistory for why never a page). */
async function readHistory(stack: OpsStack, showSecrets: boolean): Promise<UpdateRecord[]> {
    return parseHistory(await withPulumiErrors(stack.name, "stack history", () => stack.history(undefined, undefined, showSecrets)));
}

function parseUpdate(entry: unknown): UpdateRecord {
    const e = (entry ?? {}) as Record<string, unknown>;
    const environment = isObject(e.environment) ? (e.environment as Record<string, string>) : {};
    const message = typeof e.message === "string" ? e.message : "";
    const config: Record<string, RecordedConfigValue> = {};
    if (isObject(e.config)) {
        for (const [key, v] of Object.entries(e.config as Record<string, unknown>)) {
            const cv = (isObject(v) ? v : {}) as Record<string, unknown>;
            config[key] = {
                value: typeof cv.value === "string" ? cv.value : undefined,
                objectValue: cv.objectValue,
                secret: cv.secret === true,
            };
        }
    }
    const headFromEnv = environment["git.head"];
    const headFromMessage = COMMIT_IN_MESSAGE.exec(message)?.[1];
    const rollbackMatch = ROLLBACK_IN_MESSAGE.exec(message);
    return {
        version: Number(e.version),
        kind: String(e.kind ?? "unknown"),
        result: String(e.result ?? "unknown"),
        message,
        startTime: toDate(e.startTime),
        endTime: toDate(e.endTime),
        commit: headFromEnv && /^[0-9a-f]{7,40}$/.test(headFromEnv) ? headFromEnv : headFromMessage,
        dirty: environment["git.dirty"] === "true",
        config,
        imageTags: imageTagsOf(config),
        resourceChanges: isObject(e.resourceChanges) ? (e.resourceChanges as Record<string, number>) : {},
        rollback: rollbackMatch
            ? { to: Number(rollbackMatch[1]), from: rollbackMatch[2] !== undefined ? Number(rollbackMatch[2]) : undefined }
            : undefined,
        updateId: UPDATE_ID_IN_MESSAGE.exec(message)?.[1],
    };
}

/** Image tags from a recorded config: the global tag and the per-app overrides (a JSON map or an object value). */
export function imageTagsOf(config: Record<string, RecordedConfigValue>): ImageTags {
    const global = config[`${PROJECT}:imageTag`]?.value;
    const perAppEntry = config[`${PROJECT}:serviceImageTags`];
    let perApp: Record<string, string> = {};
    const candidate = perAppEntry?.objectValue ?? tryJson(perAppEntry?.value);
    if (isObject(candidate)) {
        perApp = Object.fromEntries(Object.entries(candidate as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
    }
    return { global, perApp };
}

export function formatImageTags(tags: ImageTags): string {
    const overrides = Object.entries(tags.perApp)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([app, tag]) => `${app}=${tag}`);
    const base = tags.global ?? "(unset)";
    return overrides.length ? `${base} (+ ${overrides.join(", ")})` : base;
}

// ---------------------------------------------------------------------------------------------------------------
// Rollback planning

export interface RollbackChoice {
    /** The update whose config is restored. */
    target: UpdateRecord;
    /** The newest update (what is being undone). */
    current: UpdateRecord;
    warnings: string[];
}

/**
 * Picks the update to roll back to. Without `to`: the newest successful update older than the current one,
 * skipping versions a later rollback undid (and, when the current update is itself a rollback, the version it
 * restored). With `to`: that version, refused unless it is an earlier successful update.
 */
export function chooseRollbackTarget(stackName: string, history: readonly UpdateRecord[], to?: number): RollbackChoice {
    const updates = history.filter((r) => r.kind === "update");
    const current = updates[0];
    if (!current) {
        throw new OpsError(ExitCode.Refused, `stack "${stackName}" has no updates in its history, so there is nothing to roll back to; deploy first: npm run deploy -- --stack ${stackName}`);
    }
    const undone = new Set(updates.filter((r) => r.rollback?.from !== undefined && r.result === "succeeded").map((r) => r.rollback!.from!));
    const warnings: string[] = [];

    if (to === undefined) {
        const below = current.rollback && current.result === "succeeded" ? current.rollback.to : current.version;
        const target = updates.find((r) => r.version < below && r.result === "succeeded" && !undone.has(r.version));
        if (!target) {
            throw new OpsError(
                ExitCode.Refused,
                `stack "${stackName}" has no successful update before version ${below} to roll back to; ` +
                    `see the history with: npm run status -- --stack ${stackName}`,
            );
        }
        return { target, current, warnings };
    }

    const target = history.find((r) => r.version === to);
    const known = updates.filter((r) => r.result === "succeeded").map((r) => r.version);
    const knownText = known.length ? `successful updates: ${known.slice(0, 15).join(", ")}${known.length > 15 ? ", ..." : ""}` : "no successful updates";
    if (!target) {
        throw new OpsError(ExitCode.Refused, `stack "${stackName}" has no version ${to} (${knownText}); pick one with: npm run status -- --stack ${stackName}`);
    }
    if (target.kind !== "update") {
        throw new OpsError(ExitCode.Refused, `version ${to} of stack "${stackName}" is a ${target.kind}, not an update: it recorded no deployment to return to (${knownText})`);
    }
    if (target.result !== "succeeded") {
        throw new OpsError(ExitCode.Refused, `version ${to} of stack "${stackName}" is an update that ${target.result === "failed" ? "failed" : `is ${target.result}`}; roll back only to a successful one (${knownText})`);
    }
    if (target.version === current.version) {
        throw new OpsError(ExitCode.Refused, `version ${to} is already the current version of stack "${stackName}"; nothing to roll back`);
    }
    if (undone.has(target.version)) warnings.push(`version ${to} was rolled back once already (see npm run status); restoring it anyway because you asked for it`);
    return { target, current, warnings };
}

/** The program's source as git knows it, and the program of a recorded commit for rollback. */
export interface CodeInspector {
    /** The commit checked out now, if any. */
    head(): Promise<string | undefined>;
    /** Whether `commit` exists in the local repository. */
    hasCommit(commit: string): Promise<boolean>;
    /** The program at `commit` as a temporary checkout with its own dependencies installed (ops/checkout.ts). */
    checkout(commit: string, log: (line: string) => void, signal?: AbortSignal): Promise<ProgramCheckout>;
}

/**
 * Refuses (before anything changes) when the program of `target` cannot be checked out: no commit recorded (unless
 * --force runs the program checked out now), or a commit this repository does not have (the message says how to fetch it).
 */
export async function assertCommitAvailable(stackName: string, target: UpdateRecord, code: CodeInspector, force = false): Promise<string[]> {
    const retry = `npm run rollback -- --stack ${stackName} --to ${target.version}`;
    if (!target.commit) {
        if (force) return [`--force: version ${target.version} recorded no git commit; running the program checked out now with its config`];
        throw new OpsError(
            ExitCode.Refused,
            `version ${target.version} of stack "${stackName}" recorded no git commit, so its program cannot be restored; nothing was changed. ` +
                `If the program checked out now is the one that deployed it, re-run with --force: ${retry} --force`,
        );
    }
    if (!(await code.hasCommit(target.commit))) {
        throw new OpsError(
            ExitCode.Refused,
            `version ${target.version} of stack "${stackName}" was deployed from commit ${target.commit}, which this repository does not have, ` +
                `so its program cannot be restored; nothing was changed. Fetch it (git fetch origin ${target.commit}, or git fetch --all when it is on another remote), then run: ${retry}`,
        );
    }
    return target.dirty ? [`version ${target.version} was deployed from commit ${target.commit} with uncommitted changes; the restored program is the commit without them`] : [];
}

export interface ConfigRestorePlan {
    /** Plain entries to write, in the `pulumi config --json` shape `config set-all --json` reads (never a secret). */
    set: Record<string, RecordedConfigValue>;
    /** Secrets whose value differs from the current one: written one by one on stdin (ops/secret-config.ts). */
    secretWrites: Record<string, string>;
    /** Keys present now that the target version did not have. */
    remove: string[];
    /** Human-readable changes; secrets are named, never shown. */
    changes: string[];
    /** Secret values in `set`, for redacting error messages. */
    secretValues: string[];
}

/** The config writes that make the stack's `ultramarket:` config equal to the target version's (kept keys aside). */
export function planConfigRestore(
    stackName: string,
    target: UpdateRecord,
    current: ConfigMap | Record<string, RecordedConfigValue>,
    keep: readonly string[] = KEYS_KEPT_ON_ROLLBACK,
): ConfigRestorePlan {
    const inScope = (key: string) => key.startsWith(`${PROJECT}:`) && !keep.includes(key);
    const set: Record<string, RecordedConfigValue> = {};
    const secretWrites: Record<string, string> = {};
    const changes: string[] = [];
    const secretValues: string[] = [];
    for (const [key, recorded] of Object.entries(target.config)) {
        if (!inScope(key)) continue;
        if (recorded.value === undefined || recorded.value === UNDECRYPTABLE) {
            throw new OpsError(
                ExitCode.Refused,
                `cannot read the secret ${key} recorded in version ${target.version} of stack "${stackName}"; ` +
                    `set PULUMI_CONFIG_PASSPHRASE to the passphrase that stack used then (or restore its secrets provider), and retry`,
            );
        }
        const now = current[key] as { value?: string; secret?: boolean } | undefined;
        if (recorded.secret) {
            secretValues.push(recorded.value);
            // An unchanged secret keeps its stored ciphertext: nothing is written.
            if (!now?.secret || now.value !== recorded.value) secretWrites[key] = recorded.value;
        } else {
            const entry: RecordedConfigValue = { value: recorded.value, secret: false };
            if (recorded.objectValue !== undefined) entry.objectValue = recorded.objectValue;
            set[key] = entry;
        }
        if (!now) changes.push(`${key}: add ${recorded.secret ? "[secret]" : JSON.stringify(recorded.value)}`);
        else if (now.value !== recorded.value || Boolean(now.secret) !== recorded.secret) {
            changes.push(recorded.secret || now.secret ? `${key}: [secret] changed` : `${key}: ${JSON.stringify(now.value)} -> ${JSON.stringify(recorded.value)}`);
        }
    }
    const remove = Object.keys(current).filter((key) => inScope(key) && !(key in target.config));
    for (const key of remove) changes.push(`${key}: remove (not set in version ${target.version})`);
    return { set, secretWrites, remove, changes, secretValues };
}

/** Replaces every secret value in `text` by [secret] (the CLI's own error messages echo its arguments). */
export function redact(text: string, secrets: readonly string[]): string {
    let out = text;
    for (const s of secrets.filter((x) => x.length > 0).sort((a, b) => b.length - a.length)) out = out.split(s).join("[secret]");
    return out;
}

/** Writes the plan: plain values with `config set-all --json`, each changed secret on stdin, then the removals. */
async function applyConfigRestore(stack: OpsStack, plan: ConfigRestorePlan): Promise<void> {
    try {
        if (Object.keys(plan.set).length > 0) await stack.setAllConfigJson(JSON.stringify(plan.set));
        const secrets = Object.entries(plan.secretWrites);
        if (secrets.length > 0) {
            const writer = secretConfigWriterFor(stack);
            for (const [key, value] of secrets) await writer.setSecretConfig(key, value);
        }
        if (plan.remove.length > 0) await stack.removeAllConfig(plan.remove);
    } catch (err) {
        const message = redact(err instanceof Error ? err.message : String(err), plan.secretValues);
        throw explainPulumiError(stack.name, "config restore", new Error(message));
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Verification

export interface VerificationReport {
    status: "passed" | "failed" | "skipped";
    summary: string;
    /** What failed, one line each. */
    failures: string[];
    /** The report was produced by another update than the one checked (a failure: this update is not verified). */
    stale?: boolean;
}

/** Post-deployment verification, run by deploy after `up`. */
export interface Verifier {
    /** `updateId`: the nonce of the update just run; a report that does not carry it belongs to another update. */
    verify(stack: OpsStack, updateId?: string): Promise<VerificationReport>;
}

/** Reads the program's `verification` stack output (the report its in-graph checks produce). */
export class StackOutputVerifier implements Verifier {
    async verify(stack: OpsStack, updateId?: string): Promise<VerificationReport> {
        const outputs = await stack.outputs();
        return interpretVerificationOutput(outputs[VERIFICATION_OUTPUT]?.value, updateId);
    }
}

/**
 * Accepts the program's report (components/checks.ts: `{ok, passed: <count>, failed: [names], checks: [{name,
 * ok, detail}]}`, or `{status: "skipped"|"pending"}`), and generally `{passed|ok|success: boolean}` or
 * `{status: "passed"|"failed"|...}` with optional `checks: [{name, passed|ok|status, detail|message}]` or
 * `failures: string[]`. Missing or unknown shapes are "skipped" (with a warning in the summary), so a program
 * without verification never triggers a rollback. With `expectedUpdateId`, a report whose `updateId` (the
 * UPDATE_ID_ENV of the update that ran the checks) is missing or different is stale: it says nothing about this
 * update, so it is a failure, never a pass.
 */
export function interpretVerificationOutput(value: unknown, expectedUpdateId?: string): VerificationReport {
    if (value === undefined || value === null) {
        return { status: "skipped", summary: `the stack exports no "${VERIFICATION_OUTPUT}" output; post-deployment verification did not run`, failures: [] };
    }
    const report = (typeof value === "string" ? tryJson(value) : value) as Record<string, unknown> | undefined;
    if (!isObject(report)) return { status: "skipped", summary: `the "${VERIFICATION_OUTPUT}" output is not a report object; treated as not verified`, failures: [] };

    const checks = Array.isArray(report.checks) ? (report.checks as unknown[]).filter(isObject).map((c) => c as Record<string, unknown>) : [];
    const failedChecks = checks.filter((c) => passedFlag(c) === false).map((c) => `${String(c.name ?? "check")}: ${String(c.detail ?? c.message ?? "failed")}`);
    const listed = Array.isArray(report.failures) ? (report.failures as unknown[]).map(String) : [];
    const failures = [...failedChecks, ...listed];
    const overall = passedFlag(report);
    if (overall === undefined && typeof report.status === "string" && checks.length === 0) {
        // The program says it did not verify (e.g. {status: "skipped", reason}, or "pending" before the check ran).
        return { status: "skipped", summary: `verification ${report.status}${typeof report.reason === "string" ? `: ${report.reason}` : ""}`, failures: [] };
    }
    if (overall === undefined && checks.length === 0 && listed.length === 0) {
        return { status: "skipped", summary: `the "${VERIFICATION_OUTPUT}" output has no passed/status field; treated as not verified`, failures: [] };
    }
    if (expectedUpdateId !== undefined && report.updateId !== expectedUpdateId) {
        const owner = typeof report.updateId === "string" && report.updateId !== "" ? `update ${report.updateId}` : "an update that recorded no updateId";
        const failure = `verification report belongs to another update (${owner}, not this update ${expectedUpdateId}): the checks did not run for this update`;
        return { status: "failed", stale: true, summary: "verification failed: the report is stale", failures: [failure] };
    }
    const passed = overall ?? failures.length === 0;
    const total = checks.length ? ` (${checks.length - failedChecks.length}/${checks.length} checks passed)` : "";
    return passed && failures.length === 0
        ? { status: "passed", summary: `verification passed${total}`, failures: [] }
        : { status: "failed", summary: `verification failed${total}`, failures: failures.length ? failures : ["the report says it failed without naming a check"] };
}

function passedFlag(o: Record<string, unknown>): boolean | undefined {
    for (const key of ["passed", "ok", "success"]) if (typeof o[key] === "boolean") return o[key] as boolean;
    if (typeof o.status === "string") {
        const s = o.status.toLowerCase();
        if (["passed", "pass", "ok", "success", "succeeded"].includes(s)) return true;
        if (["failed", "fail", "error", "failure"].includes(s)) return false;
    }
    return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Rollback and deploy

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
    verification?: VerificationReport;
    warnings: string[];
    recovery?: RecoveryReport;
}

/** The config key through which a rollback hands the program the images to deploy instead of building (config.ts). */
export const PINNED_IMAGES_KEY = `${PROJECT}:pinnedImages`;
/** Config paths the program resolves against its directory: made absolute when it runs from a checkout. */
const PATH_KEYS = [`${PROJECT}:kubeconfig`, `${PROJECT}:sourceRoot`];

/**
 * In build mode, the digests version `target` ran (its `images` output), pinned so nothing is rebuilt; in prebuilt
 * mode nothing (its tags are in its config). Refuses, naming what is missing, rather than rebuild.
 */
export async function imagesToPin(stack: OpsStack, target: UpdateRecord, images: ImageHistory): Promise<Record<string, string> | undefined> {
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
export function absolutePathsFor(config: Record<string, { value?: string; secret?: boolean }>, repoDir: string): Record<string, RecordedConfigValue> {
    const out: Record<string, RecordedConfigValue> = {};
    for (const key of PATH_KEYS) {
        const v = config[key];
        if (v && !v.secret && typeof v.value === "string" && v.value !== "" && !path.isAbsolute(v.value)) out[key] = { value: path.resolve(repoDir, v.value), secret: false };
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
    const recovery = opts.recovery === false ? undefined : await recoverInterruptedUpdate(stack, io, opts.recovery ?? realRecoveryDeps, opts.dryRun, opts.signal);
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
        plan.changes.push(`${PINNED_IMAGES_KEY}: the ${Object.keys(pins).length} images version ${target.version} ran (${formatPins(pins)})`);
    }
    const report: RollbackReport = { from: choice.current.version, to: target.version, commit: target.commit, changes: plan.changes, warnings, recovery };
    const images = pins ? "its pinned images" : `image tags ${formatImageTags(target.imageTags)}`;
    io.out(`==> ${stack.name}: rolling back from version ${report.from} to version ${report.to} (program at commit ${target.commit ?? "checked out now"}, ${images})`);
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
            const after: Record<string, { value?: string; secret?: boolean }> = { ...(currentConfig as Record<string, { value?: string; secret?: boolean }>), ...plan.set };
            for (const key of plan.remove) delete after[key];
            Object.assign(plan.set, absolutePathsFor(after, checkout.repoDir));
        }
        await applyConfigRestore(run, plan);
        const message = updateMessage("rollback", checkout?.commit ?? (await opts.code.head()), { to: report.to, from: report.from, reason: opts.reason, updateId: report.updateId });
        const retry = `npm run rollback -- --stack ${stack.name} --to ${report.to}`;
        const failed = (what: string, err: unknown): OpsError => {
            if (opts.signal?.aborted) return cancelled(stack.name, "rollback");
            const e = isConcurrentUpdateError(err) ? concurrentUpdate(stack.name, "rollback") : explainPulumiError(stack.name, what, err);
            const where = checkout ? `Version ${report.to}'s config was written only to the temporary worktree, which is removed; Pulumi.${stack.name}.yaml is unchanged.` : `Pulumi.${stack.name}.yaml already holds version ${report.to}'s config; undo it with: git checkout -- Pulumi.${stack.name}.yaml.`;
            return new OpsError(e.exitCode, `${e.message}\n${where} Fix the cause and re-run: ${retry}`);
        };
        io.out(`==> ${stack.name}: preview of version ${report.to}${checkout ? ` (commit ${checkout.commit})` : ""}`);
        try {
            await run.preview({ onOutput: io.stream, policyPacks: opts.policyPacks, signal: opts.signal });
        } catch (err) {
            throw failed("preview (rollback)", err);
        }
        if (opts.signal?.aborted) throw cancelled(stack.name, "rollback");
        io.out(`==> ${stack.name}: up with the program, config and images of version ${report.to} (update ${report.updateId})`);
        let result: UpResult;
        try {
            result = await withUpdateId(run, report.updateId, () => run.up({ message, onOutput: io.stream, policyPacks: opts.policyPacks, signal: opts.signal }));
        } catch (err) {
            throw failed("up (rollback)", err);
        }
        const own = await findUpdate(run, report.updateId);
        report.version = own?.version ?? (result.summary?.version || undefined);
        report.verification = await opts.verifier.verify(run, report.updateId);
        io.out(`==> ${stack.name}: rollback to version ${report.to} done (new version ${report.version ?? "?"}); ${report.verification.summary}`);
        return report;
    } finally {
        if (checkout) {
            await checkout.remove().catch((err: unknown) => io.out(`    warning: could not remove the worktree ${checkout.dir}: ${err instanceof Error ? err.message : String(err)}; remove it with: git worktree remove --force ${checkout.dir}`));
        }
    }
}

/** The target's program as a temporary worktree; a failure (git, npm ci, cancel) is an operation that failed, nothing changed. */
async function checkOut(stackName: string, target: UpdateRecord, code: CodeInspector, io: OpsIO, signal?: AbortSignal): Promise<ProgramCheckout> {
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
    const shown = Object.entries(pins).sort(([a], [b]) => a.localeCompare(b)).slice(0, 3).map(([app, ref]) => `${app}=${ref}`);
    return shown.join(", ") + (Object.keys(pins).length > 3 ? ", ..." : "");
}

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
async function findUpdate(stack: OpsStack, updateId: string): Promise<UpdateRecord | undefined> {
    return (await readHistory(stack, false)).find((r) => r.kind === "update" && r.updateId === updateId);
}

function cancelled(stackName: string, action: string): OpsError {
    return new OpsError(
        ExitCode.OperationFailed,
        `${action} of stack "${stackName}" was cancelled (SIGINT/SIGTERM): the engine was asked to stop at a safe point and nothing is rolled back. ` +
            `The next deploy or rollback resolves what it left (lock, pending operations); see npm run status -- --stack ${stackName}`,
    );
}

function concurrentUpdate(stackName: string, action: string): OpsError {
    return new OpsError(
        ExitCode.Conflict,
        `stack "${stackName}" is locked by another update that is running now, so this ${action} did not start: nothing changed and nothing is rolled back. ` +
            `Wait for that update to finish (npm run status -- --stack ${stackName}), then run it again.`,
    );
}

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
    verification?: VerificationReport;
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
            return await stack.preview({ onOutput: io.stream, policyPacks: opts.policyPacks, signal: opts.signal });
        } catch (err) {
            throw isConcurrentUpdateError(err) ? concurrentUpdate(stack.name, "deploy") : err;
        }
    });
    if (opts.signal?.aborted) throw cancelled(stack.name, "deploy");

    io.out(`==> ${stack.name}: up (commit ${commit ?? "unknown"}, update ${updateId})`);
    let own: UpdateRecord | undefined;
    try {
        const result = await withUpdateId(stack, updateId, () =>
            stack.up({ message: updateMessage("deploy", commit, { updateId }), onOutput: io.stream, policyPacks: opts.policyPacks, signal: opts.signal }),
        );
        if (opts.signal?.aborted) throw cancelled(stack.name, "deploy");
        own = await findUpdate(stack, updateId);
        report.version = own?.version ?? (result.summary?.version || undefined);
        io.out(`==> ${stack.name}: verifying version ${report.version ?? "?"}`);
        report.verification = await opts.verifier.verify(stack, updateId);
        io.out(`    ${report.verification.summary}`);
        for (const f of report.verification.failures) io.out(`    FAILED ${f}`);
    } catch (err) {
        if (opts.signal?.aborted) {
            const e = cancelled(stack.name, "deploy");
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
            report.summary.push(`the update of stack "${stack.name}" never started (no update=${updateId} in its history), so nothing changed and nothing is rolled back`);
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

    const what = report.upError !== undefined ? `the update (version ${report.version}) failed` : `verification of version ${report.version ?? "?"} failed`;
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
        report.summary.push(`${what}; rolled back stack "${stack.name}" to version ${report.rollback.to} (new version ${report.rollback.version ?? "?"}); ${report.rollback.verification?.summary ?? ""}`);
        report.summary.push(afterRollbackAdvice(stack.name, report.rollback));
        if (!verified) report.summary.push(`the rolled-back version does not verify either: investigate now (npm run doctor -- --stack ${stack.name})`);
    } catch (err) {
        report.exitCode = ExitCode.RollbackFailed;
        report.rollbackError = err instanceof Error ? err.message : String(err);
        report.summary.push(`${what}, and the automatic rollback did not happen: ${report.rollbackError}`);
    }
    return report;
}

// ---------------------------------------------------------------------------------------------------------------
// Drift

export interface DriftedResource {
    urn: string;
    type: string;
    name: string;
    /** update: changed outside Pulumi; delete: gone from the cluster. */
    op: string;
    /** Properties that differ, when the provider reports them. */
    properties: string[];
}

/** Resources a refresh preview found changed: its resource-outputs events carry the refresh's result op. */
export function collectDrift(events: readonly EngineEvent[]): DriftedResource[] {
    const byUrn = new Map<string, DriftedResource>();
    for (const event of events) {
        const meta = event.resOutputsEvent?.metadata;
        if (!meta || !["update", "delete", "replace"].includes(meta.op)) continue;
        if (meta.type === "pulumi:pulumi:Stack" || meta.type.startsWith("pulumi:providers:")) continue;
        let properties = [...new Set([...(meta.diffs ?? []), ...Object.keys(meta.detailedDiff ?? {})])].sort();
        // Some providers report no diff on refresh: compare the recorded and the live outputs ourselves.
        if (properties.length === 0 && meta.op !== "delete" && meta.old && meta.new) properties = changedPaths(meta.old.outputs, meta.new.outputs);
        byUrn.set(meta.urn, { urn: meta.urn, type: meta.type, name: meta.urn.split("::").pop() ?? meta.urn, op: meta.op, properties });
    }
    return [...byUrn.values()].sort((a, b) => a.urn.localeCompare(b.urn));
}

/** Property paths (at most 3 levels deep, at most 12) whose values differ between two output objects. */
export function changedPaths(before: unknown, after: unknown, prefix = "", depth = 3, out: string[] = []): string[] {
    if (out.length >= 12) return out;
    if (JSON.stringify(before) === JSON.stringify(after)) return out;
    if (depth === 0 || !isObject(before) || !isObject(after)) {
        out.push(prefix || "(value)");
        return out;
    }
    const b = before as Record<string, unknown>;
    const a = after as Record<string, unknown>;
    for (const key of [...new Set([...Object.keys(b), ...Object.keys(a)])].sort()) {
        changedPaths(b[key], a[key], prefix ? `${prefix}.${key}` : key, depth - 1, out);
    }
    return out;
}

export function formatDrift(drifted: readonly DriftedResource[]): string[] {
    return drifted.map((d) => `  ${d.op === "delete" ? "deleted " : "changed "} ${d.type} ${d.name}${d.properties.length ? `: ${d.properties.join(", ")}` : ""}`);
}

export interface DriftReport {
    exitCode: ExitCode.Ok | ExitCode.Drift;
    drifted: DriftedResource[];
}

/** `pulumi refresh --preview-only --expect-no-changes`: reports drift, never touches the state. */
export async function detectDrift(stack: OpsStack, io: OpsIO): Promise<DriftReport> {
    const events: EngineEvent[] = [];
    io.out(`==> ${stack.name}: refresh --preview-only --expect-no-changes`);
    let failure: unknown;
    let changeSummary: Record<string, number> = {};
    try {
        const result = await stack.previewRefresh({ expectNoChanges: true, onOutput: io.stream, onEvent: (e) => events.push(e) });
        changeSummary = result.changeSummary as Record<string, number>;
    } catch (err) {
        failure = err;
    }
    const drifted = collectDrift(events);
    const counted = ["update", "delete", "replace"].reduce((n, op) => n + (changeSummary[op] ?? 0), 0);
    if (drifted.length === 0 && failure !== undefined) throw explainPulumiError(stack.name, "refresh --preview-only", failure);
    if (drifted.length === 0 && counted === 0) {
        io.out(`==> ${stack.name}: no drift`);
        return { exitCode: ExitCode.Ok, drifted };
    }
    io.out(`==> ${stack.name}: DRIFT: ${drifted.length || counted} resource(s) differ from the stack's state`);
    for (const line of formatDrift(drifted)) io.out(line);
    io.out(`What to do: if the change was intended, put it in the program and deploy; otherwise deploy to revert it (npm run deploy -- --stack ${stack.name}).`);
    return { exitCode: ExitCode.Drift, drifted };
}

// ---------------------------------------------------------------------------------------------------------------
// Status

/** One line per update, newest first: version, kind, result, start, duration, commit, image tags, message. */
export function formatStatus(records: readonly UpdateRecord[], limit: number): string[] {
    const rows = records.slice(0, limit).map((r) => [
        String(r.version),
        r.kind,
        r.result,
        r.startTime && !isNaN(r.startTime.getTime()) ? r.startTime.toISOString().replace(/\.\d+Z$/, "Z") : "-",
        r.startTime && r.endTime ? `${Math.max(0, Math.round((r.endTime.getTime() - r.startTime.getTime()) / 1000))}s` : "-",
        r.commit ? r.commit.slice(0, 12) + (r.dirty ? "+dirty" : "") : "-",
        r.kind === "update" ? formatImageTags(r.imageTags) : "-",
        r.message.split("\n")[0].slice(0, 80),
    ]);
    const header = ["VERSION", "KIND", "RESULT", "STARTED", "TOOK", "COMMIT", "IMAGE TAGS", "MESSAGE"];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join("  ").trimEnd();
    return [line(header), ...rows.map(line)];
}

export async function status(stack: OpsStack, io: OpsIO, limit: number): Promise<UpdateRecord[]> {
    // Secrets stay encrypted: status shows only image tags and metadata.
    const records = await readHistory(stack, false);
    if (records.length === 0) io.out(`stack "${stack.name}" has never been updated; deploy it with: npm run deploy -- --stack ${stack.name}`);
    else for (const line of formatStatus(records, limit)) io.out(line);
    return records;
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

/** Git, from the repository root; head and hasCommit answer "unknown" rather than throwing. */
export class GitCodeInspector implements CodeInspector {
    constructor(private readonly repoRoot: string) {}

    private git(args: string[]): Promise<{ ok: boolean; stdout: string }> {
        return new Promise((resolve) => {
            execFile("git", args, { cwd: this.repoRoot, maxBuffer: 16 * 1024 * 1024 }, (err, stdout) => resolve({ ok: !err, stdout: String(stdout) }));
        });
    }

    async head(): Promise<string | undefined> {
        const r = await this.git(["rev-parse", "HEAD"]);
        return r.ok ? r.stdout.trim() : undefined;
    }

    async hasCommit(commit: string): Promise<boolean> {
        return (await this.git(["cat-file", "-e", `${commit}^{commit}`])).ok;
    }

    /** A temporary worktree at `commit` (ops/checkout.ts: dependencies from its lockfile, cached). */
    checkout(commit: string, log: (line: string) => void, signal?: AbortSignal): Promise<ProgramCheckout> {
        return new GitWorktrees(this.repoRoot).checkout(commit, log, signal);
    }
}

async function withPulumiErrors<T>(stackName: string, what: string, fn: () => Promise<T>): Promise<T> {
    try {
        return await fn();
    } catch (err) {
        if (err instanceof OpsError) throw err;
        throw explainPulumiError(stackName, what, err);
    }
}

function isObject(v: unknown): v is object {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

function tryJson(s: string | undefined): unknown {
    if (s === undefined) return undefined;
    try {
        return JSON.parse(s);
    } catch {
        return undefined;
    }
}

function toDate(v: unknown): Date | undefined {
    if (v instanceof Date) return v;
    if (typeof v === "string" || typeof v === "number") {
        const d = new Date(v);
        return isNaN(d.getTime()) ? undefined : d;
    }
    return undefined;
}
