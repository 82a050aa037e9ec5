// Helpers for npm run local:up / local:down on the `local` stack (opened through ops/workspace.ts).
//   prepare: supplies the secrets the program would otherwise generate with @pulumi/random, whose
//            provider cannot be built from the Go module proxy here (see docs/local-engine.md). Only keys
//            that are unset get a value: random, throwaway, stored encrypted in Pulumi.local.yaml.
//   remove:  removes the `local` stack's state (after the cluster it described was purged) and takes
//            what prepare and Pulumi added (the generated secrets, the encryption salt) back out of
//            Pulumi.local.yaml, which keeps its committed settings and comments.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { parseDocument } from "yaml";
import { GENERATED_SECRETS, PROJECT } from "../config";
import { LOCAL_STACK, openStack } from "../ops/workspace";

async function main(command: string | undefined): Promise<number> {
    const stack = await openStack({ stackName: LOCAL_STACK, create: true });
    if (command === "prepare") {
        const config = await stack.getAllConfig();
        const missing = Object.keys(GENERATED_SECRETS).filter((k) => config[`${PROJECT}:${k}`] === undefined);
        for (const key of missing) {
            await stack.setConfig(`${PROJECT}:${key}`, { value: crypto.randomBytes(24).toString("base64url"), secret: true });
        }
        console.error(
            `[local-stack] ${missing.length ? `set ${missing.length} generated secret(s): ${missing.join(", ")}` : "all generated secrets already set"}`,
        );
        return 0;
    }
    if (command === "remove") {
        await stack.workspace.removeStack(LOCAL_STACK, { force: true, preserveConfig: true });
        const file = path.join(stack.workspace.workDir, `Pulumi.${LOCAL_STACK}.yaml`);
        const doc = parseDocument(fs.readFileSync(file, "utf8"));
        doc.delete("encryptionsalt");
        for (const key of Object.keys(GENERATED_SECRETS)) doc.deleteIn(["config", `${PROJECT}:${key}`]);
        fs.writeFileSync(file, doc.toString());
        console.error(
            `[local-stack] removed the state of stack "${LOCAL_STACK}" and its generated secrets (Pulumi.${LOCAL_STACK}.yaml keeps its settings)`,
        );
        return 0;
    }
    console.error("usage: ts-node scripts/local-stack.ts prepare|remove");
    return 2;
}

main(process.argv[2]).then(
    (code) => process.exit(code),
    (err) => {
        console.error(`[local-stack] ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
    },
);
