// Secrets belong in Secrets: never in a ConfigMap, never as a literal env value in a pod spec, never on a
// command line (which `ps` and /proc/<pid>/cmdline show to every process on the node).
import * as k8s from "@pulumi/kubernetes";
import { ResourceValidationPolicy, validateResourceOfType } from "@pulumi/policy";
import { validateWorkload } from "./lib/context";
import { Container, containersOf, refOf } from "./lib/objects";
import { isSecretLikeKey, secretLikeValue } from "./lib/secrets";

export interface SecretKeysConfig {
    /** Keys (or env var names) reviewed and known not to hold secrets. */
    allowedKeys?: string[];
}

const allowedKeysSchema = {
    properties: {
        allowedKeys: {
            type: "array" as const,
            items: { type: "string" as const },
            default: [] as string[],
            description: "Keys reviewed and known not to hold secrets despite their name.",
        },
    },
};

/**
 * A variable a command line expands: `$(NAME)` (the kubelet substitutes it before exec), `${NAME}` or `$NAME`
 * (a shell substitutes it, and passes the value on to whatever it runs).
 */
const EXPANSION = /\$(?:\(([A-Za-z_][A-Za-z0-9_]*)\)|\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}|([A-Za-z_][A-Za-z0-9_]*))/g;

/** Every variable a string expands. */
export function expandedVariables(text: string): string[] {
    return [...text.matchAll(EXPANSION)].map((m) => m[1] ?? m[2] ?? m[3]);
}

/** The command lines a container starts: command, args and its probes' and hooks' exec commands, with where each is. */
function commandLines(c: Container): { where: string; argv: string[] }[] {
    const lines = [
        { where: "command", argv: c.command ?? [] },
        { where: "args", argv: c.args ?? [] },
        { where: "startupProbe", argv: c.startupProbe?.exec?.command ?? [] },
        { where: "readinessProbe", argv: c.readinessProbe?.exec?.command ?? [] },
        { where: "livenessProbe", argv: c.livenessProbe?.exec?.command ?? [] },
        { where: "postStart hook", argv: c.lifecycle?.postStart?.exec?.command ?? [] },
        { where: "preStop hook", argv: c.lifecycle?.preStop?.exec?.command ?? [] },
    ];
    return lines.filter((l) => l.argv.length > 0);
}

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
                    report(
                        `${ref}: key "${key}" looks like a secret; move it to a Secret and reference it with secretKeyRef (or list it in allowedKeys if it is not one).`,
                    );
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
                        report(
                            `${w.ref}: ${label} env ${env.name} holds ${what} as a literal; set it with valueFrom.secretKeyRef from a Secret.`,
                        );
                    }
                }
            }
        }),
    },
    {
        name: "no-secrets-in-argv",
        description:
            "No command line (command, args, exec probes and hooks) expands a Secret-sourced or secret-named env var or carries a credential-shaped literal: argv is visible to every process on the node.",
        enforcementLevel: "mandatory",
        configSchema: allowedKeysSchema,
        validateResource: validateWorkload((w, args, report) => {
            const allowed = new Set(args.getConfig<SecretKeysConfig>().allowedKeys ?? []);
            for (const { container, label } of containersOf(w.podSpec)) {
                const fromSecret = new Set((container.env ?? []).filter((e) => e.valueFrom?.secretKeyRef).map((e) => e.name));
                const isSecret = (name: string) => !allowed.has(name) && (fromSecret.has(name) || isSecretLikeKey(name));
                for (const { where, argv } of commandLines(container)) {
                    const text = argv.join(" ");
                    for (const name of new Set(expandedVariables(text).filter(isSecret))) {
                        report(
                            `${w.ref}: ${label} ${where} expands the secret env ${name} onto a command line, where ps and /proc/<pid>/cmdline show it; let the program read it from its environment or from a file written from it (e.g. REDISCLI_AUTH, redis-server <config file>, curl -K -).`,
                        );
                    }
                    const what = secretLikeValue(text);
                    if (what) {
                        report(
                            `${w.ref}: ${label} ${where} carries ${what}; keep it in a Secret and pass it through the environment or a file, never argv.`,
                        );
                    }
                }
            }
        }),
    },
];
