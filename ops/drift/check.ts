// Drift that sees everything: per program-owned object, (a) what `pulumi refresh --preview-only` reports (fields
// Pulumi's field manager owns, deleted objects) and (b) every field another field manager added or changed, from
// the live object's managedFields. `healDrift` brings the live objects back to the program's state.
import { ExitCode, OpsError, explainPulumiError } from "../errors";
import { DriftedResource, OpsIO, OpsStack, detectDrift } from "../operations";
import type { ClusterClient, LiveObject } from "./cluster";
import { ExpectedWrite, ForeignField, foreignFields } from "./managed-fields";
import { ProgramObject, describeObject, hpaTargets, objectKey, programObjects } from "./program-objects";
import { removalPatch } from "./removal-patch";

/** The field manager heal's JSON patches are recorded under in managedFields. */
export const HEAL_FIELD_MANAGER = "ultramarket-drift-heal";
/** Set for heal's `up`: pulumi-kubernetes then applies with force, taking back fields another manager changed. */
export const FORCE_CONFLICTS_ENV = "PULUMI_K8S_ENABLE_PATCH_FORCE";

/** A stack whose workspace environment heal can extend for its `up` (a real Automation API Stack). */
type StackWithWorkspace = OpsStack & { workspace?: { envVars?: Record<string, string> } };

export interface ObjectDrift {
    urn: string;
    /** Pulumi type token and resource name (the URN's tail). */
    type: string;
    name: string;
    object?: ProgramObject;
    /** What refresh found changed or deleted. */
    refresh?: DriftedResource;
    /** Fields other managers added or changed. */
    foreign: ForeignField[];
    /** In the state but not in the cluster, although refresh did not say so. */
    missing: boolean;
    /** An HPA of the program scales it (its spec.replicas is not drift). */
    scaledByHpa: boolean;
}

export interface DriftCheck {
    exitCode: ExitCode.Ok | ExitCode.Drift | ExitCode.OperationFailed;
    /** Objects that drifted, in URN order. */
    drifted: ObjectDrift[];
    /** Program-owned objects whose managed fields were read. */
    checked: number;
    /** Writes left out of the report, per manager or rule. */
    expected: ExpectedWrite[];
    /** Objects that could not be checked, with why. */
    unreadable: string[];
}

export interface DriftCheckArgs {
    stack: OpsStack;
    io: OpsIO;
    cluster: ClusterClient;
}

/** Refresh preview plus the managed fields of every program-owned object. Prints the report; never changes anything. */
export async function checkDrift({ stack, io, cluster }: DriftCheckArgs): Promise<DriftCheck> {
    io.out(`==> ${stack.name}: refresh --preview-only --expect-no-changes, then the managed fields of every program-owned object`);
    const refresh = await detectDrift(stack, { out: () => undefined, stream: io.stream });
    const { objects, unreadable: stateGaps } = programObjects(await stack.exportStack());
    const hpa = hpaTargets(objects);
    const expected = new Map<string, ExpectedWrite>();
    const byUrn = new Map<string, ObjectDrift>();
    const entry = (urn: string, type: string, object?: ProgramObject): ObjectDrift => {
        const scaledByHpa = object !== undefined && hpa.has(objectKey(object));
        const e = byUrn.get(urn) ?? { urn, type, name: urn.split("::").pop() ?? urn, object, foreign: [], missing: false, scaledByHpa };
        byUrn.set(urn, e);
        return e;
    };
    const objectOf = new Map(objects.map((o) => [o.urn, o]));
    for (const d of refresh.drifted) {
        const o = objectOf.get(d.urn);
        if (o && isHpaScaleOnly(d, hpa.has(objectKey(o)))) {
            addExpected(expected, {
                who: "spec.replicas of an HPA target",
                reason: "the HorizontalPodAutoscaler owns the replica count",
                fields: 1,
            });
            continue;
        }
        entry(d.urn, d.type, o).refresh = d;
    }

    io.out(`==> ${stack.name}: reading ${objects.length} program-owned object(s) (kubectl, ${cluster.where})`);
    const results = await cluster.read(objects);
    const unreadable = stateGaps.map((urn) => `${urn}: the state does not say which object it is`);
    let read = 0;
    objects.forEach((o, i) => {
        const r = results[i];
        if (r.error !== undefined) return void unreadable.push(`${describeObject(o)}: ${r.error}`);
        read++;
        if (!r.object) {
            if (!byUrn.get(o.urn)?.refresh) entry(o.urn, o.type, o).missing = true;
            return;
        }
        const { foreign, expected: exp } = analyse(o, r.object, hpa.has(objectKey(o)));
        for (const e of exp) addExpected(expected, e);
        if (foreign.length > 0) entry(o.urn, o.type, o).foreign = foreign;
    });

    const drifted = [...byUrn.values()].sort((a, b) => a.urn.localeCompare(b.urn));
    // A refresh that counted changes without naming the resources is drift too (listed as such).
    if (refresh.exitCode === ExitCode.Drift && refresh.drifted.length === 0) {
        drifted.push({
            urn: "(refresh)",
            type: "refresh",
            name: "counted changes it did not itemise (see its output above)",
            foreign: [],
            missing: false,
            scaledByHpa: false,
        });
    }
    const check: DriftCheck = {
        exitCode: drifted.length > 0 ? ExitCode.Drift : unreadable.length > 0 ? ExitCode.OperationFailed : ExitCode.Ok,
        drifted,
        checked: read,
        expected: [...expected.values()],
        unreadable,
    };
    for (const line of formatDriftCheck(stack.name, check)) io.out(line);
    return check;
}

