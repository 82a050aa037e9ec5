// The stack's update history (`pulumi stack history`) as records: versions, commits, nonces, image tags.
import { randomBytes } from "crypto";
import { ImageTags, OpsStack, PROJECT, RecordedConfigValue, UpdateRecord } from "../types";
import { isObject, scalarText, toDate, tryJson, withPulumiErrors } from "./util";

const COMMIT_IN_MESSAGE = /\bcommit=([0-9a-f]{7,40})\b/;
const ROLLBACK_IN_MESSAGE = /\brollback to=v(\d+)(?: from=v(\d+))?/;
const UPDATE_ID_IN_MESSAGE = /\bupdate=([0-9a-f]{16})\b/;
/** Pulumi stores this instead of a secret it could not decrypt. */
export const UNDECRYPTABLE = "ERROR_UNABLE_TO_DECRYPT";

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
    if (action === "rollback" && detail.to !== undefined)
        parts[0] += ` to=v${detail.to}${detail.from !== undefined ? ` from=v${detail.from}` : ""}`;
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
    const numbered =
        records.every((r) => Number.isInteger(r.version) && r.version > 0) &&
        new Set(records.map((r) => r.version)).size === records.length;
    if (numbered) return records.sort((a, b) => b.version - a.version);
    return records.map((r, i) => ({ ...r, version: records.length - i }));
}

/** The whole history, secrets encrypted unless asked for (see parseHistory for why never a page). */
export async function readHistory(stack: OpsStack, showSecrets: boolean): Promise<UpdateRecord[]> {
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
        kind: scalarText(e.kind, "unknown"),
        result: scalarText(e.result, "unknown"),
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
