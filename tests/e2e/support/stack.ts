// What the e2e suites read from a stack and the engine: state entries, the Kubernetes objects they name,
// the engine's step list, and the local stack's config.
import * as assert from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { EngineEvent, Stack } from "@pulumi/pulumi/automation";
import { parse as parseYaml } from "yaml";
import { GENERATED_SECRETS, PROJECT } from "../../../config";
import { OpsIO, VerificationVerdict } from "../../../ops/operations";
import { KUBECONFIG, KUBE_CONTEXT, kubectl, missingPrerequisites, REPO_ROOT, resourceArg, toolchainEnv } from "./env";

export interface StateResource {
    urn: string;
    type: string;
    custom?: boolean;
    protect?: boolean;
    parent?: string;
    dependencies?: string[];
    propertyDependencies?: Record<string, string[]>;
    outputs?: Record<string, any>;
}

export interface KubeObjectRef {
    urn: string;
    type: string;
    apiVersion: string;
    kind: string;
    name: string;
    namespace?: string;
    uid?: string;
    labels: Record<string, string>;
    protect: boolean;
}

export interface Step {
    urn: string;
    op: string;
    type: string;
    /** The `app` label of the object the step touches. */
    app?: string;
    /** The properties the engine says differ (for the failure message). */
    diffs?: string[];
}

function isKubeResource(r: StateResource): boolean {
    return r.custom !== false && r.type.startsWith("kubernetes:") && !r.type.startsWith("pulumi:providers:");
}

export async function stateResources(stack: Stack): Promise<StateResource[]> {
    const deployment = await stack.exportStack();
    return (deployment.deployment as { resources?: StateResource[] }).resources ?? [];
}

/** The Kubernetes objects recorded in the stack's state (secret outputs are left encrypted). */
export async function kubeObjectsInState(stack: Stack): Promise<KubeObjectRef[]> {
    return (await stateResources(stack)).filter(isKubeResource).map((r) => {
        const out = r.outputs ?? {};
        const meta = out.metadata ?? {};
        assert.ok(
            typeof out.apiVersion === "string" && typeof out.kind === "string" && typeof meta.name === "string",
            `state of ${r.urn} lacks apiVersion/kind/metadata.name`,
        );
        return {
            urn: r.urn,
            type: r.type,
            apiVersion: out.apiVersion,
            kind: out.kind,
            name: meta.name,
            namespace: typeof meta.namespace === "string" ? meta.namespace : undefined,
            uid: typeof meta.uid === "string" ? meta.uid : undefined,
            labels: (meta.labels ?? {}) as Record<string, string>,
            protect: r.protect === true,
        };
    });
}

export function getLive(obj: Pick<KubeObjectRef, "apiVersion" | "kind" | "name" | "namespace">): any {
    const args = ["get", resourceArg(obj.apiVersion, obj.kind), obj.name, "--ignore-not-found"];
    if (obj.namespace) args.push("-n", obj.namespace);
    const out = kubectl([...args, "-o", "json"]).trim();
    return out === "" ? undefined : JSON.parse(out);
}

/** Non-"same" steps of a preview/up, with the `app` label of the object each one touches. */
export function changedSteps(events: EngineEvent[]): Step[] {
    const steps: Step[] = [];
    for (const e of events) {
        const md = e.resourcePreEvent?.metadata;
        if (!md || md.op === "same" || md.op === "read" || md.type === "pulumi:pulumi:Stack") continue;
        const labels = (md.new?.inputs?.metadata?.labels ??
            md.old?.inputs?.metadata?.labels ??
            md.new?.outputs?.metadata?.labels ??
            md.old?.outputs?.metadata?.labels) as Record<string, string> | undefined;
        steps.push({ urn: md.urn, op: md.op, type: md.type, app: labels?.app, ...(md.diffs?.length ? { diffs: md.diffs } : {}) });
    }
    return steps;
}

/** Steps that delete or replace something (a create of a new resource is not one). */
export const DESTRUCTIVE_OPS = new Set([
    "replace",
    "create-replacement",
    "delete-replaced",
    "delete",
    "discard",
    "discard-replaced",
    "remove-pending-replace",
]);

/**
 * The local stack file's plain config values (Pulumi.local.yaml), as the e2e stacks start from them: on the simulated
 * nodes, with the default images (its maps and lists, which put workloads on the real node, are left out). With
 * `structured`, those too: the same stack on the real node, as the bench's `--real-node` runs it.
 */
export function localStackConfig(opts: { structured?: boolean } = {}): Record<string, string> {
    const file = path.join(REPO_ROOT, "Pulumi.local.yaml");
    const doc = fs.existsSync(file) ? ((parseYaml(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> }) : {};
    const config: Record<string, string> = {};
    for (const [k, v] of Object.entries(doc.config ?? {})) {
        if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") config[k] = String(v);
        // Maps and lists (placement, stand-in images, storage classes) as the JSON the program's config reads; secure
        // values (a local run's generated secrets) never.
        else if (opts.structured && v !== null && typeof v === "object" && !("secure" in v)) config[k] = JSON.stringify(v);
    }
    return config;
}

/**
 * Fails a suite whose prerequisites (toolchain, cluster, policy deps) are missing, naming the command to run, or
 * skips it with ULTRAMARKET_E2E_ALLOW_SKIP=1; then puts the toolchain (pulumi, plugins) on this process's environment.
 */
export function requireLocalEngine(ctx: Mocha.Context): void {
    const missing = missingPrerequisites();
    if (missing) {
        if (process.env.ULTRAMARKET_E2E_ALLOW_SKIP === "1") {
            console.log(`E2E SKIPPED (ULTRAMARKET_E2E_ALLOW_SKIP=1): ${missing}`);
            ctx.skip();
        }
        throw new Error(missing);
    }
    Object.assign(process.env, toolchainEnv());
}

/** The ops commands' output: each line printed (indented) and kept; engine progress is not echoed. */
export function recordingIO(): OpsIO & { lines: string[] } {
    // No `this`: the operations pass io.out and io.stream around as plain functions (OpsIO says `this: void`).
    const lines: string[] = [];
    return {
        lines,
        out(line: string) {
            lines.push(line);
            console.log(`    ${line}`);
        },
        stream() {
            /* the assertions and the timing lines say what happened */
        },
    };
}

/** The local stack runs without in-cluster verification (verifyDeployment false): its report is "skipped". */
export const SKIPPED_VERIFIER = {
    verify: async (): Promise<VerificationVerdict> => ({ status: "skipped", summary: "e2e checks the cluster itself", failures: [] }),
};

/** Random values for the secrets the program would generate with @pulumi/random (not buildable here), by config key. */
export function generatedSecretValues(): Record<string, string> {
    return Object.fromEntries(Object.keys(GENERATED_SECRETS).map((key) => [key, crypto.randomBytes(24).toString("base64url")]));
}

/** A throwaway e2e stack's config: Pulumi.local.yaml's plain values, the local cluster, and the generated secrets. */
export function throwawayStackConfig(
    generated: Record<string, string> = generatedSecretValues(),
    opts: { structured?: boolean } = {},
): Record<string, { value: string; secret?: boolean }> {
    const config: Record<string, { value: string; secret?: boolean }> = {};
    for (const [k, v] of Object.entries({
        ...localStackConfig(opts),
        [`${PROJECT}:kubeconfig`]: KUBECONFIG,
        [`${PROJECT}:kubeContext`]: KUBE_CONTEXT,
    }))
        config[k] = { value: v };
    for (const [key, value] of Object.entries(generated)) config[`${PROJECT}:${key}`] = { value, secret: true };
    return config;
}
