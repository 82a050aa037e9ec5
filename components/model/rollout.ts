// What makes a workload roll when — and only when — a setting or secret it reads changes.
// The platform ConfigMap and Secret are updated in place (the provider's enableConfigMapMutable /
// enableSecretMutable), which Kubernetes does not propagate to running pods' environment; so each
// workload's pod template carries a digest of exactly the values it reads, and a new digest is a
// rolling update (maxUnavailable: 0) of that workload alone. The digest of secret values is a keyed HMAC: anyone who
// can read a Deployment sees it, and an unkeyed hash would let them test guessed passwords against it offline.
import { createHash, createHmac } from "crypto";
import * as pulumi from "@pulumi/pulumi";

/** Pod-template annotation holding the digest of the platform ConfigMap values the workload reads. */
export const CONFIG_CHECKSUM_ANNOTATION = "ultramarket.uz/config-checksum";
/** Pod-template annotation holding the digest of the Secret keys the workload reads. */
export const SECRET_CHECKSUM_ANNOTATION = "ultramarket.uz/secret-checksum";

/**
 * A stable digest of key/value pairs (order-independent; keys are part of it, so moving a value between keys counts):
 * SHA-256, or HMAC-SHA256 when a key is given.
 */
export function digest(values: Record<string, string>, hmacKey?: string): string {
    const h = hmacKey === undefined ? createHash("sha256") : createHmac("sha256", hmacKey);
    for (const key of Object.keys(values).sort()) h.update(`${key}\0${values[key]}\0`);
    return h.digest("hex");
}

/** Digest of the ConfigMap values a workload reads (non-secret settings: kept readable in state and diffs). */
export function settingsChecksum(values: Record<string, pulumi.Input<string>>): pulumi.Output<string> {
    return pulumi.all(values).apply((v) => digest(v));
}

/**
 * Digest of the Secret values a workload reads: HMAC-SHA256 keyed with the stack's `rolloutChecksumKey`, which never
 * leaves the Pulumi state, so the annotation cannot be checked against guesses without it. It stays a Pulumi secret
 * (encrypted in state, masked in previews and outputs); only the digest, never a value, reaches the cluster. Undefined
 * when the workload reads no secret, so its template carries no annotation.
 */
export function secretChecksum(
    hmacKey: pulumi.Input<string>,
    values: Partial<Record<string, pulumi.Output<string>>>,
    keys: readonly string[],
): pulumi.Output<string> | undefined {
    if (keys.length === 0) return undefined;
    const read: Record<string, pulumi.Output<string>> = {};
    for (const key of keys) {
        const value = values[key];
        if (value === undefined) throw new Error(`secret key ${key} is read by a workload but not in the platform Secret`);
        read[key] = value;
    }
    return pulumi.secret(pulumi.all([hmacKey, pulumi.all(read)]).apply(([k, v]) => digest(v, k)));
}

/** The pod-template annotations of a workload that reads these settings and secrets (undefined: it reads none). */
export function rolloutAnnotations(checksums: {
    config?: pulumi.Input<string>;
    secret?: pulumi.Input<string>;
}): Record<string, pulumi.Input<string>> | undefined {
    const out: Record<string, pulumi.Input<string>> = {};
    if (checksums.config !== undefined) out[CONFIG_CHECKSUM_ANNOTATION] = checksums.config;
    if (checksums.secret !== undefined) out[SECRET_CHECKSUM_ANNOTATION] = checksums.secret;
    return Object.keys(out).length ? out : undefined;
}

/**
 * Provider annotation for Jobs: one that did not succeed is replaced (re-run) on the next update instead
 * of being awaited again; one that succeeded is left alone until its spec (what it runs) changes.
 */
export const REPLACE_UNREADY = { "pulumi.com/replaceUnready": "true" } as const;

/**
 * For a Service created after its Deployment was awaited to ready. The provider's Service await (v4 await/service.go)
 * only checks that no endpoint address is not-ready, after a fixed 10 s settle per endpoints event; it does not even
 * require one address. Behind an awaited Deployment that is always true, so the await proves nothing and costs 10 s
 * per Service (19 on the critical path's slots). What it would catch, a selector matching no pod, the unit tests rule
 * out (the Service selects exactly its Deployment's pod labels) and the verification Job checks through the Service.
 */
export const AWAITED_THROUGH_ITS_DEPLOYMENT = { "pulumi.com/skipAwait": "true" } as const;
