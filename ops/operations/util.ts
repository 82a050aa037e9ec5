// Small helpers shared by the operations: Pulumi errors explained, and parsing of loosely typed JSON.
import { OpsError, explainPulumiError } from "../errors";

/** A scalar JSON value as text, or `fallback` for anything else (objects would print as "[object Object]"). */
export function scalarText(v: unknown, fallback: string): string {
    return typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? String(v) : fallback;
}

export async function withPulumiErrors<T>(stackName: string, what: string, fn: () => Promise<T>): Promise<T> {
    try {
        return await fn();
    } catch (err) {
        if (err instanceof OpsError) throw err;
        throw explainPulumiError(stackName, what, err);
    }
}

export function isObject(v: unknown): v is object {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function tryJson(s: string | undefined): unknown {
    if (s === undefined) return undefined;
    try {
        return JSON.parse(s);
    } catch {
        return undefined;
    }
}

export function toDate(v: unknown): Date | undefined {
    if (v instanceof Date) return v;
    if (typeof v === "string" || typeof v === "number") {
        const d = new Date(v);
        return isNaN(d.getTime()) ? undefined : d;
    }
    return undefined;
}
