// The JSON patch (RFC 6902) that removes exactly the fields other managers added to a live object.
//
// Why a JSON patch and not a forced server-side apply of Pulumi's manifest: an apply only removes fields its own
// manager owned before; fields another manager added (an env var, a sidecar, a port) survive any number of forced
// applies. Removing them needs a patch that names them. List elements are addressed by index, so every removal
// of an element is preceded by `test` operations on its merge keys: if the list changed since it was read, the
// API server rejects the whole patch instead of removing the wrong element.
import type { JsonPatchOp, LiveObject } from "./cluster";
import { ForeignField, PathSegment, elementIndex } from "./managed-fields";

export interface RemovalPatch {
    patch: JsonPatchOp[];
    /** Fields the patch removes. */
    removed: ForeignField[];
    /** Fields already gone from the live object (nothing to do). */
    gone: ForeignField[];
}

function escapeToken(token: string): string {
    return token.replace(/~/g, "~0").replace(/\//g, "~1");
}

/** The JSON pointer of `path` in `live`, with the test operations that pin its list indexes; undefined when absent. */
export function locate(live: unknown, path: readonly PathSegment[]): { pointer: string; tests: JsonPatchOp[] } | undefined {
    let cur: unknown = live;
    let pointer = "";
    const tests: JsonPatchOp[] = [];
    for (const s of path) {
        if (s.kind === "field") {
            if (typeof cur !== "object" || cur === null || Array.isArray(cur) || !(s.name in cur)) return undefined;
            cur = (cur as Record<string, unknown>)[s.name];
            pointer += `/${escapeToken(s.name)}`;
            continue;
        }
        if (!Array.isArray(cur)) return undefined;
        const index = s.kind === "index" ? s.index : elementIndex(cur, s);
        if (index < 0 || index >= cur.length) return undefined;
        pointer += `/${index}`;
        if (s.kind === "key")
            for (const k of Object.keys(s.keys))
                tests.push({ op: "test", path: `${pointer}/${escapeToken(k)}`, value: (cur[index] as Record<string, unknown>)[k] });
        if (s.kind === "value") tests.push({ op: "test", path: pointer, value: cur[index] });
        cur = cur[index];
    }
    return { pointer, tests };
}

/** Removes `fields` (the "added" ones; "changed" fields are the program's and are re-applied, not removed). */
export function removalPatch(live: LiveObject, fields: readonly ForeignField[]): RemovalPatch {
    const located: Array<{ field: ForeignField; pointer: string; tests: JsonPatchOp[] }> = [];
    const gone: ForeignField[] = [];
    for (const field of fields) {
        if (field.change !== "added") continue;
        const where = locate(live, field.path);
        if (where) located.push({ field, ...where });
        else gone.push(field);
    }
    // A field inside another removed field (a sidecar's env var) goes with it.
    const pointers = located.map((l) => l.pointer);
    const outermost = located.filter((l) => !pointers.some((p) => p !== l.pointer && l.pointer.startsWith(`${p}/`)));
    const unique = [...new Map(outermost.map((l) => [l.pointer, l])).values()];
    // Tests run against the object as read; removals go from the highest index down so earlier ones don't shift later ones.
    const removals = [...unique].sort((a, b) => comparePointers(b.pointer, a.pointer));
    const tests = [...new Map(unique.flatMap((l) => l.tests).map((t) => [t.path, t])).values()];
    return {
        patch: [...tests, ...removals.map((l) => ({ op: "remove" as const, path: l.pointer }))],
        removed: located.map((l) => l.field),
        gone,
    };
}

function comparePointers(a: string, b: string): number {
    const x = a.split("/");
    const y = b.split("/");
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
        if (x[i] === y[i]) continue;
        const [m, n] = [Number(x[i]), Number(y[i])];
        return /^\d+$/.test(x[i]) && /^\d+$/.test(y[i]) ? m - n : x[i] < y[i] ? -1 : 1;
    }
    return x.length - y.length;
}
