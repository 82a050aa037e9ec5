// Secrets belong in Secrets: never in a ConfigMap, never as a literal env value in a pod spec.
import * as k8s from "@pulumi/kubernetes";
import { ResourceValidationPolicy, validateResourceOfType } from "@pulumi/policy";
import { validateWorkload } from "./lib/context";
import { containersOf, refOf } from "./lib/objects";
import { isSecretLikeKey, secretLikeValue } from "./lib/secrets";

export interface SecretKeysConfig {
    /** Keys (or env var names) reviewed and known not to hold secrets. */
    allowedKeys?: string[];
}

const allowedKeysSchema = {
    properties: {
        allowedKeys: { type: "array" as const, items: { type: "string" as const }, default: [] as string[],
                       description: "Keys reviewed and known not to hold secrets despite their name." },
    },
};

export const secretPolicies: ResourceValidationPolicy[] = [
    {
        name: "no-secrets-in-configmaps",
        description: "ConfigMaps must not hold secret-looking keys (password, secret, token, api key, ...) or credential-shaped values.",
        enforcementLevel: "mandatory",
        configSchema: allowedKeysSchema,
        validateResource: validateResourceOfType(k8s.core.v1.ConfigMap, (cm, args, report) => {
            const ref = refOf("ConfigMap", cm, args.name);
            const allowed = new Set(args.getConfig<SecretKeysConfig>().allowedKeys ?? []);
            for (const [key, value] of Object.entries(cm.data ?? {})) {
                if (allowed.has(key)) {
                    continue;
                }
                if (isSecretLikeKey(key)) {
                    report(`${ref}: key "${key}" looks like a secret; move it to a Secret and reference it with secretKeyRef (or list it in allowedKeys if it is not one).`);
                    continue;
                }
                const what = typeof value === "string" ? secretLikeValue(value) : undefined;
                if (what) {
                    report(`${ref}: key "${key}" holds ${what}; move the value to a Secret and reference it with secretKeyRef.`);
                }
            }
            for (const key of Object.keys(cm.binaryData ?? {})) {
                if (!allowed.has(key) && isSecretLikeKey(key)) {
                    report(`${ref}: binaryData key "${key}" looks like a secret; move it to a Secret.`);
                }
            }
        }),
    },
    {
        name: "no-secrets-in-env-literals",
        description: "Container env vars that look like secrets must come from a Secret (valueFrom.secretKeyRef), not a literal value.",
        enforcementLevel: "mandatory",
        configSchema: allowedKeysSchema,
        validateResource: validateWorkload((w, args, report) => {
            const allowed = new Set(args.getConfig<SecretKeysConfig>().allowedKeys ?? []);
            for (const { container, label } of containersOf(w.podSpec)) {
                for (const env of container.env ?? []) {
                    if (env.value === undefined || env.value === "" || allowed.has(env.name)) {
                        continue;
                    }
                    if (isSecretLikeKey(env.name)) {
                        report(`${w.ref}: ${label} env ${env.name} is a literal value; set it with valueFrom.secretKeyRef from a Secret.`);
                        continue;
                    }
                    const what = secretLikeValue(env.value);
                    if (what) {
                        report(`${w.ref}: ${label} env ${env.name} holds ${what} as a literal; set it with valueFrom.secretKeyRef from a Secret.`);
                    }
                }
            }
        }),
    },
];
