// Who owns which field of a live Kubernetes object, read from `metadata.managedFields` (server-side apply's
// FieldsV1 sets), and which fields another field manager added or changed behind Pulumi's back.
//
// pulumi-kubernetes applies every object with its own field manager (`pulumi-kubernetes-<random>`, recorded in
// the state as `__fieldManager`); refresh only sees the fields that manager owns, so an env var added by
// `kubectl set env` (manager "kubectl-set") is invisible to it. Here every field in another manager's set is
// reported, except the writes Kubernetes itself is expected to make (EXPECTED_MANAGERS, status subresource,
// and `spec.replicas` of an object an HPA scales).

/** One entry of `metadata.managedFields`. */
export interface ManagedFieldsEntry {
    manager?: string;
    operation?: string;
    apiVersion?: string;
    time?: string;
    fieldsType?: string;
    fieldsV1?: FieldSet;
    subresource?: string;
}

/** A FieldsV1 set: `f:<field>`, `k:<keys json>`, `v:<value json>`, `i:<index>` and `.` (the node itself). */
export interface FieldSet {
    [key: string]: FieldSet;
}

export type PathSegment =
    | { kind: "field"; name: string }
    /** A list element identified by its merge keys, e.g. containers[name=order-service]. */
    | { kind: "key"; keys: Record<string, unknown> }
    /** An element of a set-like list, identified by its value (e.g. a finalizer). */
    | { kind: "value"; value: unknown }
    | { kind: "index"; index: number };

/**
 * Managers whose writes to program-owned objects are expected, with why. Everything they own is left out of the
 * report (counted, not listed). Status writes (`subresource: status`) are excluded whoever makes them.
 */
export const EXPECTED_MANAGERS: Readonly<Record<string, string>> = {
    "kube-controller-manager": "Kubernetes controllers: defaults, revision annotations, volume binding, HPA scaling",
    "kube-scheduler": "pod scheduling",
    kubelet: "node and pod status",
    kwok: "the local control plane's simulated kubelet and volume binder (scripts/local-cluster.sh)",
};

/** Managers Pulumi itself uses in client-side apply mode (pulumi-kubernetes' fixed names). */
const PULUMI_CSA_MANAGERS = new Set(["pulumi-kubernetes", "pulumi-resource-kubernetes", "pulumi-kubernetes.exe"]);

/** Is `manager` Pulumi's own for an object whose state records `fieldManager` (its SSA field manager)? */
export function isProgramManager(manager: string, fieldManager: string | undefined): boolean {
    if (PULUMI_CSA_MANAGERS.has(manager)) return true;
    return fieldManager !== undefined ? manager === fieldManager : manager.startsWith("pulumi-kubernetes-");
}

export function parseSegment(key: string): PathSegment {
    const body = key.slice(2);
    if (key.startsWith("f:")) return { kind: "field", name: body };
    if (key.startsWith("k:")) return { kind: "key", keys: JSON.parse(body) as Record<string, unknown> };
    if (key.startsWith("v:")) return { kind: "value", value: JSON.parse(body) };
    if (key.startsWith("i:")) return { kind: "index", index: Number(body) };
    throw new Error(`unknown FieldsV1 key ${JSON.stringify(key)}`);
}

function scalar(v: unknown): string {
    return typeof v === "string" ? v : JSON.stringify(v);
}

/** A readable path: spec.template.spec.containers[name=order-service].env[name=DEBUG_BACKDOOR]. */
export function formatPath(path: readonly PathSegment[]): string {
    let out = "";
    for (const s of path) {
        if (s.kind === "field") out += /^[A-Za-z0-9_$-]+$/.test(s.name) ? `${out ? "." : ""}${s.name}` : `[${JSON.stringify(s.name)}]`;
        else if (s.kind === "key")
            out += `[${Object.entries(s.keys)
                .map(([k, v]) => `${k}=${scalar(v)}`)
                .join(",")}]`;
        else if (s.kind === "value") out += `[${scalar(s.value)}]`;
        else out += `[${s.index}]`;
    }
    return out;
}

/** A field another manager added or changed. */
export interface ForeignField {
    path: PathSegment[];
    /** formatPath(path), or for a Secret's data only the field name (values and keys are never shown). */
    display: string;
    manager: string;
    operation: string;
    time?: string;
    subresource?: string;
    /** added: the program does not set it (heal removes it); changed: the program sets it too (heal re-applies the program's value). */
    change: "added" | "changed";
}

/** What the report leaves out, per manager (or rule), with why. */
export interface ExpectedWrite {
    who: string;
    reason: string;
    fields: number;
}

export interface ObjectFields {
    kind: string;
    apiVersion: string;
    managedFields: readonly ManagedFieldsEntry[];
    /** The object's Pulumi field manager from the state (`__fieldManager`). */
    fieldManager?: string;
    /** The program's manifest (the resource's inputs in the state); tells "changed" from "added". */
    manifest?: unknown;
    /** An HPA in the program scales this object: `spec.replicas` is the HPA's. */
    scaledByHpa: boolean;
}

/** Why an entry is left out of the report, or undefined when its fields count. */
export function expectedWriter(entry: ManagedFieldsEntry): string | undefined {
    if (entry.subresource === "status") return "status subresource (controllers report status)";
    return entry.manager !== undefined ? EXPECTED_MANAGERS[entry.manager] : undefined;
}

