// An in-memory cluster for the drift tests: reads return copies, JSON patches are applied (test ops checked) and,
// as the API server does, fields that no longer exist drop out of every manager's managedFields.
import type { ClusterClient, JsonPatchOp, LiveObject, ReadResult } from "../../../ops/drift/cluster";
import { FieldSet, PathSegment, parseSegment } from "../../../ops/drift/managed-fields";
import { ObjectRef, objectKey } from "../../../ops/drift/program-objects";
import { locate } from "../../../ops/drift/removal-patch";

export class FakeCluster implements ClusterClient {
    readonly where = "context fake of fake-kubeconfig";
    objects = new Map<string, LiveObject>();
    patches: Array<{ ref: ObjectRef; patch: JsonPatchOp[]; fieldManager: string }> = [];
    reads = 0;

    constructor(objects: LiveObject[] = []) {
        for (const o of objects) this.put(o);
    }

    put(o: LiveObject): void {
        this.objects.set(objectKey({ apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name, namespace: o.metadata.namespace }), o);
    }

    async read(refs: readonly ObjectRef[]): Promise<ReadResult[]> {
        this.reads++;
        return refs.map((r) => ({ object: clone(this.objects.get(objectKey(r))) }));
    }

    async jsonPatch(ref: ObjectRef, patch: readonly JsonPatchOp[], fieldManager: string): Promise<void> {
        this.patches.push({ ref, patch: clone([...patch]), fieldManager });
        const obj = this.objects.get(objectKey(ref));
        if (!obj) throw new Error(`${ref.kind} ${ref.name} not found`);
        const doc = clone(obj) as unknown as Record<string, unknown>;
        for (const op of patch) {
            const tokens = op.path
                .split("/")
                .slice(1)
                .map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
            const parent = tokens.slice(0, -1).reduce<any>((cur, t) => cur?.[t], doc);
            const last = tokens[tokens.length - 1];
            if (parent === undefined || !(last in parent)) throw new Error(`the server rejected the patch: ${op.path} does not exist`);
            if (op.op === "test" && JSON.stringify(parent[last]) !== JSON.stringify(op.value))
                throw new Error(`the server rejected the patch: test failed at ${op.path}`);
            if (op.op === "remove") {
                if (Array.isArray(parent)) parent.splice(Number(last), 1);
                else delete parent[last];
            }
        }
        const live = doc as unknown as LiveObject;
        for (const e of live.metadata.managedFields ?? []) if (e.fieldsV1) prune(e.fieldsV1, live, []);
        live.metadata.managedFields = (live.metadata.managedFields ?? []).filter((e) => Object.keys(e.fieldsV1 ?? {}).length > 0);
        this.objects.set(objectKey(ref), live);
    }
}

/** Drops the nodes of `set` whose field no longer exists in `live`. */
function prune(set: FieldSet, live: unknown, prefix: PathSegment[]): void {
    for (const [key, child] of Object.entries(set)) {
        if (key === ".") continue;
        const path = [...prefix, parseSegment(key)];
        if (!locate(live, path)) delete set[key];
        else prune(child, live, path);
    }
}

function clone<T>(v: T): T {
    return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}
