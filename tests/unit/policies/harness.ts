// Runs CrossGuard policies without the engine: builds the args object the analyzer would pass
// (isType compares `type` with the class's __pulumiType) and collects reported violations.
import type {
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
} from "@pulumi/policy";
import { createPolicies } from "../../../policies/rules";

export const PRODUCTION = "production";

/** A resource as the engine sees it: Pulumi type token, Pulumi name, props and options. */
export interface FakeResource {
    type: string;
    name: string;
    props: Record<string, any>;
    opts?: Partial<PolicyResourceOptions>;
}

export interface Outcome {
    violations: string[];
    /** Set when the policy declared itself not applicable to the input. */
    notApplicable?: string;
}

class NotApplicable extends Error {
    constructor(readonly reason?: string) {
        super(reason);
    }
}

const typeOf = (cls: any): string | undefined => cls?.__pulumiType;

function options(opts: Partial<PolicyResourceOptions> = {}): PolicyResourceOptions {
    return {
        protect: false,
        ignoreChanges: [],
        aliases: [],
        additionalSecretOutputs: [],
        customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
        ...opts,
    };
}

export function urnOf(r: { type: string; name: string }): string {
    return `urn:pulumi:${PRODUCTION}::ultramarket::${r.type}::${r.name}`;
}

/** The Pulumi type token of a manifest: apps/v1 Deployment -> kubernetes:apps/v1:Deployment. */
export function pulumiTypeOf(manifest: { apiVersion: string; kind: string }): string {
    const groupVersion = manifest.apiVersion.includes("/") ? manifest.apiVersion : `core/${manifest.apiVersion}`;
    return `kubernetes:${groupVersion}:${manifest.kind}`;
}

/**
 * A FakeResource from a kubernetes-models object. The model is validated against the Kubernetes
 * OpenAPI schema first, so every fixture is a manifest the API server would accept.
 */
export function fromModel(
    model: { validate(): void; toJSON(): unknown },
    opts?: Partial<PolicyResourceOptions>,
    name?: string,
): FakeResource {
    model.validate();
    const props = JSON.parse(JSON.stringify(model.toJSON()));
    return { type: pulumiTypeOf(props), name: name ?? props.metadata?.name ?? "unnamed", props, opts };
}

const stackTags: ReadonlyMap<string, string> = new Map();

/** Looks a policy up by name in the pack, as seen from the given stack. */
export function policy<T extends ResourceValidationPolicy | StackValidationPolicy>(name: string, stack = PRODUCTION): T {
    const found = createPolicies({ stackName: () => stack }).find((p) => p.name === name);
    if (!found) {
        throw new Error(`no policy named ${name}`);
    }
    return found as T;
}

export async function validateResource(p: ResourceValidationPolicy, r: FakeResource, config: object = {}): Promise<Outcome> {
    const violations: string[] = [];
    const args: ResourceValidationArgs = {
        type: r.type,
        props: r.props,
        urn: urnOf(r),
        name: r.name,
        opts: options(r.opts),
        stackTags,
        isType: (cls) => typeOf(cls) === r.type,
        asType: (cls: any) => (typeOf(cls) === r.type ? r.props : undefined) as any,
        getConfig: <T extends object>() => config as T,
        notApplicable: (reason?: string): never => {
            throw new NotApplicable(reason);
        },
    };
    const validations = Array.isArray(p.validateResource) ? p.validateResource : [p.validateResource!];
    try {
        for (const v of validations) {
            await v(args, (message) => violations.push(message));
        }
    } catch (e) {
        if (e instanceof NotApplicable) {
            return { violations, notApplicable: e.reason ?? "" };
        }
        throw e;
    }
    return { violations };
}

export interface StackOutcome extends Outcome {
    /** The urn each violation was reported against (undefined: the stack as a whole). */
    urns: (string | undefined)[];
}

export async function validateStack(p: StackValidationPolicy, resources: FakeResource[], config: object = {}): Promise<StackOutcome> {
    const violations: string[] = [];
    const urns: (string | undefined)[] = [];
    const policyResources: PolicyResource[] = resources.map((r) => ({
        type: r.type,
        props: r.props,
        urn: urnOf(r),
        name: r.name,
        opts: options(r.opts),
        dependencies: [],
        propertyDependencies: {},
        isType: (cls) => typeOf(cls) === r.type,
        asType: (cls: any) => (typeOf(cls) === r.type ? r.props : undefined) as any,
    }));
    const args: StackValidationArgs = {
        resources: policyResources,
        stackTags,
        getConfig: <T extends object>() => config as T,
        notApplicable: (reason?: string): never => {
            throw new NotApplicable(reason);
        },
    };
    try {
        await p.validateStack(args, (message, urn) => {
            violations.push(message);
            urns.push(urn);
        });
    } catch (e) {
        if (e instanceof NotApplicable) {
            return { violations, urns, notApplicable: e.reason ?? "" };
        }
        throw e;
    }
    return { violations, urns };
}

/** Deep copy with a change applied, so each violating input starts from the compliant one. */
export function variant<T>(value: T, change: (copy: T) => void): T {
    const copy = JSON.parse(JSON.stringify(value)) as T;
    change(copy);
    return copy;
}
