// Recovery from an interrupted update, run by deploy and rollback before they change anything.
//
// A killed `pulumi up` leaves (1) the stack's lock and (2) pending operations in the state; the next update then
// warns and proceeds, and objects the killed run created stay in the cluster without being in the state (orphans).
// Here: a lock whose holder still runs is never broken; a lock whose holder is gone is cancelled; a pending create
// of a Kubernetes object is adopted into the state under its ID (namespace/name) and refreshed, so it is kept when
// it exists and dropped when the create never reached the cluster; the other pending operations are refreshed.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { Deployment } from "@pulumi/pulumi/automation";
import { ExitCode, OpsError, explainPulumiError } from "./errors";
import type { OpsIO, OpsStack } from "./types";
import { scalarText } from "./operations/util";

/** The project name in the file backend's paths (Pulumi.yaml `name`). */
const PROJECT = "ultramarket";

/** One lock file of the stack: who took it (the Pulumi CLI process) and when. */
export interface LockHolder {
    file: string;
    pid: number;
    username: string;
    hostname: string;
    timestamp: string;
}

export interface LockInspector {
    /** The stack's locks, or undefined when this backend's locks cannot be read from here (Pulumi Cloud, S3, ...). */
    locks(stack: OpsStack): Promise<LockHolder[] | undefined>;
}

/** The machine deploy runs on: which lock holders it can check. */
export interface ProcessTable {
    hostname(): string;
    /** Whether a Pulumi CLI process with this pid runs on this machine. */
    isPulumiRunning(pid: number): boolean;
}

/**
 * The file backend's locks: `<backend>/.pulumi/locks/organization/<project>/<stack>/<id>.json` (projects layout),
 * or `<backend>/.pulumi/locks/<stack>/<id>.json` (legacy layout), each `{pid, username, hostname, timestamp}`
 * as the 3.248 engine writes them (pkg/backend/diy/lock.go).
 */
export class FileBackendLocks implements LockInspector {
    constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

    async locks(stack: OpsStack): Promise<LockHolder[] | undefined> {
        const url = stack.workspace.envVars.PULUMI_BACKEND_URL ?? this.env.PULUMI_BACKEND_URL;
        if (!url || !url.startsWith("file://")) return undefined;
        const root = path.join(url.slice("file://".length).replace(/^~(?=\/)/, os.homedir()), ".pulumi", "locks");
        const holders: LockHolder[] = [];
        for (const dir of [path.join(root, "organization", PROJECT, stack.name), path.join(root, stack.name)]) {
            if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) continue;
            for (const entry of fs.readdirSync(dir).filter((f) => f.endsWith(".json"))) {
                const file = path.join(dir, entry);
                holders.push(parseLockFile(file, fs.readFileSync(file, "utf8")));
            }
        }
        return holders;
    }
}

export function parseLockFile(file: string, text: string): LockHolder {
    let content: Record<string, unknown> = {};
    try {
        content = JSON.parse(text) as Record<string, unknown>;
    } catch {
        // An unreadable lock is judged like one from another machine: it is never broken automatically.
    }
    return {
        file,
        pid: typeof content.pid === "number" ? content.pid : -1,
        username: scalarText(content.username, "?"),
        hostname: scalarText(content.hostname, "?"),
        timestamp: scalarText(content.timestamp, "?"),
    };
}

/** This machine's processes: a pid is a live lock holder when it runs and is a `pulumi` process (not a reused pid). */
export const localProcesses: ProcessTable = {
    hostname: () => os.hostname(),
    isPulumiRunning(pid) {
        if (!Number.isInteger(pid) || pid <= 0) return true;
        try {
            process.kill(pid, 0);
        } catch (err) {
            // EPERM: it runs under another user, so it is alive.
            return (err as NodeJS.ErrnoException).code !== "ESRCH";
        }
        try {
            return /pulumi/.test(fs.readFileSync(`/proc/${pid}/cmdline`, "utf8"));
        } catch {
            return true;
        }
    },
};

export type LockVerdict =
    | { kind: "unlocked" }
    | { kind: "uninspectable" }
    /** Every holder ran on this machine and is gone: safe to cancel. */
    | { kind: "stale"; holders: LockHolder[] }
    /** A holder still runs here, or runs (or ran) on another machine: never broken. */
    | { kind: "held"; holders: LockHolder[]; reason: string };