/** The fields of `obj` that managers other than Pulumi's own added or changed, minus the expected writes. */
export function foreignFields(obj: ObjectFields): { foreign: ForeignField[]; expected: ExpectedWrite[] } {
    const own: FieldSet = {};
    for (const e of obj.managedFields)
        if (e.manager !== undefined && isProgramManager(e.manager, obj.fieldManager) && e.fieldsV1) mergeInto(own, e.fieldsV1);
    const foreign: ForeignField[] = [];
    const expected = new Map<string, ExpectedWrite>();
    const countExpected = (who: string, reason: string, n: number) => {
        const e = expected.get(who) ?? { who, reason, fields: 0 };
        e.fields += n;
        expected.set(who, e);
    };
    const isSecret = obj.kind === "Secret" && obj.apiVersion === "v1";
    for (const entry of obj.managedFields) {
        const manager = entry.manager ?? "(unnamed)";
        if (isProgramManager(manager, obj.fieldManager) || !entry.fieldsV1) continue;
        const paths = unownedPaths(entry.fieldsV1, own, []);
        const reason = expectedWriter(entry);
        if (reason !== undefined) {
            countExpected(entry.subresource === "status" ? `${manager} (status)` : manager, reason, paths.length);
            continue;
        }
        const secretParts = new Set<string>();
        for (const path of paths) {
            const top = path[0]?.kind === "field" ? path[0].name : "";
            if (obj.scaledByHpa && path.length === 2 && top === "spec" && path[1].kind === "field" && path[1].name === "replicas") {
                countExpected(
                    "spec.replicas of an HPA target",
                    "the HorizontalPodAutoscaler owns the replica count (kubectl scale does what it does)",
                    1,
                );
                continue;
            }
            const base = { manager, operation: entry.operation ?? "", time: entry.time, subresource: entry.subresource };
            if (isSecret && (top === "data" || top === "stringData")) {
                // Secret values and key names stay out of the report; "changed" so heal re-applies, never deletes.
                if (!secretParts.has(top))
                    foreign.push({
                        ...base,
                        path: [{ kind: "field", name: top }],
                        display: `${top} (Secret values not shown)`,
                        change: "changed",
                    });
                secretParts.add(top);
                continue;
            }
            foreign.push({ ...base, path, display: formatPath(path), change: programSets(obj.manifest, path) ? "changed" : "added" });
        }
    }
    return { foreign, expected: [...expected.values()] };
}

/** Paths in `set` that `own` does not own: leaves, and whole list elements the manager created. */
function unownedPaths(set: FieldSet, own: FieldSet | undefined, prefix: PathSegment[]): PathSegment[][] {
    const out: PathSegment[][] = [];
    for (const [key, child] of Object.entries(set)) {
        if (key === ".") continue;
        const segment = parseSegment(key);
        const path = [...prefix, segment];
        const ownChild = own?.[key];
        const children = Object.keys(child).filter((k) => k !== ".");
        const createdElement = segment.kind !== "field" && "." in child;
        if (ownChild === undefined && (children.length === 0 || createdElement)) out.push(path);
        else if (children.length > 0) out.push(...unownedPaths(child, ownChild, path));
    }
    return out;
}

function mergeInto(target: FieldSet, source: FieldSet): void {
    for (const [k, v] of Object.entries(source)) mergeInto((target[k] ??= {}), v);
}

/** The value at `path` in a manifest, resolving list elements by their keys; undefined when absent. */
export function valueAt(doc: unknown, path: readonly PathSegment[]): unknown {
    let cur: unknown = doc;
    for (const s of path) {
        if (cur === undefined || cur === null) return undefined;
        if (isSecretValue(cur)) return cur;
        if (s.kind === "field") cur = typeof cur === "object" && !Array.isArray(cur) ? (cur as Record<string, unknown>)[s.name] : undefined;
        else if (!Array.isArray(cur)) return undefined;
        else if (s.kind === "index") cur = cur[s.index];
        else cur = cur[elementIndex(cur, s)];
    }
    return cur;
}

/** Index of the element a key/value segment names in `list`, or -1. */
export function elementIndex(list: readonly unknown[], s: Extract<PathSegment, { kind: "key" | "value" }>): number {
    if (s.kind === "value") return list.findIndex((item) => JSON.stringify(item) === JSON.stringify(s.value));
    return list.findIndex(
        (item) =>
            typeof item === "object" &&
            item !== null &&
            Object.entries(s.keys).every(([k, v]) => sameScalar((item as Record<string, unknown>)[k], v)),
    );
}

function sameScalar(a: unknown, b: unknown): boolean {
    // Merge keys are compared as the API server does; a manifest may carry "8080" where the server has 8080.
    const scalar = (v: unknown) => typeof v === "string" || typeof v === "number" || typeof v === "boolean";
    return a === b || (scalar(a) && scalar(b) && String(a) === String(b));
}

/** An encrypted value in an exported Pulumi state. */
function isSecretValue(v: unknown): boolean {
    return (
        typeof v === "object" &&
        v !== null &&
        (v as Record<string, unknown>)["4dabf18193072939515e22adb298388d"] === "1b47061264138c4ac30d75fd1eb44270"
    );
}

/** Does the program's manifest set this field? Unknown (no manifest, or encrypted on the way) counts as yes: heal never deletes what the program may own. */
function programSets(manifest: unknown, path: readonly PathSegment[]): boolean {
    if (manifest === undefined) return true;
    return valueAt(manifest, path) !== undefined;
}