/** The foreign fields of one live object. */
export function analyse(o: ProgramObject, live: LiveObject, scaledByHpa: boolean): ReturnType<typeof foreignFields> {
    return foreignFields({
        kind: o.kind,
        apiVersion: o.apiVersion,
        managedFields: live.metadata.managedFields ?? [],
        fieldManager: o.fieldManager,
        manifest: o.manifest,
        scaledByHpa,
    });
}

/** A refresh that found only `spec.replicas` changed on an object an HPA scales: the HPA's doing, not drift. */
function isHpaScaleOnly(d: DriftedResource, scaledByHpa: boolean): boolean {
    return (
        scaledByHpa &&
        d.op === "update" &&
        d.properties.includes("spec.replicas") &&
        d.properties.every((p) => p === "spec" || p === "spec.replicas")
    );
}

function addExpected(into: Map<string, ExpectedWrite>, e: ExpectedWrite): void {
    const cur = into.get(e.who) ?? { ...e, fields: 0 };
    cur.fields += e.fields;
    into.set(e.who, cur);
}

export function formatDriftCheck(stackName: string, check: DriftCheck): string[] {
    const lines: string[] = [];
    if (check.drifted.length === 0)
        lines.push(`==> ${stackName}: no drift (${check.checked} object(s): refresh found no change, no field written by another manager)`);
    else lines.push(`==> ${stackName}: DRIFT: ${check.drifted.length} object(s) differ from the program's state`);
    for (const d of check.drifted) {
        lines.push(`  ${d.type} ${d.name}${d.object ? ` (${describeObject(d.object)})` : ""}`);
        if (d.refresh?.op === "delete") lines.push("    deleted  gone from the cluster (refresh)");
        else if (d.refresh)
            lines.push(
                `    ${d.refresh.op === "replace" ? "replace" : "changed"}  ${d.refresh.properties.join(", ") || "(properties not reported)"} (refresh)`,
            );
        if (d.missing) lines.push("    missing  not in the cluster");
        for (const f of d.foreign) {
            const how = [f.operation, f.subresource ? `subresource ${f.subresource}` : "", f.time ?? ""].filter(Boolean).join(", ");
            lines.push(`    ${f.change.padEnd(8)} ${f.display}  by ${f.manager}${how ? ` (${how})` : ""}`);
        }
    }
    for (const u of check.unreadable) lines.push(`  NOT CHECKED ${u}`);
    if (check.expected.length > 0) {
        lines.push(`  not reported (expected writers): ${check.expected.map((e) => `${e.who} ${e.fields} field(s)`).join("; ")}`);
    }
    if (check.drifted.length > 0) {
        lines.push(
            `What to do: if the change was intended, put it in the program and deploy; otherwise revert it: npm run drift -- --stack ${stackName} --heal ` +
                `(removes fields other managers added, re-applies the program's values, recreates deleted objects).`,
        );
    }
    return lines;
}