export function judgeLocks(holders: LockHolder[] | undefined, processes: ProcessTable): LockVerdict {
    if (holders === undefined) return { kind: "uninspectable" };
    if (holders.length === 0) return { kind: "unlocked" };
    const here = processes.hostname();
    const running = holders.find((h) => h.hostname === here && processes.isPulumiRunning(h.pid));
    if (running) return { kind: "held", holders, reason: `update running on this machine (pid ${running.pid})` };
    const elsewhere = holders.find((h) => h.hostname !== here);
    if (elsewhere)
        return {
            kind: "held",
            holders,
            reason: `taken on another machine (${elsewhere.hostname}), where this deploy cannot tell whether it still runs`,
        };
    return { kind: "stale", holders };
}

function describeHolder(h: LockHolder): string {
    return `${h.username}@${h.hostname} (pid ${h.pid}) since ${h.timestamp}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Pending operations

/** A resource as `pulumi stack export` writes it (the fields recovery reads). */
interface StateResource {
    urn: string;
    type: string;
    custom?: boolean;
    id?: string;
    inputs?: Record<string, unknown>;
    parent?: string;
    provider?: string;
    dependencies?: string[];
    [field: string]: unknown;
}

interface PendingOperation {
    type: string;
    resource: StateResource;
}

export interface PendingResolution {
    /** Pending creates of Kubernetes objects, put into the state under their ID and refreshed. */
    adopt: Array<{ urn: string; id: string }>;
    /** Pending creates that cannot be adopted, dropped from the state (nothing of theirs is in the cluster). */
    clear: Array<{ urn: string; reason: string }>;
    /** Interrupted updates and deletes of resources in the state: the refresh reads them back. */
    reread: Array<{ urn: string; operation: string }>;
    /** The state to import: adopted resources appended, no pending operations. */
    state: Deployment;
}

export function pendingOperationsOf(state: Deployment): PendingOperation[] {
    const ops = (state.deployment as { pending_operations?: unknown } | undefined)?.pending_operations;
    return Array.isArray(ops) ? (ops as PendingOperation[]) : [];
}

/** The ID pulumi-kubernetes gives an object: `namespace/name`, or `name` when it has no namespace. */
export function kubernetesId(resource: StateResource): string | undefined {
    if (!resource.custom || !resource.type.startsWith("kubernetes:")) return undefined;
    const metadata = (resource.inputs?.metadata ?? {}) as Record<string, unknown>;
    if (typeof metadata.name !== "string" || metadata.name === "") return undefined;
    return typeof metadata.namespace === "string" && metadata.namespace !== "" ? `${metadata.namespace}/${metadata.name}` : metadata.name;
}

/** Decides what happens to each pending operation of an exported state; pure, so it is tested on its own. */
export function planPendingResolution(state: Deployment): PendingResolution {
    const deployment = JSON.parse(JSON.stringify(state.deployment ?? {})) as {
        resources?: StateResource[];
        pending_operations?: unknown[];
    };
    const resources = deployment.resources ?? [];
    const known = new Map(resources.map((r) => [r.urn, r]));
    const resolution: PendingResolution = { adopt: [], clear: [], reread: [], state };

    for (const op of pendingOperationsOf(state)) {
        const r = op.resource;
        if (op.type !== "creating") {
            if (known.has(r.urn)) resolution.reread.push({ urn: r.urn, operation: op.type });
            continue;
        }
        const id = kubernetesId(r);
        const missing = [r.parent, providerUrn(r.provider), ...(r.dependencies ?? [])].filter((u): u is string => !!u && !known.has(u));
        const existing = known.get(r.urn);
        if (existing && (id === undefined || existing.id === id)) {
            // The state holds the same object: reading it back is all it needs.
            resolution.clear.push({ urn: r.urn, reason: "the state already has this object" });
            resolution.reread.push({ urn: r.urn, operation: op.type });
        } else if (id === undefined)
            resolution.clear.push({
                urn: r.urn,
                reason: r.type.startsWith("kubernetes:")
                    ? "no object name recorded"
                    : "not a Kubernetes object; the next update creates it again",
            });
        else if (missing.length > 0)
            resolution.clear.push({ urn: r.urn, reason: `depends on ${missing.join(", ")}, which the state lacks` });
        else {
            // A replacement the interrupted update was creating: the old object is marked for deletion, as the
            // engine itself marks it, so the next update deletes it and keeps the new one.
            if (existing) existing.delete = true;
            const adopted: StateResource = { ...r, id, outputs: r.inputs ?? {} };
            resources.push(adopted);
            known.set(r.urn, adopted);
            resolution.adopt.push({ urn: r.urn, id });
        }
    }
    deployment.resources = resources;
    deployment.pending_operations = [];
    resolution.state = { version: state.version, deployment };
    return resolution;
}

/** A provider reference is `<provider urn>::<provider id>`. */
function providerUrn(ref: string | undefined): string | undefined {
    if (!ref) return undefined;
    const at = ref.lastIndexOf("::");
    return at > 0 ? ref.slice(0, at) : ref;
}

// ---------------------------------------------------------------------------------------------------------------
// The recovery step

export interface RecoveryDeps {
    locks: LockInspector;
    processes: ProcessTable;
}

export const realRecoveryDeps: RecoveryDeps = { locks: new FileBackendLocks(), processes: localProcesses };

export interface RecoveryReport {
    /** Locks of dead updates that were cancelled. */
    cancelledLocks: LockHolder[];
    /** Pending creates adopted, and whether the object was found in the cluster (kept) or not (dropped). */
    adopted: Array<{ urn: string; id: string; kept: boolean }>;
    cleared: Array<{ urn: string; reason: string }>;
    reread: Array<{ urn: string; operation: string }>;
    /** What was done (or, on a dry run, would be), one line each. */
    lines: string[];
}

/**
 * Inspects the stack before deploy or rollback changes it: refuses (exit 9) while another update holds the lock,
 * cancels a lock whose update is gone, and resolves pending operations (see the header). With dryRun, it only says
 * what it would do.
 */
export async function recoverInterruptedUpdate(
    stack: OpsStack,
    io: OpsIO,
    deps: RecoveryDeps,
    dryRun = false,
    signal?: AbortSignal,
): Promise<RecoveryReport> {
    const report: RecoveryReport = { cancelledLocks: [], adopted: [], cleared: [], reread: [], lines: [] };
    const say = (line: string) => {
        report.lines.push(line);
        io.out(`    ${line}`);
    };
    const verdict = judgeLocks(await deps.locks.locks(stack), deps.processes);
    if (verdict.kind === "held") {
        throw new OpsError(
            ExitCode.Conflict,
            `stack "${stack.name}" is locked by another update (${verdict.reason}): ${verdict.holders.map(describeHolder).join("; ")}. ` +
                `Nothing was changed and nothing is rolled back. Wait for it to finish and retry; only if you know that process is gone, run: pulumi cancel --stack ${stack.name}`,
        );
    }
    if (verdict.kind === "stale") {
        io.out(`==> ${stack.name}: the lock of an interrupted update is left over (its process is gone)`);
        for (const h of verdict.holders) say(`${dryRun ? "would cancel" : "cancelled"} the stale lock of ${describeHolder(h)}`);
        if (!dryRun) await guarded(stack, "cancel", () => stack.cancel());
        report.cancelledLocks = verdict.holders;
    }

    const state = await guarded(stack, "stack export", () => stack.exportStack());
    const pending = pendingOperationsOf(state);
    if (pending.length === 0) return report;
    const plan = planPendingResolution(state);
    io.out(`==> ${stack.name}: ${pending.length} pending operation(s) left by an interrupted update`);
    for (const a of plan.adopt)
        say(
            `${dryRun ? "would adopt" : "adopting"} ${a.urn} as ${a.id} (created by the interrupted update; kept if it exists, dropped if not)`,
        );
    for (const c of plan.clear) say(`${dryRun ? "would clear" : "cleared"} the pending create of ${c.urn}: ${c.reason}`);
    for (const r of plan.reread) say(`${dryRun ? "would refresh" : "refreshing"} ${r.urn} (interrupted while ${r.operation})`);
    report.cleared = plan.clear;
    report.reread = plan.reread;
    if (dryRun) return report;

    await guarded(stack, "stack import (adopting pending creates)", () => stack.importStack(plan.state));
    const targets = [...plan.adopt.map((a) => a.urn), ...plan.reread.map((r) => r.urn)];
    if (targets.length > 0) {
        await guarded(stack, "refresh (pending operations)", () =>
            stack.refresh({ target: targets, onOutput: io.stream, message: `ops recover: ${targets.length} pending operation(s)`, signal }),
        );
    }
    const resources: StateResource[] = (await guarded(stack, "stack export", () => stack.exportStack())).deployment?.resources ?? [];
    const after = new Set(resources.filter((r) => r.delete !== true).map((r) => `${r.urn} ${r.id}`));
    for (const a of plan.adopt) {
        const kept = after.has(`${a.urn} ${a.id}`);
        report.adopted.push({ ...a, kept });
        say(
            kept
                ? `adopted ${a.urn} (${a.id} exists in the cluster; the next update manages it)`
                : `dropped ${a.urn} (${a.id} was never created in the cluster)`,
        );
    }
    return report;
}

async function guarded<T>(stack: OpsStack, what: string, fn: () => Promise<T>): Promise<T> {
    try {
        return await fn();
    } catch (err) {
        if (err instanceof OpsError) throw err;
        throw explainPulumiError(stack.name, what, err);
    }
}
