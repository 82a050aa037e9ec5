// Drift as the engine sees it: `refresh --preview-only` events turned into the resources and fields that changed.
import { ExitCode, explainPulumiError } from "../errors";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { OpsIO, OpsStack } from "../types";
import { isObject } from "./util";

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
        if (properties.length === 0 && meta.op !== "delete" && meta.old && meta.new)
            properties = changedPaths(meta.old.outputs, meta.new.outputs);
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
    return drifted.map(
        (d) =>
            `  ${d.op === "delete" ? "deleted " : "changed "} ${d.type} ${d.name}${d.properties.length ? `: ${d.properties.join(", ")}` : ""}`,
    );
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
        changeSummary = result.changeSummary;
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
    io.out(
        `What to do: if the change was intended, put it in the program and deploy; otherwise deploy to revert it (npm run deploy -- --stack ${stack.name}).`,
    );
    return { exitCode: ExitCode.Drift, drifted };
}
