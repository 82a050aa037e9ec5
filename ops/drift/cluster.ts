// Reading and patching live Kubernetes objects for the drift check, behind `ClusterClient` so unit tests use a
// fake. The real client runs kubectl against the stack's cluster (ops/kubectl.ts).
import { Kubectl, KubectlOptions, kubectlOptionsForStack } from "../kubectl";
import type { ManagedFieldsEntry } from "./managed-fields";
import { ObjectRef, objectKey } from "./program-objects";

export interface LiveObject {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string; uid?: string; managedFields?: ManagedFieldsEntry[]; [k: string]: unknown };
    [field: string]: unknown;
}

/** One RFC 6902 operation. */
export interface JsonPatchOp {
    op: "remove" | "test";
    path: string;
    value?: unknown;
}

/** Either the live object (undefined when it does not exist) or why it could not be read. */
export type ReadResult = { object?: LiveObject; error?: undefined } | { object?: undefined; error: string };

export interface ClusterClient {
    /** Where the client reads, for reports: e.g. `context ultramarket-local of .local/kubeconfig`. */
    readonly where: string;
    /** The live objects, in the order of `refs`. */
    read(refs: readonly ObjectRef[]): Promise<ReadResult[]>;
    /** Applies a JSON patch to one object, as field manager `fieldManager`. */
    jsonPatch(ref: ObjectRef, patch: readonly JsonPatchOp[], fieldManager: string): Promise<void>;
}

/** `kubectl get` argument for an object: Kind.version.group/name (core: Kind/name). */
export function kubectlResource(ref: ObjectRef): string {
    const [group, version] = ref.apiVersion.includes("/") ? ref.apiVersion.split("/") : ["", ref.apiVersion];
    return `${group ? `${ref.kind}.${version}.${group}` : ref.kind}/${ref.name}`;
}

export type KubectlClusterOptions = KubectlOptions;

export class KubectlCluster implements ClusterClient {
    readonly where: string;
    private readonly cli: Kubectl;

    constructor(opts: KubectlClusterOptions = {}) {
        this.cli = new Kubectl(opts);
        this.where = this.cli.where;
    }

    /** Batched: one `kubectl get` per namespace (100 objects at a time); a failing batch is retried object by object. */
    async read(refs: readonly ObjectRef[]): Promise<ReadResult[]> {
        const results: ReadResult[] = refs.map(() => ({}));
        const byNamespace = new Map<string, number[]>();
        refs.forEach((r, i) => byNamespace.set(r.namespace ?? "", [...(byNamespace.get(r.namespace ?? "") ?? []), i]));
        for (const [namespace, indexes] of byNamespace) {
            for (let start = 0; start < indexes.length; start += 100) {
                const batch = indexes.slice(start, start + 100);
                try {
                    const found = await this.get(
                        batch.map((i) => refs[i]),
                        namespace,
                    );
                    for (const i of batch) results[i] = { object: found.get(objectKey(refs[i])) };
                } catch {
                    for (const i of batch) {
                        try {
                            results[i] = { object: (await this.get([refs[i]], namespace)).get(objectKey(refs[i])) };
                        } catch (err) {
                            results[i] = { error: firstLine(err) };
                        }
                    }
                }
            }
        }
        return results;
    }

    async jsonPatch(ref: ObjectRef, patch: readonly JsonPatchOp[], fieldManager: string): Promise<void> {
        // On the command line: the patch holds paths, list keys and remove operations, never a value of the object.
        await this.kubectl([
            "patch",
            kubectlResource(ref),
            ...(ref.namespace ? ["-n", ref.namespace] : []),
            "--type=json",
            `--field-manager=${fieldManager}`,
            "-p",
            JSON.stringify(patch),
        ]);
    }

    private async get(refs: readonly ObjectRef[], namespace: string): Promise<Map<string, LiveObject>> {
        const out = await this.kubectl([
            "get",
            ...refs.map(kubectlResource),
            ...(namespace ? ["-n", namespace] : []),
            "--ignore-not-found",
            "--show-managed-fields",
            "-o",
            "json",
        ]);
        const found = new Map<string, LiveObject>();
        if (out.trim() === "") return found;
        const doc = JSON.parse(out) as LiveObject & { items?: LiveObject[] };
        for (const item of doc.kind === "List" ? (doc.items ?? []) : [doc]) {
            found.set(
                objectKey({ apiVersion: item.apiVersion, kind: item.kind, name: item.metadata.name, namespace: item.metadata.namespace }),
                item,
            );
        }
        return found;
    }

    private kubectl(args: string[]): Promise<string> {
        return this.cli.run(args);
    }
}

/** The client for a stack: its `ultramarket:kubeconfig` (relative to the repository) and `ultramarket:kubeContext`. */
export function clusterForStack(config: Record<string, { value?: string } | undefined>, repoRoot: string): KubectlCluster {
    return new KubectlCluster(kubectlOptionsForStack(config, repoRoot));
}

function firstLine(err: unknown): string {
    return (err instanceof Error ? err.message : String(err)).split("\n")[0];
}
