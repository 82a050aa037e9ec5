// How a problem names a config key and the command that fixes it: the key path as `pulumi config set --path` reads
// it, and what the schema (zod) refused in a key's value as problems. rules.ts, images.ts and placement.ts share it.
import { z } from "zod";
import { PROJECT } from "./schema";

/** A config path as `pulumi config set --path` reads it: `a.b["kubernetes.io/os"]`, `tolerations[0]`. */
export function configPath(segments: readonly PropertyKey[]): string {
    return segments
        .map((s, i) => {
            if (typeof s === "number") return `[${s}]`;
            const name = String(s);
            return /^[A-Za-z0-9_-]+$/.test(name) ? `${i ? "." : ""}${name}` : `[${JSON.stringify(name)}]`;
        })
        .join("");
}
const shellPath = (p: string) => (/^[A-Za-z0-9_.-]+$/.test(p) ? p : `'${p}'`);
export const setPathCmd = (p: string, value: string) => `pulumi config set --path ${shellPath(p)} ${value}`;
export const rmPathCmd = (p: string) => `pulumi config rm --path ${shellPath(p)}`;

/**
 * What the schema refused in `key`'s value, one problem per issue: the full key path, the schema's message and the
 * command that fixes it. When the key itself is refused (not a field inside it), the problem shows the value
 * `received`, and `entry` (a path under the key, e.g. `<workload>.nodeSelector.<label>`) adds how to set one entry.
 */
export function schemaProblems(
    key: string,
    issues: readonly z.core.$ZodIssue[],
    { received, entry }: { received?: string; entry?: string } = {},
): string[] {
    return issues.map((issue) => {
        if (issue.path.length) {
            const where = configPath([key, ...issue.path]);
            return `${PROJECT}:${where} ${issue.message}; fix it with: ${setPathCmd(where, "<value>")}`;
        }
        const got = received === undefined ? "" : ` (got "${received}")`;
        const oneEntry = entry ? `, or one entry at a time: pulumi config set --path ${key}.${entry} <value>` : "";
        return `${PROJECT}:${key} ${issue.message}${got}; fix it with: pulumi config set ${key} <value>${oneEntry}`;
    });
}
