// Rollback planning, before anything changes: which version, whether its commit can be checked out, and the config to restore.
import { ExitCode, OpsError, explainPulumiError } from "../errors";
import { secretConfigWriterFor } from "../secret-config";
import type { ConfigMap } from "@pulumi/pulumi/automation";
import { UNDECRYPTABLE } from "./history";
import { KEYS_KEPT_ON_ROLLBACK, OpsStack, PROJECT, RecordedConfigValue, UpdateRecord } from "../types";
import { CodeInspector } from "./code";

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
        throw new OpsError(
            ExitCode.Refused,
            `stack "${stackName}" has no updates in its history, so there is nothing to roll back to; deploy first: npm run deploy -- --stack ${stackName}`,
        );
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
    const knownText = known.length
        ? `successful updates: ${known.slice(0, 15).join(", ")}${known.length > 15 ? ", ..." : ""}`
        : "no successful updates";
    if (!target) {
        throw new OpsError(
            ExitCode.Refused,
            `stack "${stackName}" has no version ${to} (${knownText}); pick one with: npm run status -- --stack ${stackName}`,
        );
    }
    if (target.kind !== "update") {
        throw new OpsError(
            ExitCode.Refused,
            `version ${to} of stack "${stackName}" is a ${target.kind}, not an update: it recorded no deployment to return to (${knownText})`,
        );
    }
    if (target.result !== "succeeded") {
        throw new OpsError(
            ExitCode.Refused,
            `version ${to} of stack "${stackName}" is an update that ${target.result === "failed" ? "failed" : `is ${target.result}`}; roll back only to a successful one (${knownText})`,
        );
    }
    if (target.version === current.version) {
        throw new OpsError(ExitCode.Refused, `version ${to} is already the current version of stack "${stackName}"; nothing to roll back`);
    }
    if (undone.has(target.version))
        warnings.push(`version ${to} was rolled back once already (see npm run status); restoring it anyway because you asked for it`);
    return { target, current, warnings };
}

/**
 * Refuses (before anything changes) when the program of `target` cannot be checked out: no commit recorded (unless
 * --force runs the program checked out now), or a commit this repository does not have (the message says how to fetch it).
 */
export async function assertCommitAvailable(
    stackName: string,
    target: UpdateRecord,
    code: CodeInspector,
    force = false,
): Promise<string[]> {
    const retry = `npm run rollback -- --stack ${stackName} --to ${target.version}`;
    if (!target.commit) {
        if (force)
            return [`--force: version ${target.version} recorded no git commit; running the program checked out now with its config`];
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
    return target.dirty
        ? [
              `version ${target.version} was deployed from commit ${target.commit} with uncommitted changes; the restored program is the commit without them`,
          ]
        : [];
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
            changes.push(
                recorded.secret || now.secret
                    ? `${key}: [secret] changed`
                    : `${key}: ${JSON.stringify(now.value)} -> ${JSON.stringify(recorded.value)}`,
            );
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
export async function applyConfigRestore(stack: OpsStack, plan: ConfigRestorePlan): Promise<void> {
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
