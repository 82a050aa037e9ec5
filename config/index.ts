// The one place configuration is read and validated. Everything else receives a PlatformConfig.
import * as pulumi from "@pulumi/pulumi";
import { parseConfig, UPDATE_ID_ENV } from "./parse";
import { PlatformConfig } from "./platform-config";
import { PROJECT } from "./schema";

export * from "./schema";
export * from "./platform-config";
export * from "./parse";

/** Reads the running stack's `ultramarket:` configuration and validates it. */
export function loadConfig(): PlatformConfig {
    // Which keys are stored encrypted is exposed only internally; without it, every key counts as encrypted.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { isConfigSecret } = require("@pulumi/pulumi/runtime/config") as { isConfigSecret?: (k: string) => boolean };
    const values: Record<string, string> = {};
    const secretKeys = new Set<string>();
    for (const [full, value] of Object.entries(pulumi.runtime.allConfig())) {
        if (!full.startsWith(`${PROJECT}:`)) continue;
        const key = full.slice(PROJECT.length + 1);
        values[key] = value;
        if (!isConfigSecret || isConfigSecret(full)) secretKeys.add(key);
    }
    const updateId = process.env[UPDATE_ID_ENV] || undefined;
    const cfg = parseConfig({ stack: pulumi.getStack(), values, secretKeys, baseDir: process.cwd(), updateId });
    for (const warning of cfg.warnings) void pulumi.log.warn(warning);
    return cfg;
}
