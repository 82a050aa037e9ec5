// The stack's settings as doctor reads them without the Pulumi CLI: Pulumi.yaml and Pulumi.<stack>.yaml, secrets kept encrypted.
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { PROJECT } from "../../config";

/** The stack's `ultramarket:` config as parseConfig reads it, from the stack and project files (secrets stay encrypted). */
export function readStackConfigFile(
    repoRoot: string,
    stackName: string,
): { values: Record<string, string>; secretKeys: Set<string>; exists: boolean } {
    const values: Record<string, string> = {};
    const secretKeys = new Set<string>();
    const take = (key: string, raw: unknown) => {
        if (!key.startsWith(`${PROJECT}:`)) return;
        const name = key.slice(PROJECT.length + 1);
        if (raw && typeof raw === "object" && "secure" in raw) {
            // Encrypted: present, but its plaintext (and length) is only known to Pulumi; a long placeholder stands in.
            values[name] = "x".repeat(64);
            secretKeys.add(name);
        } else if (raw !== undefined && raw !== null) {
            values[name] = typeof raw === "string" ? raw : JSON.stringify(raw);
        }
    };
    const project = path.join(repoRoot, "Pulumi.yaml");
    if (fs.existsSync(project)) {
        const doc = (parseYaml(fs.readFileSync(project, "utf8")) ?? {}) as { config?: Record<string, unknown> };
        for (const [key, decl] of Object.entries(doc.config ?? {})) {
            const d = decl as Record<string, unknown> | undefined;
            take(key, d && typeof d === "object" && !("secure" in d) ? (d.value ?? d.default) : decl);
        }
    }
    const file = path.join(repoRoot, `Pulumi.${stackName}.yaml`);
    const exists = fs.existsSync(file);
    if (exists) {
        const doc = (parseYaml(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
        for (const [key, raw] of Object.entries(doc.config ?? {})) take(key, raw);
    }
    return { values, secretKeys, exists };
}
