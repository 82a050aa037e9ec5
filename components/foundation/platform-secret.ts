import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { PLATFORM_SECRET_NAME, SECRET_KEYS, SecretKey } from "../model/catalog";
import { labels } from "../model/labels";

export interface PlatformSecretArgs {
    namespace: pulumi.Input<string>;
    /** Values supplied as Pulumi config secrets. */
    provided: Partial<Record<SecretKey, pulumi.Output<string>>>;
    /** Keys to generate with @pulumi/random. */
    generate: SecretKey[];
    /** Protect generated values: replacing one would lock the apps out of an initialised data store. */
    protect: boolean;
    /** The key of the workloads' secret checksums, from config (undefined: generated here, once per stack). */
    checksumKey?: pulumi.Output<string>;
}

/** The runbook's `ultramarket-secrets`: every value from config secrets or @pulumi/random, never from code. */
export class PlatformSecret extends pulumi.ComponentResource {
    public readonly secretName: pulumi.Output<string>;
    /** Every key's value, as Pulumi secrets: readers derive their rollout checksum from the keys they read. */
    public readonly values: Record<SecretKey, pulumi.Output<string>>;
    /**
     * The per-stack key of every pod template's secret checksum (model/rollout.ts secretChecksum). It lives only in the
     * Pulumi state, as a secret, never in the cluster. Its generator has constant inputs, so no setting, rotation,
     * refresh or program change replaces it; protected like the generated values (a new key rolls every reader once).
     */
    public readonly checksumKey: pulumi.Output<string>;

    constructor(name: string, args: PlatformSecretArgs, opts?: pulumi.ComponentResourceOptions) {
        super("ultramarket:platform:PlatformSecret", name, {}, opts);
        const stringData = {} as Record<SecretKey, pulumi.Output<string>>;
        for (const key of SECRET_KEYS) {
            if (args.provided[key]) {
                stringData[key] = pulumi.secret(args.provided[key]);
            } else if (args.generate.includes(key)) {
                const generated = new random.RandomPassword(
                    key.toLowerCase().replace(/_/g, "-"),
                    // Alphanumeric only: these end up in connection strings and shell probes.
                    { length: key.startsWith("JWT") ? 64 : 32, special: false },
                    { parent: this, protect: args.protect },
                );
                stringData[key] = pulumi.secret(generated.result);
            } else {
                // An optional third-party credential left unset outside production: present but empty,
                // so every secretKeyRef resolves and the app can tell "not configured" from "missing".
                stringData[key] = pulumi.secret("");
            }
        }
        // Updated in place (the provider's enableSecretMutable): rotating a key never deletes the Secret
        // nor cascades a replacement into the workloads that reference it.
        const secret = new k8s.core.v1.Secret(
            name,
            {
                metadata: { name: PLATFORM_SECRET_NAME, namespace: args.namespace, labels: labels("ultramarket", "platform") },
                type: "Opaque",
                stringData,
            },
            { parent: this },
        );
        this.secretName = secret.metadata.name;
        this.values = stringData;
        this.checksumKey = pulumi.secret(
            args.checksumKey ??
                new random.RandomPassword("rollout-checksum-key", { length: 64, special: false }, { parent: this, protect: args.protect })
                    .result,
        );
        this.registerOutputs({ secretName: this.secretName });
    }
}