export interface HealedObject {
    object: ProgramObject;
    /** Fields the JSON patch removed. */
    removed: ForeignField[];
}

export interface HealReport {
    exitCode: ExitCode.Ok | ExitCode.Drift | ExitCode.OperationFailed;
    before: DriftCheck;
    healed: HealedObject[];
    /** Whether heal ran `up --refresh`, and the version it recorded. */
    up?: { version?: number; changes: Record<string, number> };
    after?: DriftCheck;
}

/**
 * Brings the live objects back to the program's state: removes the fields other managers added (a JSON patch per
 * object, see removal-patch.ts), then `up --refresh` with forced conflicts re-applies the program's values of
 * changed fields and recreates deleted objects, recording the heal in the stack's history. Checks again at the end.
 */
export async function healDrift({ stack, io, cluster }: DriftCheckArgs): Promise<HealReport> {
    const before = await checkDrift({ stack, io, cluster });
    if (before.drifted.length === 0) {
        io.out(`==> ${stack.name}: nothing to heal`);
        return { exitCode: before.exitCode, before, healed: [] };
    }
    const healed: HealedObject[] = [];
    for (const d of before.drifted) {
        if (!d.object || !d.foreign.some((f) => f.change === "added")) continue;
        // Re-read right before patching: the patch's list indexes come from this copy (and are pinned by test ops).
        const [fresh] = await cluster.read([d.object]);
        if (!fresh.object) continue;
        const { foreign } = analyse(d.object, fresh.object, d.scaledByHpa);
        const { patch, removed } = removalPatch(fresh.object, foreign);
        if (patch.length === 0) continue;
        try {
            await cluster.jsonPatch(d.object, patch, HEAL_FIELD_MANAGER);
        } catch (err) {
            throw new OpsError(
                ExitCode.OperationFailed,
                `stack "${stack.name}": heal could not patch ${describeObject(d.object)}: ${err instanceof Error ? err.message : String(err)}`,
            );
        }
        healed.push({ object: d.object, removed });
        for (const f of removed) io.out(`  healed   ${describeObject(d.object)}: removed ${f.display} (added by ${f.manager})`);
    }

    const removedCount = healed.reduce((n, h) => n + h.removed.length, 0);
    const message = `drift --heal: removed ${removedCount} field(s) other managers added on ${healed.length} object(s); up --refresh for ${before.drifted.length - healed.length} other drifted object(s)`;
    io.out(`==> ${stack.name}: up --refresh (program values win conflicts: ${FORCE_CONFLICTS_ENV}=true), recorded as "${message}"`);
    let up: HealReport["up"];
    try {
        const result = await withEnv(stack, { [FORCE_CONFLICTS_ENV]: "true" }, () =>
            stack.up({ refresh: true, message, onOutput: io.stream }),
        );
        up = { version: result.summary.version, changes: result.summary.resourceChanges ?? {} };
    } catch (err) {
        throw explainPulumiError(stack.name, "up --refresh (drift --heal)", err);
    }
    const changed = Object.entries(up.changes).filter(([op, n]) => op !== "same" && n > 0);
    io.out(`  healed   up --refresh: ${changed.length ? changed.map(([op, n]) => `${n} ${op}`).join(", ") : "no resource changed"}`);

    io.out(`==> ${stack.name}: checking again after the heal`);
    const after = await checkDrift({ stack, io, cluster });
    return { exitCode: after.exitCode, before, healed, up, after };
}

/** Runs `fn` with extra environment for the stack's Pulumi commands (the workspace's envVars), restoring them after. */
async function withEnv<T>(stack: StackWithWorkspace, vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
    const env = stack.workspace?.envVars;
    if (!env) return fn();
    const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, env[k]]));
    Object.assign(env, vars);
    try {
        return await fn();
    } finally {
        for (const [k, v] of Object.entries(saved)) {
            if (v === undefined) delete env[k];
            else env[k] = v;
        }
    }
}
